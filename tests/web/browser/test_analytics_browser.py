"""The analytics pages in a real browser: Debian's Chromium driven by Playwright (sync API).

One uvicorn server (in a thread) and one browser for the module, against a temporary SQLite
database seeded through the services (the twelve members of tests/analytics/test_pages.py)
and two pipeline runs, so the overview, a segment list and the churn page all have data.
Screenshots land in test-artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from patron.core.db import Database
from patron.staff.roles import Role
from tests.web.browser.helpers import SCREENSHOTS, playwright_api, serve, shot, sign_in
from tests.web.helpers.console import make_staff

pytestmark = pytest.mark.browser


def _seed(db: Database) -> None:
    from tests.analytics.test_pages import build_risk_shop

    build_risk_shop(db)
    make_staff(db, "analyst", Role.ANALYST)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("analytics-console")
    # The store named outright: each test's own settings fixture points PATRON_DATA_DIR
    # elsewhere, and the server must keep reading the store the runs wrote.
    store = str(tmp / "data" / "analytics.duckdb")
    with serve(tmp, _seed, PATRON_ANALYTICS_STORE=store) as (url, _):
        yield url


def test_an_analyst_opens_the_overview_a_segment_list_and_the_risk_page(
    page: Any, site: str
) -> None:
    expect = playwright_api.expect
    sign_in(page, site, "analyst")

    page.click("#nav a[href='/analytics']")
    page.wait_for_url(f"{site}/analytics")
    page.wait_for_selector("#segment-chart[data-drawn] canvas")  # ECharts drew the bars
    page.wait_for_selector("#funnel-chart[data-drawn] canvas")
    page.wait_for_selector("#cohort-chart[data-drawn] canvas")
    expect(page.locator("#segments")).to_contain_text("重要价值客户")
    expect(page.locator("tr.migration-row")).to_have_count(9)
    shot(page, "analytics-01-overview")

    page.click("#stage-lapsed a.open-stage")
    page.wait_for_url("**/analytics/customers?stage=lapsed")
    rows = page.locator("tr.scored-customer")
    expect(rows.first).to_be_visible()
    expect(rows.first).to_contain_text("138****")
    expect(page.locator("#export")).to_have_attribute(
        "href", "/api/v1/analytics/customers/export?stage=lapsed&run_id=2&lang=zh"
    )
    shot(page, "analytics-02-lapsed-customers")
    page.select_option("#group-select", "segment:important_value")  # the page's own filter
    page.click("#group-filter button")
    page.wait_for_url("**/analytics/customers?group=segment%3Aimportant_value")
    expect(page.locator("h1")).to_have_text("重要价值客户")
    expect(page.locator("tr.scored-customer")).to_have_count(6)

    page.click("#analytics-tabs a[href='/analytics/risk']")
    page.wait_for_url(f"{site}/analytics/risk")
    page.wait_for_selector("#clv-chart[data-drawn] canvas")
    expect(page.locator("tr.at-risk-row")).to_have_count(6)
    expect(page.locator("tr.at-risk-row").first.locator("li.reason").first).not_to_be_empty()
    expect(page.locator("tr.top-customer")).to_have_count(12)
    shot(page, "analytics-03-risk")

    page.click("#lang-en")
    expect(page.locator("h1")).to_have_text("Churn risk and CLV")
    expect(page.locator("#at-risk")).to_contain_text("Value at stake")
    shot(page, "analytics-04-risk-english")
    assert not page.errors, page.errors
    names = {p.name for p in SCREENSHOTS.glob("analytics-*.png")}
    assert {"analytics-01-overview.png", "analytics-03-risk.png"} <= names
