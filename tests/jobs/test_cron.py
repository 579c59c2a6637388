"""Scheduled commands from cron take the leader lock too: ``patron nightly`` while a server
process runs the night's job, or after it did, does not run it again; ``patron loyalty
upkeep``, ``patron support sla-sweep`` and ``patron campaigns send-due`` do nothing while
another process holds their lock (core/leader.py, jobs/nightly.py, docs/operations.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from patron.analytics.service import list_runs
from patron.cli import app
from patron.core.db import Database, reset_databases
from patron.core.leader import leader_lock
from patron.core.settings import get_settings
from patron.jobs.nightly import NIGHTLY, current_slot, run_once, scheduled_runs

runner = CliRunner()


@pytest.fixture
def cron(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """The commands use ``db`` (as a cron job configured like the server would), and the
    night starts an hour ago, so the night does not change during the test."""
    monkeypatch.setenv("PATRON_DATABASE_URL", db.url)
    zone = get_settings().zone
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).astimezone(zone)
    monkeypatch.setenv("PATRON_ANALYTICS_NIGHTLY_AT", an_hour_ago.strftime("%H:%M"))
    get_settings.cache_clear()
    yield db
    reset_databases()


def _tonight() -> datetime:
    settings = get_settings()
    return current_slot(datetime.now(UTC), at=settings.analytics_nightly_at, zone=settings.zone)


def _nightly_analytics_runs(db: Database) -> int:
    return sum(1 for r in db.read(lambda s: list_runs(session=s)) if r.trigger == "nightly")


def test_the_night_is_the_latest_scheduled_time_at_or_before_now() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    two_am = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)  # 02:00 on the 7th in Shanghai
    assert current_slot(two_am, at=time(2, 0), zone=shanghai) == two_am
    assert current_slot(two_am + timedelta(hours=23), at=time(2, 0), zone=shanghai) == two_am
    earlier = two_am - timedelta(seconds=1)
    assert current_slot(earlier, at=time(2, 0), zone=shanghai) == two_am - timedelta(days=1)


def test_cron_does_not_run_the_night_a_server_is_running_or_has_run(cron: Database) -> None:
    server = Database(cron.url)  # another connection (PostgreSQL), another descriptor (SQLite)
    try:
        with leader_lock(server, f"job-{NIGHTLY}") as leader:
            assert leader
            busy = runner.invoke(app, ["nightly"])
            upkeep = runner.invoke(app, ["loyalty", "upkeep"])
        assert busy.exit_code == 0, busy.output
        assert "Another process is running the nightly job" in busy.output
        assert upkeep.exit_code == 0, upkeep.output
        assert "Another process is running the nightly job" in upkeep.output
        assert scheduled_runs(cron) == []

        # The server's run of tonight finished; cron comes later the same night.
        assert run_once(server, job=NIGHTLY, slot=_tonight(), work=lambda: None)
        later = runner.invoke(app, ["nightly"])
    finally:
        server.dispose()
    assert later.exit_code == 0, later.output
    assert "has run already" in later.output
    assert [r.outcome for r in scheduled_runs(cron)] == ["done"]
    assert _nightly_analytics_runs(cron) == 0


def test_cron_runs_the_night_once_when_no_server_does(cron: Database) -> None:
    first = runner.invoke(app, ["nightly"])
    again = runner.invoke(app, ["nightly"])
    assert first.exit_code == 0, first.output
    assert "is done" in first.output
    assert "has run already" in again.output
    runs = scheduled_runs(cron)
    assert [(r.slot, r.outcome) for r in runs] == [(_tonight(), "done")]
    assert _nightly_analytics_runs(cron) == 1


def test_periodic_commands_skip_while_another_process_holds_their_lock(cron: Database) -> None:
    other = Database(cron.url)
    try:
        for command, lock in (
            (["support", "sla-sweep"], "job-sla-sweep"),
            (["campaigns", "send-due"], "campaigns-due"),  # the server scheduler's lock too
        ):
            with leader_lock(other, lock):
                skipped = runner.invoke(app, command)
            ran = runner.invoke(app, command)
            assert skipped.exit_code == ran.exit_code == 0, (skipped.output, ran.output)
            assert "Another process" in skipped.output, command
            assert "Another process" not in ran.output, command
    finally:
        other.dispose()
