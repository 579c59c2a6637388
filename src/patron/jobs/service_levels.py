"""The SLA sweep: warnings, breaches and escalations of open tickets' clocks
(patron.support.sla). Safe to run as often as one likes: each event is written once, so a
second run finds nothing new. The nightly job runs it; between nightly runs, cron can run
``patron support sla-sweep`` every few minutes."""

from __future__ import annotations

import logging
from datetime import datetime

from patron.core.db import Database
from patron.support import sla

log = logging.getLogger("patron.jobs")


def run_sla_sweep(db: Database, *, now: datetime | None = None) -> sla.SweepResult:
    result = db.write(lambda s: sla.sweep(session=s, now=now))
    if result.breaches or result.warnings:
        log.info(
            "SLA sweep: %d warnings, %d breaches, %d to store managers, %d to the chain",
            result.warnings, result.breaches, result.escalated_store, result.escalated_chain,
        )  # fmt: skip
    return result
