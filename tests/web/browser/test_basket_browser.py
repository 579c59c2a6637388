"""The basket page and the 360 page's recommendations in a real browser, in Chinese:
Debian's Chromium driven by Playwright, against a temporary SQLite database seeded through
the services (the basket shop of tests/analytics/helpers.py) and one analytics run.
Screenshots land in test-artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from patron.core.db import Database
from patron.staff.roles import Role
from tests.web.browser.helpers import playwright_api, serve, shot, sign_in
from tests.web.helpers.console import make_staff

pytestmark = pytest.mark.browser


def _seed(db: Database) -> int:
    from tests.analytics.helpers import build_basket_shop

    shop = build_basket_shop(db)
    make_staff(db, "analyst", Role.ANALYST)
    return shop.members[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    tmp = tmp_path_factory.mktemp("basket-console")
    store = str(tmp / "data" / "analytics.duckdb")
    with serve(tmp, _seed, PATRON_ANALYTICS_STORE=store) as (url, member):
        yield url, member


def test_an_analyst_filters_the_basket_rules_and_sees_a_members_recommendations(
    page: Any, site: tuple[str, int]
) -> None:
    expect = playwright_api.expect
    url, member = site
    sign_in(page, url, "analyst")

    page.click("#nav a[href='/analytics']")
    page.wait_for_url(f"{url}/analytics")
    page.click("#tab-baskets")
    page.wait_for_url(f"{url}/analytics/baskets")
    expect(page.locator("h1")).to_have_text("购物篮规则")
    page.wait_for_selector("#rules-chart[data-drawn] canvas")  # ECharts drew the rules
    everything = page.locator("tr.rule").count()
    assert everything > 1
    shot(page, "basket-01-rules")

    page.select_option("#rule-store", "A01")
    page.fill("#rule-category", "食品/烘焙")
    page.fill("#rule-min-confidence", "90")
    page.click("#rule-show")
    page.wait_for_url("**/analytics/baskets?store=A01*")
    page.wait_for_selector("#rules-chart[data-drawn] canvas")
    rules = page.locator("tr.rule")
    expect(rules.first).to_be_visible()
    for consequent in rules.locator("td.consequent").all_inner_texts():
        assert consequent.strip() in ("BREAD", "JAM")
    expect(page.locator("#rule-scope")).to_contain_text("2025-09-30")
    shot(page, "basket-02-filtered")

    page.fill("#together-sku", "BREAD")
    page.click("#together-form button")
    expect(page.locator("#bought-together")).to_contain_text("草莓果酱")

    page.goto(f"{url}/customers/{member}")
    section = page.locator("#section-recommendations")
    expect(section.locator("h2")).to_have_text("商品推荐")
    expect(section.locator("tr.recommendation").first).to_contain_text("鲜牛奶")
    shot(page, "basket-03-recommendations")
