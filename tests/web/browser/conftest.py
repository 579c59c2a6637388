"""One Chromium per test module, and a fresh context per test (see helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from tests.web.browser.helpers import CHROMIUM, SCREENSHOTS, playwright_api

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # CI runs the suite on two busy cores: an htmx round trip can take longer than
    # Playwright's 5 s default for expect(), so assertions wait as long as actions do.
    playwright_api.expect.set_options(timeout=15_000)
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
