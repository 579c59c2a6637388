"""The application a test's client talks to: built once per test process and lent out.

FastAPI works out each route's dependencies per application, on its first request: some
0.4 CPU s for Patron's routes, paid by every test that made its own app. Nothing a test
does through a client changes the application itself, and its only tie to a database is
``app.state.db``; so an app is built once for the settings ``create_app`` reads (the body
limit, the metrics token) and pointed at each test's database while that test holds it. A
test that holds one while asking for another gets a second app, never a shared one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI

from patron.core.db import Database
from patron.core.logs import install_log_redaction
from patron.core.settings import get_settings
from patron.web.app import create_app

_free: dict[tuple[float, str | None], list[FastAPI]] = {}


@contextmanager
def lent_app(db: Database) -> Iterator[FastAPI]:
    """An application serving ``db``, as ``create_app(db)`` would build it."""
    settings = get_settings()
    token = settings.metrics_token
    key = (settings.max_request_mb, None if token is None else token.get_secret_value())
    free = _free.setdefault(key, [])
    app = free.pop() if free else create_app(db)
    install_log_redaction()  # as create_app does: this test's log handlers get the filter
    app.state.db = db
    try:
        yield app
    finally:
        app.state.db = None
        free.append(app)
