"""Several server processes, one nightly run: three real processes try the same night's job
at once, and exactly one runs it (core/leader.py, jobs/nightly.py ``run_once``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from patron.analytics.service import list_runs
from patron.core.db import Database
from patron.core.leader import leader_lock
from patron.jobs.nightly import run_once, scheduled_runs

SLOT = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)

# One process imports Patron once for the module and forks, for each test, the three
# processes that try the night: each is a process of its own, with its own connection; each
# connects, then waits for the start file, so all three reach the lock together. (Three fresh
# interpreters per test spent most of the test's CPU importing Patron three times.)
_FORKER = """
import json, os, sys, time, traceback
from datetime import datetime
from pathlib import Path
from patron.core.db import Database
from patron.jobs.nightly import NIGHTLY, nightly_job, run_once

def one_process(url, start, slot, number):
    db = Database(url)
    db.read(lambda s: None)  # connected before the start
    Path(f"{start}.{number}").touch()
    while not start.exists():
        time.sleep(0.005)
    ran = run_once(db, job=NIGHTLY, slot=slot, work=nightly_job(db))
    return "ran" if ran else "skipped"

for line in sys.stdin:
    url, start, slot = json.loads(line)
    children = []
    for number in range(3):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            code = 0
            try:
                answer = one_process(url, Path(start), datetime.fromisoformat(slot), number)
            except BaseException:
                answer, code = traceback.format_exc(), 1
            os.write(write_end, answer.encode())
            os._exit(code)
        os.close(write_end)
        children.append((pid, read_end))
    results = []
    for pid, read_end in children:
        with os.fdopen(read_end, "rb") as handle:
            answer = handle.read().decode()
        _, status = os.waitpid(pid, 0)
        results.append([os.waitstatus_to_exitcode(status), answer])
    print(json.dumps(results), flush=True)
"""


@pytest.fixture(scope="module")
def forker() -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", _FORKER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PATRON_ENV": "test"},
    )
    yield process
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=60)


def _three_processes(db: Database, tmp_path: Path, forker: subprocess.Popen[str]) -> list[str]:
    start = tmp_path / "start"
    assert forker.stdin is not None and forker.stdout is not None
    forker.stdin.write(json.dumps([db.url, str(start), SLOT.isoformat()]) + "\n")
    forker.stdin.flush()
    deadline = time.monotonic() + 300
    while not all(Path(f"{start}.{n}").exists() for n in range(3)):
        assert time.monotonic() < deadline, "the three processes did not connect"
        time.sleep(0.005)
    start.touch()
    results = json.loads(forker.stdout.readline())
    for code, answer in results:
        assert code == 0, answer
    return [answer for _, answer in results]


def test_three_processes_run_the_nights_job_exactly_once(
    db: Database, tmp_path: Path, forker: subprocess.Popen[str]
) -> None:
    outputs = _three_processes(db, tmp_path, forker)
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
