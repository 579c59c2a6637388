"""The events' retention (nightly, after the privacy work): events received more than
PATRON_EVENTS_KEEP_DAYS ago move from the operational database to the analytics store's
``event_archive`` table (docs/events.md).

Each batch is written to the store first and then deleted from the database; a run cut
short between the two writes the batch again next time (the archive's rows of the batch
are replaced, never doubled).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from sqlalchemy.orm import Session

from patron import analytics, events, privacy
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.settings import get_settings

log = logging.getLogger(__name__)

BATCH = 20_000


def _delete(ids: list[int], session: Session) -> int:
    return events.delete_archived_events(session=session, ids=ids)


def archive_events(
    db: Database,
    *,
    now: datetime | None = None,
    keep_days: int | None = None,
    store: Path | None = None,
) -> int:
    """Move the events older than ``keep_days`` (the setting by default) to the analytics
    store; returns how many moved. AnalyticsBusy while an analytics run holds the store."""
    days = keep_days or get_settings().events_keep_days
    before = (now or utcnow()) - timedelta(days=days)
    moved = 0
    with analytics.writing_store(store) as duck:
        while True:
            rows = db.read(
                lambda s: events.events_to_archive(session=s, before=before, limit=BATCH)
            )
            if not rows:
                break
            analytics.store_archived_events(duck, rows)
            moved += db.write(partial(_delete, [int(r["id"]) for r in rows]))
    if moved:
        log.info("moved %d events older than %d days to the analytics store", moved, days)
    # An erasure removes the person's archived behaviour events at once; one that found
    # the store busy is finished here (docs/privacy.md).
    erased = db.read(lambda s: privacy.erased_customer_ids(session=s))
    if erased:
        analytics.erase_archived_behaviour(customer_ids=erased, path=store)
    return moved
