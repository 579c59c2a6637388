"""The nightly run's timing, on a fixed clock: no test sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from patron.core.db import Database
from patron.jobs.nightly import NightlyScheduler, is_due, next_run_after, start_nightly

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_the_next_run_is_the_next_time_the_local_clock_shows_two() -> None:
    # 17:00 UTC is 01:00 in Shanghai: today's 02:00 is still ahead.
    before = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    assert next_run_after(before, at=time(2, 0), zone=SHANGHAI) == datetime(
        2026, 11, 23, 18, 0, tzinfo=UTC
    )
    # Exactly 02:00 local has passed once it is 02:00: the next is tomorrow's.
    on_time = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    assert next_run_after(on_time, at=time(2, 0), zone=SHANGHAI) == datetime(
        2026, 11, 24, 18, 0, tzinfo=UTC
    )


def test_a_time_missing_on_a_spring_forward_day_runs_just_after_the_gap() -> None:
    new_york = ZoneInfo("America/New_York")
    # 8 March 2026: 02:00 to 03:00 does not exist in New York.
    at = next_run_after(datetime(2026, 3, 8, 5, 0, tzinfo=UTC), at=time(2, 30), zone=new_york)
    assert at == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT
    with pytest.raises(ValueError, match="aware"):
        next_run_after(datetime(2026, 3, 8, 5, 0), at=time(2, 0), zone=new_york)


def test_the_scheduler_runs_once_when_due_and_then_waits_for_the_next_night() -> None:
    now = [datetime(2026, 11, 23, 17, 59, tzinfo=UTC)]  # 01:59 in Shanghai
    runs: list[datetime] = []
    scheduler = NightlyScheduler(
        job=lambda: runs.append(now[0]), at=time(2, 0), zone=SHANGHAI, clock=lambda: now[0]
    )
    assert not is_due(now[0], scheduler.next_at)
    assert scheduler.seconds_to_wait() == 60.0
    assert scheduler.tick() is False and runs == []

    now[0] = datetime(2026, 11, 23, 18, 0, 5, tzinfo=UTC)
    assert scheduler.seconds_to_wait() == 0.0
    assert scheduler.tick() is True and len(runs) == 1
    assert scheduler.tick() is False and len(runs) == 1  # not twice the same night
    assert scheduler.next_at == datetime(2026, 11, 24, 18, 0, tzinfo=UTC)


def test_a_failing_job_is_logged_and_tried_the_next_night(caplog: pytest.LogCaptureFixture) -> None:
    now = [datetime(2026, 11, 23, 18, 0, tzinfo=UTC)]

    def broken() -> None:
        raise RuntimeError("no disk")

    scheduler = NightlyScheduler(job=broken, at=time(2, 0), zone=SHANGHAI, clock=lambda: now[0])
    now[0] = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
    assert scheduler.tick() is True
    assert "nightly analytics run failed" in caplog.text
    assert scheduler.next_at == datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def test_the_scheduler_stays_off_when_the_setting_says_so(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from patron.core.settings import get_settings

    monkeypatch.setenv("PATRON_ENV", "development")
    monkeypatch.setenv("PATRON_ANALYTICS_NIGHTLY", "false")
    get_settings.cache_clear()
    assert start_nightly(sqlite_db) is None

    monkeypatch.setenv("PATRON_ANALYTICS_NIGHTLY", "true")
    monkeypatch.setenv("PATRON_ANALYTICS_NIGHTLY_AT", "03:30")
    get_settings.cache_clear()
    scheduler = start_nightly(sqlite_db)
    assert scheduler is not None
    try:
        assert scheduler.next_at.astimezone(SHANGHAI).time() == time(3, 30)
    finally:
        scheduler.stop()
