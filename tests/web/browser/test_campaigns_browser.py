"""A campaign in a real browser, in Chinese: a marketer creates it from an audience and a
template and submits it; a chain manager approves it, sends it and reads its results."""

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
    from tests.campaigns.helpers import EMAIL, make_audience, make_template
    from tests.consent.helpers import record
    from tests.helpers import add_store, reachable_customer

    add_store(db, "SH01", "上海南京路店")
    people = [reachable_customer(db, store="SH01", tags=["campaign"]) for _ in range(12)]
    record(db, people, "email")
    make_audience(db, name="会员日名单")
    make_template(db, EMAIL)
    make_staff(db, "mia", Role.MARKETER)
    make_staff(db, "boss", Role.CHAIN_MANAGER)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("campaigns-console")
    store = str(tmp / "data" / "analytics.duckdb")
    with serve(tmp, _seed, PATRON_DISPATCH="off", PATRON_ANALYTICS_STORE=store) as (url, _):
        yield url


def test_a_campaign_is_created_approved_sent_and_read_in_chinese(page: Any, site: str) -> None:
    expect = playwright_api.expect
    sign_in(page, site, "mia")
    page.click("#nav a[href='/campaigns']")
    page.wait_for_url(f"{site}/campaigns")
    expect(page.locator("h1")).to_have_text("营销活动")
    page.fill("#campaign-name", "双十二会员日")
    page.select_option("#campaign-audience", label="会员日名单")
    page.select_option("#campaign-template-email", label="会员日邮件")
    page.fill("#campaign-holdout", "25")
    page.click("#campaign-create")
    expect(page.locator("#campaign-status")).to_have_text("草稿")
    page.click("#campaign-submit")
    expect(page.locator("#campaign-status")).to_have_text("待批准")
    expect(page.locator("#campaign-approve")).to_have_count(0)  # a marketer cannot approve
    campaign_url = page.url
    shot(page, "campaign-submitted-zh")

    page.context.clear_cookies()
    sign_in(page, site, "boss")
    page.goto(campaign_url)
    page.click("#campaign-approve")
    expect(page.locator("#campaign-status")).to_have_text("已批准待发送")
    page.click("#campaign-send")
    expect(page.locator("#campaign-status")).to_have_text("已发送")
    expect(page.locator("#verdict")).to_be_visible()
    treated = int(page.locator("#results-treated").inner_text().replace(",", ""))
    held_out = int(page.locator("#results-holdout").inner_text().replace(",", ""))
    assert treated + held_out == 12
    expect(page.locator("h2")).to_contain_text("效果")
    shot(page, "campaign-results-zh")
