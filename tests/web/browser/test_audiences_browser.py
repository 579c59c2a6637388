"""The audience builder in a real browser, in Chinese: a marketer adds a tag condition and an
OR group, watches the live count follow each edit, and saves the audience."""

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
    from tests.audiences.helpers import build_shop

    build_shop(db, analytics_run=False)
    make_staff(db, "mia", Role.MARKETER)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("audiences-console")
    store = str(tmp / "data" / "analytics.duckdb")
    with serve(tmp, _seed, PATRON_ANALYTICS_STORE=store) as (url, _):
        yield url


def test_a_marketer_builds_an_audience_in_chinese_and_sees_the_live_count(
    page: Any, site: str
) -> None:
    expect = playwright_api.expect
    sign_in(page, site, "mia")
    page.click("#nav a[href='/audiences']")
    page.wait_for_url(f"{site}/audiences")
    expect(page.locator("h1")).to_have_text("人群")
    page.click("#new-audience")
    page.wait_for_url(f"{site}/audiences/new")
    expect(page.locator("h1")).to_have_text("人群圈选")

    # The first condition is a tag: "vip" → alice and bob.
    page.fill("input[name='values.r.0']", "vip")
    expect(page.locator("#live-count")).to_have_text("2")
    expect(page.locator("#count")).to_contain_text("位客户符合")

    # An OR group: living in 上海 … or having bought at least twice → alice only.
    page.click("#node-r > button.add-group")
    page.wait_for_selector("select[name='kind.r.1.0']")
    page.select_option("select[name='match.r.1']", "any")
    with page.expect_response("**/audiences/builder"):  # the builder redrawn before typing
        page.select_option("select[name='kind.r.1.0']", "profile")
    page.wait_for_selector("select[name='attribute.r.1.0']")
    with page.expect_response("**/audiences/builder"):  # the builder redrawn before typing
        page.select_option("select[name='attribute.r.1.0']", "city")
    page.wait_for_selector("input[name='values.r.1.0']")
    page.fill("input[name='values.r.1.0']", "上海")
    expect(page.locator("#live-count")).to_have_text("1")
    page.click("#node-r-1 > button.add-condition")
    page.wait_for_selector("select[name='kind.r.1.1']")
    with page.expect_response("**/audiences/builder"):  # the builder redrawn before typing
        page.select_option("select[name='kind.r.1.1']", "purchases")
    page.wait_for_selector("input[name='value.r.1.1']")
    page.fill("input[name='value.r.1.1']", "1")
    expect(page.locator("#live-count")).to_have_text("2")  # bob bought once, in 北京
    shot(page, "audiences-01-builder")

    # Take the purchase condition out again: back to alice alone.
    page.click("#node-r-1-1 > button.remove")
    page.wait_for_selector("select[name='kind.r.1.1']", state="detached")
    expect(page.locator("#live-count")).to_have_text("1")

    page.fill("#audience-name", "上海贵宾")
    page.click("#save-audience")
    page.wait_for_url(f"{site}/audiences?saved=*")
    expect(page.locator("#saved")).to_contain_text("上海贵宾")
    expect(page.locator("tr.audience .count")).to_have_text("1")
    shot(page, "audiences-02-list")
    assert page.errors == []
