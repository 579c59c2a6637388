"""The console's import page: upload, preview and map, run, read the outcome, download."""

from __future__ import annotations

import re
import time
from pathlib import Path

from fastapi.testclient import TestClient

from patron.audit import service as audit
from patron.catalog import service as catalog
from patron.catalog.schemas import StoreCreate
from patron.core.db import Database
from patron.imports import runs
from patron.staff.roles import Role
from tests.imports.helpers import write_till_export
from tests.imports.test_real_exports import TILL_HEADER, _till_rows
from tests.web.helpers.console import console, text_of

MAPPING = {
    "order_id": "订单号",
    "ordered_at": "下单时间",
    "sku": "商品编码",
    "quantity": "数量",
    "unit_price": "单价(元)",
    "amount": "金额(元)",
    "store_name": "店铺",
    "phone": "会员手机",
    "status": "订单状态",
    "after_sale_status": "售后状态",
    "refund_amount": "退款金额",
}


def _upload(client: TestClient, csrf: str, path: Path, kind: str = "orders") -> str:
    response = client.post(
        "/imports/upload",
        params={"name": path.name, "kind": kind},
        content=path.read_bytes(),
        headers={"X-CSRF-Token": csrf, "content-type": "application/octet-stream"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["next"])


def _wait(client: TestClient, run_url: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        page = client.get(run_url + "/progress").text
        if 'id="progress" hx-get' not in page:
            return page
        time.sleep(0.2)
    raise AssertionError("the import did not finish")


def test_an_import_from_upload_to_reconciliation(db: Database, tmp_path: Path) -> None:
    rows = [[*r[:2], "门店甲", *r[3:]] for r in _till_rows()]
    header = [*TILL_HEADER[:2], "店铺", *TILL_HEADER[3:]]  # a store column the table lacks
    path = write_till_export(tmp_path / "三月销售.csv", header, rows)
    with console(db) as (client, csrf):
        preview_url = _upload(client, csrf, path)
        preview = client.get(preview_url)
        assert preview.status_code == 200
        assert "订单号" in preview.text and "表头在第 2 行" in text_of(preview.text)
        assert re.search(r'id="map-order_id">.*?<option value="订单号" selected', preview.text)

        started = client.post(
            preview_url,
            data={
                "csrf_token": csrf,
                "kind": "orders",
                **{f"map_{field}": column for field, column in MAPPING.items()},
                "save_mapping": "1",
                "mapping_name": "收银机导出",
                "create_stores": "1",
            },
            follow_redirects=False,
        )
        assert started.status_code == 303, started.text
        run_url = started.headers["location"]
        done = _wait(client, run_url)
        assert 'id="balanced"' in done and "已对平" in done
        assert 'id="rows-rejected">2<' in done
        report = client.get(run_url + "/report")
        assert report.status_code == 200
        assert report.content.startswith(b"\xef\xbb\xbf") and "数量为空" in report.text
        again = client.get(preview_url, params={"mapping": "收银机导出"})
        assert re.search(r'id="map-store_name">.*?<option value="店铺" selected', again.text)
    saved = db.read(lambda s: runs.saved_mappings(session=s, kind="orders"))
    assert saved["收银机导出"]["store_name"] == "店铺"
    actions = {e.action for e in db.read(lambda s: audit.list_audit(session=s)).items}
    assert {"import.upload", "import.start", "import.mapping_saved",
            "import.report_downloaded"} <= actions  # fmt: skip


def test_an_upload_past_the_limit_is_refused_as_it_arrives(
    db: Database, tmp_path: Path, monkeypatch: object
) -> None:
    import pytest

    from patron.core.settings import get_settings

    patch = pytest.MonkeyPatch()
    patch.setenv("PATRON_IMPORT_MAX_MB", "0.001")  # about a kilobyte
    get_settings.cache_clear()
    try:
        big = tmp_path / "big.csv"
        big.write_text("订单号,商品编码\n" + "A,B\n" * 2000, "utf-8")
        with console(db) as (client, csrf):
            response = client.post(
                "/imports/upload",
                params={"name": "big.csv", "kind": "orders"},
                content=big.read_bytes(),
                headers={"X-CSRF-Token": csrf, "content-type": "application/octet-stream"},
            )
        assert response.status_code == 413 and "MB" in response.json()["error"]
        assert not any((get_settings().data_dir / "imports" / "uploads").glob("*/big.csv"))
    finally:
        patch.undo()
        get_settings.cache_clear()


def test_missing_columns_are_said_on_the_preview_in_chinese(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("单据,物品\n1,A\n", "utf-8")
    with console(db) as (client, csrf):
        preview = client.get(_upload(client, csrf, path))
    assert preview.status_code == 200
    assert "文件缺少这些列" in preview.text and 'id="missing"' in preview.text


def test_only_administrators_and_chain_managers_may_import(db: Database) -> None:
    db.write(lambda s: catalog.create_store(session=s, store_in=StoreCreate(code="X", name="X店")))
    for role, allowed in ((Role.CHAIN_MANAGER, True), (Role.ANALYST, False),
                          (Role.STORE_MANAGER, False)):  # fmt: skip
        with console(
            db, f"u-{role.value}", role, ["X"] if role == Role.STORE_MANAGER else None
        ) as (client, _csrf):
            status = client.get("/imports").status_code
        assert (status == 200) == allowed, role
