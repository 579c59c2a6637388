"""The import page in a real browser, in Chinese: upload a till's GBK export, change the
detected mapping, run it, read the reconciliation, download the rejects report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from patron.core.db import Database
from patron.staff.roles import Role
from tests.imports.helpers import write_till_export
from tests.imports.test_real_exports import TILL_HEADER, _till_rows
from tests.web.browser.helpers import serve, shot, sign_in
from tests.web.helpers.console import make_staff

pytestmark = pytest.mark.browser


def _seed(db: Database) -> None:
    make_staff(db, "manager", Role.CHAIN_MANAGER)


def test_a_chain_manager_imports_a_till_export_and_reads_its_reconciliation(
    page: Any, tmp_path: Path
) -> None:
    # The till names its store column 店铺 (not in the alias table) and its price column
    # 售价, which Patron reads as the unit price already.
    header = [*TILL_HEADER[:2], "店铺", *TILL_HEADER[3:]]
    path = write_till_export(tmp_path / "三月销售明细.csv", header, _till_rows())
    with serve(tmp_path, _seed) as (url, _):
        sign_in(page, url, "manager")
        page.click("#nav a[href='/imports']")
        page.wait_for_selector("#upload-form")
        assert page.inner_text("h1") == "导入数据"
        page.set_input_files("#import-file", str(path))
        page.click("#upload")
        page.wait_for_selector("#preview-rows")
        assert "表头在第 2 行" in page.inner_text("main")
        assert page.input_value("#map-order_id") == "订单号"
        assert page.input_value("#map-store_name") == ""
        page.select_option("#map-store_name", "店铺")
        page.check("#save-mapping")
        page.fill("#mapping-name", "收银机")
        page.check("#create-stores")
        shot(page, "import-preview-zh")
        page.click("#start")
        page.wait_for_selector("#balanced", timeout=60_000)
        text = page.inner_text("#progress")
        assert "已对平" in text and "汇总" in text
        assert page.inner_text("#rows-rejected") == "2"
        assert "上海南京路店" in page.inner_text("#reconciliation")
        assert page.get_attribute("#bar", "value") == "100"
        shot(page, "import-reconciliation-zh")
        with page.expect_download() as download:
            page.click("#report-link")
        saved = tmp_path / "report.csv"
        download.value.save_as(saved)
        report = saved.read_bytes().decode("utf-8-sig").splitlines()
        assert report[0].startswith("行号")
        assert any("数量为空" in line for line in report)
        assert any("十二元 不是数字" in line for line in report)
        page.goto(f"{url}/imports")
        assert "三月销售明细.csv" in page.inner_text("#recent")
    assert page.errors == []
