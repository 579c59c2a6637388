"""/readyz follows its dependencies while the process runs: a database or a job queue that
goes away makes the process unready (503 naming the check) and ready again when it comes back;
/healthz stays 200 throughout (docs/operations.md, "Health and readiness"). The real
PostgreSQL server is taken away through a TCP proxy (tests/web/helpers/proxy.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import make_url

from patron.core.db import Database
from patron.core.settings import get_settings
from patron.engagement.worker import ensure_queue_schema
from tests.web.helpers.app import lent_app
from tests.web.helpers.proxy import TcpProxy

ALL_WELL = {"database": True, "migrations": True, "analytics_store": True}


@contextmanager
def _client(db: Database) -> Iterator[TestClient]:
    with lent_app(db) as app, TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _through(proxy: TcpProxy, url: str) -> str:
    return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(False)


@pytest.fixture
def pg_proxy(pg_db: Database) -> Iterator[TcpProxy]:
    url = make_url(pg_db.url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.mark.postgres
def test_readyz_turns_503_when_the_database_goes_down_and_200_when_it_is_back(
    pg_db: Database, pg_proxy: TcpProxy
) -> None:
    db = Database(_through(pg_proxy, pg_db.url))
    try:
        with _client(db) as client:
            assert client.get("/readyz").json() == {"status": "ready", "checks": ALL_WELL}
            pg_proxy.stop()
            down = client.get("/readyz")
            assert client.get("/healthz").status_code == 200
            pg_proxy.start()
            back = client.get("/readyz")
    finally:
        db.dispose()
    assert down.status_code == 503
    assert down.json() == {
        "status": "not ready",
        "checks": {"database": False, "migrations": False, "analytics_store": True},
    }
    assert back.status_code == 200


def test_readyz_is_503_when_the_job_queue_cannot_be_reached(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATRON_DISPATCH", "queue")
    monkeypatch.setenv(
        "PATRON_QUEUE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/patron?connect_timeout=2"
    )
    get_settings.cache_clear()
    with _client(sqlite_db) as client:
        response = client.get("/readyz")
        assert client.get("/healthz").status_code == 200
    assert response.status_code == 503
    assert response.json()["checks"] == {**ALL_WELL, "queue": False}


@pytest.mark.postgres
def test_readyz_follows_the_job_queue_down_and_back_and_wants_its_tables(
    sqlite_db: Database,
    pg_db: Database,
    pg_proxy: TcpProxy,
    queue_schema: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATRON_DISPATCH", "queue")
    monkeypatch.setenv("PATRON_QUEUE_URL", _through(pg_proxy, pg_db.url))
    monkeypatch.setenv("PATRON_QUEUE_SCHEMA", queue_schema)
    get_settings.cache_clear()
    with _client(sqlite_db) as client:
        no_tables = client.get("/readyz")
        assert ensure_queue_schema(get_settings())
        ready = client.get("/readyz")
        pg_proxy.stop()
        down = client.get("/readyz")
        pg_proxy.start()
        back = client.get("/readyz")
    assert no_tables.status_code == 503
    assert no_tables.json()["checks"] == {**ALL_WELL, "queue": False}
    assert ready.status_code == 200
    assert ready.json()["checks"] == {**ALL_WELL, "queue": True}
    assert down.status_code == 503
    assert down.json()["checks"] == {**ALL_WELL, "queue": False}
    assert back.status_code == 200
