"""Member rewards in a real browser, in Chinese: a chain manager adds a gift for points and
a limited-time gold-member offer; a cashier's till check for a gold member shows both (the
offer on its line, the gift among those the points pay for). Screenshots land in
test-artifacts/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.settings import get_settings
from patron.staff.roles import Role
from tests.helpers import sign_up
from tests.loyalty.helpers import adjust, sale
from tests.web.browser.helpers import playwright_api, serve, shot, sign_in
from tests.web.helpers.console import make_staff

pytestmark = pytest.mark.browser

PHONE = "13800138000"


@dataclass(frozen=True)
class Site:
    url: str
    member: int


def _seed(db: Database) -> int:
    from patron.catalog import service as catalog
    from patron.catalog.schemas import StoreCreate

    db.write(
        lambda s: catalog.create_store(
            session=s, store_in=StoreCreate(code="A01", name="上海一店", city="上海")
        )
    )
    member = sign_up(db, phone=PHONE, name="王小明", home_store_code="A01")
    now = utcnow()
    sale(db, member, at=now - timedelta(hours=2), now=now,
         lines=[{"sku": "SKU-9", "quantity": 1, "unit_price_fen": 1_000_000}])  # fmt: skip
    adjust(db, member, 2_000, at=now - timedelta(hours=1))
    make_staff(db, "manager", Role.CHAIN_MANAGER)
    make_staff(db, "cashier", Role.CASHIER, ["A01"])
    return member


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with serve(tmp_path_factory.mktemp("rewards-console"), _seed) as (url, member):
        yield Site(url, member)


def _local(days: float) -> str:
    at = utcnow() + timedelta(days=days)
    return at.astimezone(get_settings().zone).strftime("%Y-%m-%dT%H:%M")


def test_a_manager_creates_a_gift_and_an_offer_and_the_cashiers_quote_shows_both(
    page: Any, site: Site
) -> None:
    expect = playwright_api.expect
    sign_in(page, site.url, "manager")
    page.goto(f"{site.url}/loyalty/gifts")
    expect(page.locator("h1")).to_have_text("积分换礼")
    page.fill("#gift-code", "WRAP")
    page.fill("#gift-name", "免费礼品包装")
    page.select_option("#gift-kind", "service")
    page.fill("#gift-points", "500")
    page.fill("#gift-tiers", "gold")
    page.fill("#gift-starts", _local(-1))
    page.fill("#gift-stock", "20")
    page.click("#gift-button")
    expect(page.locator("#done")).to_contain_text("礼品已添加")
    expect(page.locator("#gift-WRAP")).to_contain_text("0 / 20")
    shot(page, "rewards-01-gift")

    page.click("#loyalty-tabs a[href='/loyalty/offers']")
    page.fill("#offer-code", "GOLD80")
    page.fill("#offer-name", "金卡会员价")
    page.fill("#offer-price", "80")
    page.fill("#offer-skus", "SKU-1")
    page.fill("#offer-tiers", "gold, platinum")
    page.fill("#offer-starts", _local(-1))
    page.fill("#offer-ends", _local(7))
    page.click("#offer-button")
    expect(page.locator("#done")).to_contain_text("优惠已创建")
    expect(page.locator("#offer-GOLD80")).to_contain_text("进行中")
    shot(page, "rewards-02-offer")

    page.context.clear_cookies()
    sign_in(page, site.url, "cashier")
    page.goto(f"{site.url}/loyalty/till")
    expect(page.locator("h1")).to_have_text("收银试算")
    page.fill("#till-phone", PHONE)
    page.fill("#till-store", "A01")
    page.fill("#till-lines", "SKU-1 2 100")
    page.click("#till-button")
    expect(page.locator("#quote-tier")).to_have_text("gold")
    expect(page.locator(".quote-offer")).to_contain_text("金卡会员价")
    expect(page.locator(".quote-gift")).to_contain_text("免费礼品包装")
    # ¥200 less the member price's ¥40, less gold's 5 % of the ¥160 left
    expect(page.locator("#quote-payable")).to_contain_text("152.00")
    shot(page, "rewards-03-till")
