"""Rules → offer → campaign → uplift in a real browser, in Chinese, on the basket shop of
tests/analytics/helpers.py: a marketer makes a bundle offer from a rule, submits the draft
campaign it opens; a chain manager approves and sends it and reads the consequent's uplift
beside the overall one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from patron.core.db import Database
from patron.staff.roles import Role
from tests.web.browser.helpers import playwright_api, serve, shot, sign_in
from tests.web.helpers.console import make_staff

pytestmark = pytest.mark.browser


def _seed(db: Database) -> None:
    from patron import audiences
    from tests.analytics.helpers import build_basket_shop
    from tests.campaigns.helpers import SMS, make_template

    build_basket_shop(db)
    audiences.refresh_audience_store(db=db)
    make_template(db, SMS)
    make_staff(db, "mia", Role.MARKETER)
    make_staff(db, "boss", Role.CHAIN_MANAGER)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("bundle-console")
    store = str(tmp / "data" / "analytics.duckdb")
    with serve(tmp, _seed, PATRON_DISPATCH="off", PATRON_ANALYTICS_STORE=store) as (url, _):
        yield url


def test_a_rule_becomes_an_offer_a_campaign_and_a_measured_uplift_in_chinese(
    page: Any, site: str
) -> None:
    expect = playwright_api.expect
    sign_in(page, site, "mia")
    page.goto(f"{site}/analytics/baskets")
    expect(page.locator("h1")).to_have_text("购物篮规则")
    page.select_option("#bundle-template", label="会员日短信")
    page.fill("#bundle-amount", "3")
    page.fill("#bundle-holdout", "50")
    rule = page.locator("tr.rule").first
    consequent = rule.locator("td.consequent").inner_text().strip()
    shot(page, "bundle-01-rules")
    rule.locator("button.make-offer").click()
    page.wait_for_url(f"{site}/campaigns/*")
    expect(page.locator("#campaign-status")).to_have_text("草稿")
    expect(page.locator("h1")).to_contain_text(f"⇒ {consequent}")
    expect(page.locator("#campaign-focus-sku")).to_have_text(consequent)
    page.click("#campaign-submit")
    expect(page.locator("#campaign-status")).to_have_text("待批准")
    campaign_url = page.url

    page.context.clear_cookies()
    sign_in(page, site, "boss")
    page.goto(campaign_url)
    page.click("#campaign-approve")
    page.click("#campaign-send")
    expect(page.locator("#campaign-status")).to_have_text("已发送")
    expect(page.locator("#verdict")).to_be_visible()
    expect(page.locator("table#focus-uplift")).to_be_visible()
    bought = page.locator("#focus-treated-bought")
    expect(bought).to_have_text("0")  # the shop's orders are all before the send
    expect(page.locator("h3")).to_contain_text(f"{consequent} 的销售")
    treated = int(page.locator("#results-treated").inner_text().replace(",", ""))
    assert treated > 0
    shot(page, "bundle-02-results")
