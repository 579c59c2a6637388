"""The messaging settings refuse what makes no sense, naming the setting; the commands."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from patron.cli import app
from patron.core.db import Database
from patron.core.settings import Settings, get_settings
from patron.engagement.embedded import start_dispatch
from tests.engagement.builders import enqueue
from tests.helpers import reachable_customer


def test_a_negative_cap_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATRON_MESSAGE_CAPS", '[{"limit": -1, "days": 7}]')
    with pytest.raises(ValidationError, match="message_caps"):
        Settings()


def test_quiet_hours_that_start_when_they_end_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATRON_QUIET_HOURS", '[{"start": "21:00", "end": "21:00"}]')
    with pytest.raises(ValidationError, match="start and end must differ"):
        Settings()


def test_caps_and_quiet_hours_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATRON_MESSAGE_CAPS", '[{"limit": 3, "days": 30, "channel": "email"}]')
    monkeypatch.setenv("PATRON_QUIET_HOURS", '[{"start": "22:30", "end": "07:00"}]')
    settings = Settings()
    assert (settings.message_caps[0].limit, settings.message_caps[0].channel) == (3, "email")
    assert settings.quiet_hours[0].channel is None  # every channel


def test_the_worker_says_it_needs_postgresql_instead_of_a_traceback() -> None:
    result = CliRunner().invoke(app, ["worker"])
    assert result.exit_code == 2
    assert "needs PostgreSQL" in result.output


def test_outbox_status_counts_messages_by_status(
    monkeypatch: pytest.MonkeyPatch, sqlite_db: Database
) -> None:
    monkeypatch.setenv("PATRON_DATABASE_URL", sqlite_db.url)
    get_settings.cache_clear()
    enqueue(sqlite_db, [reachable_customer(sqlite_db) for _ in range(3)])
    result = CliRunner().invoke(app, ["outbox", "status"])
    assert result.exit_code == 0, result.output
    assert "queued" in result.output and "3" in result.output


def test_tests_start_no_dispatcher_unless_they_ask(
    monkeypatch: pytest.MonkeyPatch, sqlite_db: Database
) -> None:
    assert start_dispatch(sqlite_db) is None
    monkeypatch.setenv("PATRON_DISPATCH", "embedded")
    get_settings.cache_clear()
    running = start_dispatch(sqlite_db)
    assert running is not None
    running.stop()
    monkeypatch.setenv("PATRON_DISPATCH", "queue")
    get_settings.cache_clear()
    assert start_dispatch(sqlite_db) is None  # the workers deliver
