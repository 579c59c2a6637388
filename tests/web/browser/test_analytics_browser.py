"""The analytics pages in a real browser: Debian's Chromium driven by Playwright (sync API).

One uvicorn server (in a thread) and one browser for the module, against a temporary SQLite
database seeded through the services (the twelve members of tests/analytics/test_pages.py)
and two pipeline runs, so the overview, a segment list and the churn page all have data.
Screenshots land in test-artifacts/screenshots/.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from patron.core.db import Database
from patron.core.migrate import upgrade
from patron.core.settings import get_settings
from patron.staff.roles import Role
from tests.web.console import PASSWORD, make_staff

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"

if not Path(CHROMIUM).exists():
    pytest.skip(
        f"the browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium; "
        "CI installs it)",
        allow_module_level=True,
    )
playwright_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    from patron.web.app import create_app
    from tests.analytics.test_pages import build_risk_shop

    tmp = tmp_path_factory.mktemp("analytics-console")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PATRON_ENV", "test")
        env.setenv("PATRON_DATA_DIR", str(tmp / "data"))
        # named outright: each test's own settings fixture points PATRON_DATA_DIR elsewhere,
        # and the server must keep reading the store the runs below wrote
        env.setenv("PATRON_ANALYTICS_STORE", str(tmp / "data" / "analytics.duckdb"))
        env.setenv("PATRON_ARGON2_MEMORY_KIB", "8192")
        env.setenv("PATRON_ARGON2_TIME_COST", "1")
        env.delenv("PATRON_DATABASE_URL", raising=False)
        get_settings.cache_clear()
        db = Database(f"sqlite:///{tmp / 'patron.db'}")
        upgrade(db)
        build_risk_shop(db)
        make_staff(db, "analyst", Role.ANALYST)
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(db), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the console server did not start")
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(10)
            db.dispose()
            get_settings.cache_clear()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) and a page that records console errors."""
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.errors = []
    tab.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: tab.errors.append(str(e)))
    yield tab
    context.close()


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_an_analyst_opens_the_overview_a_segment_list_and_the_risk_page(
    page: Any, site: str
) -> None:
    expect = playwright_api.expect
    page.goto(f"{site}/sign-in")
    page.fill("#username", "analyst")
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_selector("#who")

    page.click("#nav a[href='/analytics']")
    page.wait_for_url(f"{site}/analytics")
    page.wait_for_selector("#segment-chart[data-drawn] canvas")  # ECharts drew the bars
    page.wait_for_selector("#funnel-chart[data-drawn] canvas")
    page.wait_for_selector("#cohort-chart[data-drawn] canvas")
    expect(page.locator("#segments")).to_contain_text("重要价值客户")
    expect(page.locator("tr.migration-row")).to_have_count(9)
    _shot(page, "analytics-01-overview")

    page.click("#stage-lapsed a.open-stage")
    page.wait_for_url("**/analytics/customers?stage=lapsed")
    rows = page.locator("tr.scored-customer")
    expect(rows.first).to_be_visible()
    expect(rows.first).to_contain_text("138****")
    expect(page.locator("#export")).to_have_attribute(
        "href", "/api/v1/analytics/customers/export?stage=lapsed&run_id=2"
    )
    _shot(page, "analytics-02-lapsed-customers")
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
    _shot(page, "analytics-03-risk")

    page.click("#lang-en")
    expect(page.locator("h1")).to_have_text("Churn risk and CLV")
    expect(page.locator("#at-risk")).to_contain_text("Value at stake")
    _shot(page, "analytics-04-risk-english")
    assert not page.errors, page.errors
    names = {p.name for p in SCREENSHOTS.glob("analytics-*.png")}
    assert {"analytics-01-overview.png", "analytics-03-risk.png"} <= names
