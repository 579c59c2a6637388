"""A merge suggestion in a real browser: a store's till posts a sale naming two stores'
members, and a chain manager reviews both profiles masked side by side, in Chinese, and
merges them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from patron.core.db import Database
from patron.staff.roles import Role
from tests.helpers import post_order, sign_up
from tests.web.browser.helpers import playwright_api, serve, shot, sign_in
from tests.web.helpers.api import make_api_key, order_body
from tests.web.helpers.console import make_staff

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Site:
    url: str
    till_key: str
    a_customer: int
    b_customer: int


def _seed(db: Database) -> tuple[str, int, int]:
    from patron.catalog import service as catalog
    from patron.catalog.schemas import StoreCreate

    for code, name in (("A01", "上海一店"), ("B01", "杭州一店")):
        db.write(
            lambda s, c=code, n=name: catalog.create_store(
                session=s, store_in=StoreCreate(code=c, name=n, city=n[:2])
            )
        )
    a = sign_up(db, phone="13800138000", name="王小明", home_store_code="A01")
    b = sign_up(db, member_card="VIP-B-0001", name="王晓明", home_store_code="B01")
    post_order(db, "B-1", store_code="B01", customer={"id": b})
    make_staff(db, "zhang", Role.CHAIN_MANAGER)
    return make_api_key(db, Role.CASHIER, ["A01"]), a, b


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with serve(tmp_path_factory.mktemp("suggestions"), _seed) as (url, (key, a, b)):
        yield Site(url, key, a, b)


def test_a_chain_manager_merges_two_profiles_a_till_sale_said_are_one(
    page: Any, site: Site
) -> None:
    expect = playwright_api.expect
    # the till of store A sells to someone giving A's phone and B's member card
    sale = order_body(
        "A-100",
        source="pos-a01",
        store_code="A01",
        customer={"phone": "13800138000", "member_card": "VIP-B-0001"},
    )
    with httpx.Client(
        base_url=site.url, headers={"Authorization": f"Bearer {site.till_key}"}
    ) as till:
        posted = till.post("/api/v1/orders", json=sale)
    assert posted.status_code == 201, posted.text
    assert posted.json()["customer_id"] == site.a_customer  # the till's own member

    sign_in(page, site.url, "zhang")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.click("#nav a[href='/merge-suggestions']")
    expect(page.locator("h1")).to_have_text("合并建议")
    card = page.locator("section.suggestion")
    expect(card).to_have_count(1)
    expect(card.locator(".reason")).to_contain_text("order pos-a01/A-100")
    names = card.locator("td.name")
    expect(names.nth(0)).to_have_text("王**")
    expect(names.nth(1)).to_have_text("王**")
    expect(card.locator("td.identities").nth(0)).to_contain_text("138****8000")
    expect(card.locator("td.identities").nth(1)).to_contain_text("****0001")
    expect(card.locator("td.orders")).to_have_text(["1", "1"])
    text = page.content()
    for secret in ("13800138000", "VIP-B-0001", "王小明", "王晓明"):
        assert secret not in text, secret
    shot(page, "20-merge-suggestion-side-by-side")

    card.locator(".decision-reason").fill("电话回访确认为同一顾客")
    card.locator("button.accept").click()
    expect(page.locator("#done")).to_have_text("两份档案已合并。")
    expect(page.locator("#no-suggestions")).to_be_visible()
    shot(page, "21-merge-suggestion-merged")

    page.click("#tab-accepted")
    decided = page.locator("section.suggestion .decided")
    expect(decided).to_contain_text("已合并")
    expect(decided).to_contain_text("电话回访确认为同一顾客")

    page.goto(f"{site.url}/customers/{site.a_customer}")
    expect(page.locator("tr.identity-member_card")).to_contain_text("****0001")
    expect(page.locator("details.order")).to_have_count(2)  # B's sale came along
    page.goto(f"{site.url}/customers/{site.b_customer}")
    expect(page.locator("#merged")).to_contain_text("此档案已合并到另一档案。")
    shot(page, "22-merged-profile")
    assert not page.errors, page.errors
