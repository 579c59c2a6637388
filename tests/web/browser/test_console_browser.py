"""The console in a real browser: Debian's Chromium driven by Playwright (sync API).

One uvicorn server (in a thread) and one browser for the module, against a temporary
SQLite database seeded through the services: stores A01 and B01, customers, orders, an
administrator and a cashier of store B. Screenshots land in test-artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from patron.core.clock import utcnow
from patron.core.db import Database
from patron.staff.roles import Role
from tests.helpers import post_order, sign_up
from tests.web.browser.helpers import playwright_api, serve, shot, sign_in
from tests.web.helpers.console import make_staff

pytestmark = pytest.mark.browser

A_PHONE = "13800138000"


@dataclass(frozen=True)
class Site:
    url: str
    a_customer: int
    b_customer: int


def _seed(db: Database) -> tuple[int, int]:
    from patron.catalog import service as catalog
    from patron.catalog.schemas import StoreCreate

    for code, name in (("A01", "上海一店"), ("B01", "杭州一店")):
        db.write(
            lambda s, c=code, n=name: catalog.create_store(
                session=s, store_in=StoreCreate(code=c, name=n, city=n[:2])
            )
        )
    a = sign_up(db, phone=A_PHONE, member_card="VIP-A-0001", name="王小明", home_store_code="A01")
    b = sign_up(db, phone="13900139000", name="李华", home_store_code="B01")
    recent = utcnow() - timedelta(days=2)
    line = {"sku": "SKU-1", "name": "苹果", "quantity": 2, "unit_price_fen": 1500}
    for n in range(6):
        post_order(
            db, f"A-{n}", store_code="A01", customer={"id": a}, lines=[line],
            at=recent - timedelta(days=n * 3),
        )  # fmt: skip
        post_order(db, f"B-{n}", store_code="B01", customer={"id": b}, at=recent - timedelta(n))
    make_staff(db, "admin", Role.ADMIN)
    make_staff(db, "cashier-b", Role.CASHIER, ["B01"])
    return a, b


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with serve(tmp_path_factory.mktemp("console"), _seed) as (url, (a, b)):
        yield Site(url, a, b)


def test_sign_in_search_open_reveal_and_find_it_in_the_audit_log(page: Any, site: Site) -> None:
    expect = playwright_api.expect
    page.goto(f"{site.url}/")
    assert "/sign-in" in page.url  # a stranger is sent to sign in
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")  # despite en-US
    shot(page, "01-sign-in")
    sign_in(page, site.url, "admin")
    page.wait_for_selector("#sales-chart[data-drawn]")  # ECharts drew from the JSON block
    expect(page.locator("#orders")).to_have_text("12")
    shot(page, "02-dashboard")

    page.click("#nav a[href='/customers']")
    page.fill("#q", A_PHONE)
    page.click("#search-button")  # HTMX swaps the results in place
    row = page.locator(".customer-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("138****8000")
    assert A_PHONE not in page.locator("#results").inner_text()
    shot(page, "03-search-by-phone")

    page.click(".open-customer")
    page.wait_for_url(f"**/customers/{site.a_customer}")
    expect(page.locator("tr.identity-phone")).to_contain_text("138****8000")
    expect(page.locator("details.order")).to_have_count(6)
    expect(page.locator("#section-loyalty")).to_be_visible()
    shot(page, "04-customer-360")

    page.fill("#reveal-reason", "顾客来电核对手机号")
    page.click("#reveal-button")
    expect(page.locator("#revealed .revealed-phone")).to_have_text("+8613800138000")
    shot(page, "05-revealed-phone")

    page.fill("#tag-name", "常客")
    page.click("#tag-form button")
    expect(page.locator("#tags .tag")).to_contain_text("常客")

    page.click("#nav a[href='/audit']")
    page.fill("input[name=action]", "customer.reveal")
    page.click("#audit-filter button")
    entry = page.locator("tr.audit-customer-reveal")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("顾客来电核对手机号")
    expect(entry).to_contain_text(f"顾客 #{site.a_customer}")
    shot(page, "06-audit-log")

    page.click("#lang-en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#nav")).to_contain_text("Audit log")
    expect(page.locator("#role")).to_have_text("Administrator")
    shot(page, "07-english")
    page.click("#lang-zh")
    expect(page.locator("#nav")).to_contain_text("审计日志")
    assert not [e for e in page.errors if "Content Security Policy" in e], page.errors
    assert not page.errors, page.errors


def test_a_store_b_cashier_is_refused_a_store_a_customer(page: Any, site: Site) -> None:
    expect = playwright_api.expect
    sign_in(page, site.url, "cashier-b")
    # home, customers, tasks (calls to make), loyalty, service, stores
    expect(page.locator("#nav a")).to_have_count(6)
    response = page.goto(f"{site.url}/customers/{site.a_customer}")
    assert response is not None and response.status == 404
    expect(page.locator("#error-page")).to_be_visible()
    assert A_PHONE not in page.content() and "138****8000" not in page.content()
    shot(page, "08-cashier-refused")
    page.goto(f"{site.url}/customers?q={A_PHONE}")
    expect(page.locator("#no-results")).to_be_visible()
    own = page.goto(f"{site.url}/customers/{site.b_customer}")
    assert own is not None and own.status == 200
    expect(page.locator("#reveal-form")).to_have_count(0)  # cashiers may not reveal
    shot(page, "09-cashier-own-customer")
