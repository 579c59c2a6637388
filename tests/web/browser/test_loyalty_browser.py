"""The loyalty pages in a real browser: Debian's Chromium driven by Playwright (sync API).

One uvicorn server (in a thread) and one browser for the module, against a temporary SQLite
database seeded through the services: store A01, a member with orders, an administrator.
An administrator creates a 满100减20 coupon template, issues it to the member, adjusts the
member's points with a reason on the 360 page, and sees both there. Screenshots land in
test-artifacts/screenshots/.
"""

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
from tests.helpers import post_order, sign_up
from tests.web.browser.helpers import SCREENSHOTS, playwright_api, serve, shot, sign_in
from tests.web.helpers.console import make_staff

pytestmark = pytest.mark.browser


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
    member = sign_up(db, phone="13800138000", name="王小明", home_store_code="A01")
    line = {"sku": "SKU-1", "name": "苹果", "quantity": 2, "unit_price_fen": 1500}
    for n in range(3):
        at = utcnow() - timedelta(days=2 + n)
        post_order(db, f"A-{n}", store_code="A01", customer={"id": member}, lines=[line], at=at)
    make_staff(db, "admin", Role.ADMIN)
    return member


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with serve(tmp_path_factory.mktemp("loyalty-console"), _seed) as (url, member):
        yield Site(url, member)


def test_an_admin_creates_issues_and_adjusts_and_sees_both_on_the_360_page(
    page: Any, site: Site
) -> None:
    expect = playwright_api.expect
    sign_in(page, site.url, "admin")

    page.click("#nav a[href='/loyalty']")  # the menu item 会员
    page.wait_for_url("**/loyalty")
    expect(page.locator("#earn-rate")).to_contain_text("每实付 1 元得 1 积分")
    page.wait_for_selector("#tier-chart[data-drawn]")  # ECharts drew the bar from its JSON
    shot(page, "loyalty-01-programme")

    page.click("#loyalty-tabs a[href='/loyalty/coupon-templates']")
    page.fill("#template-code", "M100-20")
    page.fill("#template-name", "满100减20")
    page.select_option("#template-kind", "amount_off")
    page.fill("#template-threshold", "100")
    page.fill("#template-amount-off", "20")
    page.fill("#template-days", "30")
    page.click("#template-button")
    expect(page.locator("#created")).to_contain_text("M100-20")
    row = page.locator("#template-M100-20")
    expect(row).to_contain_text("满¥100.00减¥20.00")

    page.select_option("#issue-template", "M100-20")
    page.fill("#issue-customer", str(site.member))
    page.click("#issue-button")
    expect(page.locator("#issued")).to_contain_text(f"#{site.member}")
    expect(page.locator("#template-M100-20 .template-issued")).to_have_text("1")
    shot(page, "loyalty-02-coupon-templates")

    page.click("#issued a")  # open the customer
    page.wait_for_url(f"**/customers/{site.member}")
    expect(page.locator("#coupons .member-coupon")).to_contain_text("满100减20")
    expect(page.locator("#points-available")).to_have_text("0")
    expect(page.locator("#adjust-staff")).to_have_value("admin")
    page.fill("#adjust-points", "300")
    page.fill("#adjust-reason", "会员日活动补发积分")
    page.click("#adjust-button")  # HTMX swaps the section in place
    expect(page.locator("#adjust-done")).to_be_visible()
    expect(page.locator("#points-available")).to_have_text("300")
    expect(page.locator("#ledger .entry-reason").first).to_contain_text("会员日活动补发积分")
    expect(page.locator("#coupons .member-coupon")).to_contain_text("满100减20")
    assert page.url.endswith(f"/customers/{site.member}")  # no full page load

    page.fill("#adjust-points", "-5000")
    page.fill("#adjust-reason", "扣减过多")
    page.click("#adjust-button")
    expect(page.locator("#adjust-points-error")).to_contain_text("300")
    expect(page.locator("#points-available")).to_have_text("300")
    shot(page, "loyalty-03-customer-360")

    page.reload()  # what was stored, not just what was swapped in
    expect(page.locator("#points-available")).to_have_text("300")
    expect(page.locator("#ledger")).to_contain_text("会员日活动补发积分")
    expect(page.locator("#coupons")).to_contain_text("满100减20")
    assert not [e for e in page.errors if "Content Security Policy" in e], page.errors
    assert not [e for e in page.errors if "422" not in e], page.errors
    names = {p.name for p in SCREENSHOTS.glob("loyalty-*.png")}
    assert {"loyalty-01-programme.png", "loyalty-03-customer-360.png"} <= names


def test_an_admin_creates_a_lottery_and_checks_its_draws(page: Any, site: Site) -> None:
    expect = playwright_api.expect
    zone = get_settings().zone
    sign_in(page, site.url, "admin")
    page.goto(f"{site.url}/loyalty/lotteries")
    page.fill("#lottery-code", "SPRING")
    page.fill("#lottery-name", "春季抽奖")
    page.fill(
        "#lottery-starts",
        (utcnow() - timedelta(days=1)).astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
    )
    page.fill(
        "#lottery-ends", (utcnow() + timedelta(days=9)).astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    )
    first = page.locator("tr.prize-input").first
    first.locator("input[name=prize_code]").fill("P50")
    first.locator("input[name=prize_name]").fill("50积分")
    first.locator("input[name=prize_points]").fill("50")
    first.locator("input[name=prize_chance]").fill("30")
    page.click("#lottery-button")
    page.wait_for_url("**/loyalty/lotteries/SPRING")
    expect(page.locator("#prize-P50")).to_contain_text("30%")
    expect(page.locator("#seed-hidden")).to_be_visible()
    page.click("#check-button")  # HTMX fetches the check into the page
    expect(page.locator("#check-outcome")).to_contain_text("0")
    shot(page, "loyalty-04-lottery")
    assert not page.errors, page.errors


def test_an_admin_changes_the_programme_terms_and_sees_them_in_force(page: Any, site: Site) -> None:
    expect = playwright_api.expect
    sign_in(page, site.url, "admin")
    page.goto(f"{site.url}/loyalty")
    page.fill("#earn_points_per_yuan", "2")
    page.check("input[name='member_weekdays'][value='5']")  # Saturday too
    page.locator("#tier-form-2 input[name='tier_discount']").fill("8")  # gold: 8 % off
    page.fill("#reason", "冬季双倍积分")
    shot(page, "loyalty-05-change-terms")
    page.click("#save-terms")
    page.wait_for_url("**/loyalty?saved=1")
    expect(page.locator("#saved")).to_be_visible()
    expect(page.locator("#earn-rate")).to_contain_text("每实付 1 元得 2 积分")
    expect(page.locator("#member-days")).to_contain_text("星期六")
    expect(page.locator("#tier-gold")).to_contain_text("8%")
    expect(page.locator("#terms-history .terms-change").first).to_contain_text("冬季双倍积分")
    shot(page, "loyalty-06-terms-saved")
