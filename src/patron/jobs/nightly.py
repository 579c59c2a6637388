"""The nightly job: the analytics run, then the loyalty programme's upkeep, in a background
thread of the server (started and stopped with it by web/app.py's lifespan).

The timing rules are plain functions of a clock (:func:`next_run_after`, :func:`is_due`) so
tests check them with a fixed time; :class:`NightlyScheduler` only waits and calls them.
Several server processes (``patron serve --workers N``, or several machines on one
PostgreSQL) each run a scheduler; :func:`run_once` makes one of them the leader for the
night (core/leader.py: an advisory lock on PostgreSQL, a file lock on SQLite) and records
the run in ``scheduled_run``, so the others, at once or later that night, skip it. With the
server's nightly run turned off, ``patron nightly`` from cron runs the same job the same way
(:func:`run_tonight`); ``patron loyalty upkeep`` takes the same lock. See docs/operations.md.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron import analytics, audiences, loyalty
from patron.core.db import Database
from patron.core.leader import leader_lock
from patron.jobs.events import archive_events
from patron.jobs.models import ScheduledRun
from patron.jobs.privacy import privacy_job
from patron.jobs.service_levels import run_sla_sweep

log = logging.getLogger(__name__)

_MAX_WAIT_SECONDS = 60.0


def next_run_after(now: datetime, *, at: time, zone: ZoneInfo) -> datetime:
    """The first instant strictly after ``now`` when the local clock in ``zone`` shows ``at``.

    On a day when ``at`` does not exist (a clock moved forward) the run happens just after
    the gap; when it exists twice, at the first of them.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    local_day = now.astimezone(zone).date()
    for offset in range(0, 3):
        day = local_day + timedelta(days=offset)
        candidate = _local_instant(day, at, zone)
        if candidate > now:
            return candidate
    raise AssertionError("unreachable: a later day always has the time")  # pragma: no cover


def _local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    # fold=0: the first of a repeated wall time; a time in a gap reads with the offset
    # before the gap, which lands just after it.
    return (
        datetime.combine(day, at.replace(tzinfo=None), tzinfo=zone).replace(fold=0).astimezone(UTC)
    )


def is_due(now: datetime, next_at: datetime) -> bool:
    return now >= next_at


Clock = Callable[[], datetime]
Job = Callable[[], object]
# Runs the job for the scheduled instant, or decides not to (another process has it).
Guard = Callable[[datetime, Job], object]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class NightlyScheduler:
    """Runs ``job`` once a day at ``at`` local time until stopped.

    The first run is the next time the clock shows ``at`` after start: starting the server
    does not run the pipeline. A job that raises is logged and tried again the next night.
    """

    def __init__(
        self,
        *,
        job: Job,
        at: time,
        zone: ZoneInfo,
        clock: Clock = _utc_now,
        guard: Guard | None = None,
    ) -> None:
        self._job = job
        self._guard = guard
        self._at = at
        self._zone = zone
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.next_at = next_run_after(clock(), at=at, zone=zone)

    def tick(self) -> bool:
        """Run the job if it is due; returns whether it ran. The thread calls this."""
        now = self._clock()
        if not is_due(now, self.next_at):
            return False
        slot, self.next_at = self.next_at, next_run_after(now, at=self._at, zone=self._zone)
        log.info("nightly analytics run starting")
        try:
            if self._guard is None:
                self._job()
            else:
                self._guard(slot, self._job)
        except Exception:
            log.exception("nightly analytics run failed; next at %s", self.next_at.isoformat())
            return True
        log.info("nightly analytics run finished; next at %s", self.next_at.isoformat())
        return True

    def seconds_to_wait(self) -> float:
        remaining = (self.next_at - self._clock()).total_seconds()
        return max(0.0, min(_MAX_WAIT_SECONDS, remaining))

    def _loop(self) -> None:
        while not self._stop.wait(self.seconds_to_wait()):
            self.tick()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="patron-nightly", daemon=True)
        self._thread.start()
        log.info("nightly analytics scheduled at %s", self.next_at.isoformat())

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def nightly_job(db: Database) -> Job:
    """The nightly work: the analytics pipeline (skipped, logged, if a run is going), then
    the loyalty programme's upkeep (``patron.loyalty.upkeep.run_upkeep``), then the
    audience facts (demographics, tags, tiers and points, scores) in the analytics store,
    then the SLA sweep (``run_sla_sweep``), the privacy work and the events' retention."""

    def job() -> None:
        try:
            analytics.run_analytics(db=db, trigger="nightly")
        except analytics.AnalyticsBusy as exc:
            log.info("nightly analytics run skipped: %s", exc)
        except Exception:  # recorded as a failed run; the loyalty upkeep still runs
            log.exception("nightly analytics run failed")
        loyalty.run_upkeep(db=db)
        try:
            audiences.refresh_facts(db=db)
        except analytics.AnalyticsBusy as exc:
            log.info("audience facts not refreshed: %s", exc)
        except Exception:  # the next night (or a send's refresh) tries again
            log.exception("refreshing the audience facts failed")
        try:
            run_sla_sweep(db)
        except Exception:
            log.exception("nightly SLA sweep failed")
        try:
            privacy_job(db)  # reminders of requests due, then retention (docs/privacy.md)
        except Exception:
            log.exception("nightly privacy work failed")
        try:
            archive_events(db)  # older events to the analytics store (docs/events.md)
        except analytics.AnalyticsBusy as exc:
            log.info("events not archived tonight: %s", exc)
        except Exception:
            log.exception("archiving old events failed")

    return job


def start_nightly(db: Database) -> NightlyScheduler | None:
    """Start the nightly scheduler if the settings ask for it (never under tests)."""
    from patron.core.settings import get_settings

    settings = get_settings()
    if not settings.analytics_nightly or settings.env == "test":
        return None
    scheduler = NightlyScheduler(
        job=nightly_job(db),
        at=settings.analytics_nightly_at,
        zone=settings.zone,
        guard=lambda slot, job: run_once(db, job=NIGHTLY, slot=slot, work=job),
    )
    scheduler.start()
    return scheduler


NIGHTLY = "nightly"


def run_once(db: Database, *, job: str, slot: datetime, work: Job) -> bool:
    """Run ``work`` as ``job``'s run for ``slot`` if this process is the leader and no process
    has run it yet; returns whether it ran here. The run is recorded (done or failed); a
    failure is raised after recording it."""
    return try_run(db, job=job, slot=slot, work=work) == "ran"


Outcome = Literal["ran", "busy", "already_run"]


def try_run(db: Database, *, job: str, slot: datetime, work: Job) -> Outcome:
    """``run_once``, saying why it did not run: another process holds the leader lock
    (``busy``) or the slot's run is recorded (``already_run``)."""
    holder = f"{socket.gethostname()}:{os.getpid()}"[:120]
    with leader_lock(db, f"job-{job}") as leader:
        if not leader:
            log.info("%s run for %s: another process is running it", job, slot.isoformat())
            return "busy"
        run_id = db.write(lambda s: _claim(s, job=job, slot=slot, holder=holder))
        if run_id is None:
            log.info("%s run for %s: already run", job, slot.isoformat())
            return "already_run"
        outcome = "failed"
        try:
            work()
            outcome = "done"
        finally:
            db.write(lambda s: _finish(s, run_id, outcome))
    return "ran"


def current_slot(now: datetime, *, at: time, zone: ZoneInfo) -> datetime:
    """The latest instant at or before ``now`` when the local clock in ``zone`` showed ``at``:
    the night a run started now belongs to."""
    local_day = now.astimezone(zone).date()
    for offset in range(0, 3):
        candidate = _local_instant(local_day - timedelta(days=offset), at, zone)
        if candidate <= now:
            return candidate
    raise AssertionError("unreachable: an earlier day always has the time")  # pragma: no cover


def run_tonight(db: Database, *, now: datetime | None = None) -> tuple[Outcome, datetime]:
    """The nightly job from outside the server (``patron nightly``, from cron): this night's
    run, as the leader, recorded like the server's, so a server running it too, or having run
    it tonight, means it does not run twice. The night is the latest
    ``PATRON_ANALYTICS_NIGHTLY_AT`` at or before ``now``."""
    from patron.core.settings import get_settings

    settings = get_settings()
    slot = current_slot(now or _utc_now(), at=settings.analytics_nightly_at, zone=settings.zone)
    return try_run(db, job=NIGHTLY, slot=slot, work=nightly_job(db)), slot


def _claim(session: Session, *, job: str, slot: datetime, holder: str) -> int | None:
    taken = session.scalar(
        select(ScheduledRun.id).where(ScheduledRun.job == job, ScheduledRun.slot == slot)
    )
    if taken is not None:
        return None
    run = ScheduledRun(job=job, slot=slot, holder=holder, started_at=_utc_now())
    session.add(run)
    session.flush()
    return run.id


def _finish(session: Session, run_id: int, outcome: str) -> None:
    run = session.get(ScheduledRun, run_id)
    if run is not None:
        run.finished_at = _utc_now()
        run.outcome = outcome


def scheduled_runs(db: Database, *, job: str = NIGHTLY) -> list[ScheduledRun]:
    """The recorded runs of ``job``, oldest first."""
    return db.read(
        lambda s: list(
            s.scalars(select(ScheduledRun).where(ScheduledRun.job == job).order_by(ScheduledRun.id))
        )
    )
