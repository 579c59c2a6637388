"""Several server processes, one nightly run: three real processes try the same night's job
at once, and exactly one runs it (core/leader.py, jobs/nightly.py ``run_once``)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from patron.analytics.service import list_runs
from patron.core.db import Database
from patron.core.leader import leader_lock
from patron.jobs.nightly import run_once, scheduled_runs

SLOT = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)

# Each process waits for the start file, so all three reach the lock together.
_PROCESS = """
import sys, time
from datetime import datetime
from pathlib import Path
from patron.core.db import Database
from patron.jobs.nightly import NIGHTLY, nightly_job, run_once
url, start, slot = sys.argv[1], Path(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
db = Database(url)
db.read(lambda s: None)  # connected before the start
while not start.exists():
    time.sleep(0.005)
ran = run_once(db, job=NIGHTLY, slot=slot, work=nightly_job(db))
print("ran" if ran else "skipped")
"""


def _three_processes(db: Database, tmp_path: Path) -> list[str]:
    start = tmp_path / "start"
    env = {**os.environ, "PATRON_ENV": "test"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _PROCESS, db.url, str(start), SLOT.isoformat()],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(3)
    ]
    start.touch()
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        outputs.append(out.strip())
    return outputs


def test_three_processes_run_the_nights_job_exactly_once(db: Database, tmp_path: Path) -> None:
    outputs = _three_processes(db, tmp_path)
    assert sorted(outputs) == ["ran", "skipped", "skipped"]
    runs = scheduled_runs(db)
    assert [(r.slot, r.outcome) for r in runs] == [(SLOT, "done")]
    nightly = [r for r in db.read(lambda s: list_runs(session=s)) if r.trigger == "nightly"]
    assert len(nightly) == 1


def test_a_second_process_is_refused_the_lock_while_the_leader_holds_it(db: Database) -> None:
    other = Database(db.url)  # another engine: another connection (PostgreSQL), fd (SQLite)
    try:
        with leader_lock(db, "job-test") as first, leader_lock(other, "job-test") as second:
            assert (first, second) == (True, False)
        with leader_lock(other, "job-test") as again:
            assert again is True  # released when the leader's block ended
    finally:
        other.dispose()


def test_a_night_already_run_is_not_run_again_and_a_failure_is_recorded(db: Database) -> None:
    done: list[str] = []
    assert run_once(db, job="test", slot=SLOT, work=lambda: done.append("first")) is True
    assert run_once(db, job="test", slot=SLOT, work=lambda: done.append("again")) is False
    assert done == ["first"]

    def broken() -> None:
        raise RuntimeError("no disk")

    later = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)
    with pytest.raises(RuntimeError, match="no disk"):
        run_once(db, job="test", slot=later, work=broken)
    assert [r.outcome for r in scheduled_runs(db, job="test")] == ["done", "failed"]


def test_the_scheduler_hands_the_guard_the_night_it_was_due_for() -> None:
    from datetime import time
    from zoneinfo import ZoneInfo

    from patron.jobs.nightly import NightlyScheduler

    now = [datetime(2026, 12, 6, 18, 0, 7, tzinfo=UTC)]  # 02:00:07 in Shanghai
    guarded: list[datetime] = []
    scheduler = NightlyScheduler(
        job=lambda: None,
        at=time(2, 0),
        zone=ZoneInfo("Asia/Shanghai"),
        clock=lambda: now[0],
        guard=lambda slot, job: guarded.append(slot),
    )
    scheduler.next_at = SLOT
    assert scheduler.tick() is True
    assert guarded == [SLOT]  # the scheduled instant, the same in every process
