"""Periodic jobs that domains hand to ``patron worker``'s job queue (docs/operations.md):
a domain registers its job here when it is imported, and the worker (engagement's, which
knows the queue) runs each registered job its settings switch on, every so often, in a
thread. Core knows neither side, so no domain imports another for it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from patron.core.settings import Settings


@dataclass(frozen=True)
class QueueJob:
    name: str  # the queue task's name ("patron.journeys")
    wanted: Callable[[Settings], bool]  # whether the worker runs it under these settings
    every_s: Callable[[Settings], float]  # how often
    run: Callable[[Any], object]  # given the database; returns something to log


_JOBS: dict[str, QueueJob] = {}


def register_queue_job(job: QueueJob) -> None:
    _JOBS[job.name] = job


def queue_jobs() -> list[QueueJob]:
    return [_JOBS[name] for name in sorted(_JOBS)]


def cron_every(seconds: float) -> str:
    """A six-field cron (seconds first) for "every ``seconds``": a divisor of a minute in
    seconds, else whole minutes dividing an hour, else every minute."""
    s = max(1, round(seconds))
    if s < 60:
        step = next(d for d in range(s, 61) if 60 % d == 0)
        return "* * * * * *" if step == 1 else f"*/{step} * * * * *"
    minutes = s // 60
    if minutes < 60:
        step = next(d for d in range(minutes, 61) if 60 % d == 0)
        return "0 * * * * *" if step == 1 else f"0 */{step} * * * *"
    return "0 0 * * * *"
