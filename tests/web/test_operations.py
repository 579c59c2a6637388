"""Operations: /healthz, /readyz (database, migrations, analytics store) and the Prometheus
metrics behind their token (web/operations.py, docs/operations.md)."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from patron.core.db import Database
from patron.core.logs import JsonFormatter, uvicorn_log_config
from patron.core.migrate import downgrade
from patron.core.settings import get_settings
from patron.jobs.nightly import NIGHTLY, nightly_job, run_once
from tests.web.helpers.api import api_client
from tests.web.helpers.app import lent_app

TOKEN = "scrape-me-3f9a"


@contextmanager
def _client(db: Database) -> Iterator[TestClient]:
    with lent_app(db) as app, TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_healthz_and_readyz_answer_anyone_when_all_is_well(db: Database) -> None:
    with api_client(db, role=None) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": True, "migrations": True, "analytics_store": True},
    }


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    nowhere = Database("postgresql+psycopg://postgres@127.0.0.1:1/patron?connect_timeout=2")
    gone = tmp_path / "gone"
    sqlite = Database(f"sqlite:///{gone / 'patron.db'}")  # its folder removed below
    shutil.rmtree(gone)
    try:
        for db in (nowhere, sqlite):
            with _client(db) as client:
                response = client.get("/readyz")
                assert client.get("/healthz").status_code == 200  # the process is up
            assert response.status_code == 503
            checks = response.json()["checks"]
            assert (checks["database"], checks["migrations"]) == (False, False)
    finally:
        nowhere.dispose()
        sqlite.dispose()


def test_readyz_is_503_while_the_migrations_are_behind_or_the_store_is_unreadable(
    sqlite_db: Database, tmp_path: Path
) -> None:
    store = get_settings().resolved_analytics_store
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_bytes(b"not a duckdb file at all")
    with _client(sqlite_db) as client:
        assert client.get("/readyz").json()["checks"]["analytics_store"] is False
        store.unlink()
        downgrade(sqlite_db, "-1")
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": True,
        "migrations": False,
        "analytics_store": True,
    }


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PATRON_METRICS_TOKEN", TOKEN)
    get_settings.cache_clear()
    return TOKEN


def test_metrics_need_their_token_and_no_other_credential(db: Database) -> None:
    with api_client(db) as client:  # an administrator's API key opens everything else
        assert client.get("/metrics").status_code == 403  # no token is set: metrics are off
    with _client(db) as client:
        assert client.get("/metrics").status_code == 401


def test_metrics_count_requests_by_route_template_and_read_the_database(
    db: Database, token: str
) -> None:
    run_once(db, job=NIGHTLY, slot=datetime(2026, 12, 6, 18, tzinfo=UTC), work=nightly_job(db))
    with _client(db) as client:
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        client.get("/language/en", follow_redirects=False)
        client.get("/language/zh", follow_redirects=False)
        client.get("/no/such/page/17")
        scraped = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert scraped.status_code == 200
    lines = scraped.text.splitlines()

    def value(prefix: str) -> float:
        found = [line for line in lines if line.startswith(prefix)]
        assert found, prefix
        return float(found[0].rsplit(" ", 1)[1])

    language = 'patron_http_requests_total{method="GET",route="/language/{code}"'
    assert value(language) >= 2.0  # both languages under one template
    assert value('patron_http_requests_total{method="GET",route="<unmatched>",status="404"}') >= 1
    assert value('patron_http_request_duration_seconds_count{method="GET",route="/language/') >= 2
    assert value("patron_database_up") == 1.0
    assert value('patron_nightly_step_seconds{step="extract"}') >= 0.0
    assert value("patron_nightly_last_finished_timestamp_seconds") > 0
    assert "# HELP patron_outbox_messages" in scraped.text
    assert "# HELP patron_import_runs" in scraped.text
    assert "/no/such/page/17" not in scraped.text  # concrete paths never become labels


def test_metrics_still_answer_when_the_database_does_not(token: str) -> None:
    nowhere = Database("postgresql+psycopg://postgres@127.0.0.1:1/patron?connect_timeout=2")
    try:
        with _client(nowhere) as client:
            scraped = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    finally:
        nowhere.dispose()
    assert scraped.status_code == 200
    assert "patron_database_up 0.0" in scraped.text


def test_json_logs_are_one_redacted_object_a_line() -> None:
    record = logging.LogRecord(
        "patron.test", logging.WARNING, __file__, 1, "call %s back", ("13800138000",), None
    )
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "patron.test"
    assert entry["message"] == "call [phone] back" and "\n" not in line
    config = uvicorn_log_config("json")
    assert config is not None and config["formatters"]["json"]["()"].endswith("JsonFormatter")
    assert uvicorn_log_config("text") is None
