"""The privacy officer's queue in a real browser, in Chinese: an access request answered
with the zip of the person's data, and an erasure request refused while a legal hold
stands, then done once it is lifted."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from patron.core.db import Database
from patron.privacy import erasure
from patron.privacy.schemas import HoldIn
from patron.staff.roles import Role
from tests.helpers import ACTOR, post_order, sign_up
from tests.privacy.helpers import file_request
from tests.web.browser.helpers import playwright_api, serve, shot, sign_in
from tests.web.helpers.console import make_staff

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Site:
    url: str
    access: int
    erase: int


def _seed(db: Database) -> tuple[int, int]:
    asks = sign_up(db, phone="13800138000", email="xm.wang@example.com", name="王小明")
    post_order(db, "P-1", customer={"id": asks})
    leaves = sign_up(db, phone="13900139000", name="李四")
    db.write(
        lambda s: erasure.place_hold(
            session=s, customer_id=leaves, hold_in=HoldIn(reason="消费纠纷待仲裁"), actor=ACTOR
        )
    )
    make_staff(db, "officer", Role.PRIVACY_OFFICER)
    access = file_request(db, asks, kind="access").id
    return access, file_request(db, leaves, kind="erasure").id


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with serve(tmp_path_factory.mktemp("privacy"), _seed) as (url, (access, erase)):
        yield Site(url, access, erase)


def test_a_privacy_officer_answers_an_access_and_an_erasure_request(
    page: Any, site: Site, tmp_path: Path
) -> None:
    expect = playwright_api.expect
    sign_in(page, site.url, "officer")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.goto(f"{site.url}/privacy")
    expect(page.locator(f"#request-{site.access}")).to_contain_text("查阅与复制")
    expect(page.locator(f"#request-{site.erase}")).to_contain_text("删除")

    # the access request: the zip of everything held, from the request's page
    page.click(f"#request-{site.access} a[href='/privacy/requests/{site.access}']")
    with page.expect_download() as caught:
        page.click("#export button[type=submit]")
    saved = tmp_path / "copy.zip"
    caught.value.save_as(saved)
    with zipfile.ZipFile(io.BytesIO(saved.read_bytes())) as archive:
        data = json.loads(archive.read("data.json"))
    assert data["customer"][0]["name"] == "王小明" and len(data["orders"]) == 1

    # the erasure request: the legal hold refuses it, with its reason, until lifted
    page.goto(f"{site.url}/privacy")
    page.click(f"#request-{site.erase} a[href='/privacy/requests/{site.erase}']")
    expect(page.locator("#holds")).to_contain_text("消费纠纷待仲裁")
    page.click("#erase-now")
    expect(page.locator("#error")).to_contain_text("暂不能删除：法律保留 消费纠纷待仲裁")
    expect(page.locator("#status")).to_have_text("新请求")
    shot(page, "privacy-erasure-held")
    page.click("#holds button")
    expect(page.locator("#holds")).to_have_count(0)
    page.click("#erase-now")
    expect(page.locator("#status")).to_have_text("完成")
    expect(page.locator("#outcome")).to_contain_text("数据密钥已销毁")
