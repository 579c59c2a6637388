"""The SLA sweep as the jobs run it: a second run writes nothing more."""

from __future__ import annotations

from patron.core.db import Database
from patron.jobs import run_sla_sweep
from patron.support.sla import SweepResult
from tests.support.helpers import open_ticket, policy, seed_holidays, shanghai


def test_the_sweep_is_idempotent(db: Database) -> None:
    seed_holidays(db)
    policy(db, first_reply_minutes=60, resolve_minutes=120)
    open_ticket(db, opened_at=shanghai(2026, 3, 3, 9, 0))
    late = shanghai(2026, 3, 3, 15, 0)
    first = run_sla_sweep(db, now=late)
    assert first.breaches == 2 and first.escalated_store == 2
    assert run_sla_sweep(db, now=late) == SweepResult()
