"""What every browser test shares: Debian's Chromium through Playwright, the console served
for real by uvicorn in a thread against a database seeded through the services, screenshots
as test artifacts, signing in.

Importing this module skips the importing test module when Chromium or Playwright is
missing (CI installs both). The ``browser`` and ``page`` fixtures live in conftest.py.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from patron.core.db import Database
from patron.core.migrate import upgrade
from patron.core.settings import get_settings
from tests.web.helpers.console import PASSWORD

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"

if not Path(CHROMIUM).exists():
    pytest.skip(
        f"the browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium; "
        "CI installs it)",
        allow_module_level=True,
    )
playwright_api = pytest.importorskip("playwright.sync_api")

T = TypeVar("T")


@functools.cache
def _migrated_template() -> Path:
    """A migrated SQLite file, made once per test process; each served console copies it
    (migrating takes seconds, a copy milliseconds)."""
    folder = Path(tempfile.mkdtemp(prefix="patron-console-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    db = Database(f"sqlite:///{folder / 'patron.db'}")
    upgrade(db)
    db.dispose()
    return folder / "patron.db"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(tmp: Path, seed: Callable[[Database], T], **env: str) -> Iterator[tuple[str, T]]:
    """A fresh SQLite database under ``tmp``, migrated and seeded by ``seed``, served by
    uvicorn in a thread; yields the site's URL and what ``seed`` returned. ``env`` adds
    settings (PATRON_… variables) for the server's lifetime."""
    import uvicorn

    from patron.web.app import create_app

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATRON_ENV", "test")
        patch.setenv("PATRON_DATA_DIR", str(tmp / "data"))
        patch.setenv("PATRON_ARGON2_MEMORY_KIB", "1024")
        patch.setenv("PATRON_ARGON2_TIME_COST", "1")
        patch.delenv("PATRON_DATABASE_URL", raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        tmp.mkdir(parents=True, exist_ok=True)
        shutil.copy(_migrated_template(), tmp / "patron.db")
        db = Database(f"sqlite:///{tmp / 'patron.db'}")
        seeded = seed(db)
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
            yield f"http://127.0.0.1:{port}", seeded
        finally:
            server.should_exit = True
            thread.join(10)
            db.dispose()
            get_settings.cache_clear()


def shot(page: Any, name: str) -> None:
    """Save a screenshot as a test artifact, and check it really is one."""
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000, f"{path.name} is empty"


def sign_in(page: Any, url: str, username: str) -> None:
    page.goto(f"{url}/sign-in")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_selector("#who")
