"""Privacy's scheduled work: reminders of data-subject requests due soon, and the
retention policies (both nightly, after the loyalty upkeep; see docs/privacy.md)."""

from __future__ import annotations

import logging

from patron import privacy
from patron.core.actor import system_actor
from patron.core.db import Database
from patron.core.settings import get_settings
from patron.privacy.schemas import PrivacyRequestRead

log = logging.getLogger(__name__)


def remind_due_requests(
    db: Database, *, within_days: int | None = None
) -> list[PrivacyRequestRead]:
    """Open requests due within ``within_days`` (the setting by default) not yet reminded
    of today, logged for the privacy officer; running it twice a day lists them once."""
    days = get_settings().privacy_remind_days if within_days is None else within_days
    due = db.write(lambda s: privacy.requests_due_soon(session=s, within_days=days))
    for found in due:
        log.warning(
            "privacy request %s (%s, customer %s) is due on %s%s",
            found.id,
            found.kind,
            found.customer_id,
            found.due_on,
            " and overdue" if found.overdue else "",
        )
    return due


def privacy_job(db: Database) -> None:
    """Reminders, then the retention policies in force."""
    remind_due_requests(db)
    outcome = privacy.run_retention(db=db, actor=system_actor("retention"))
    if outcome.counts:
        log.info("retention run: %s", outcome.counts)
