"""The events' retention (nightly, after the privacy work): events received more than
PATRON_EVENTS_KEEP_DAYS ago move from the operational database to the analytics store's
``event_archive`` table (docs/events.md).

Each batch is written to the store first and then deleted from the database; a run cut
short between the two writes the batch again next time (the archive's rows of the batch
are replaced, never doubled).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from patron import analytics, events
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.settings import get_settings

log = logging.getLogger(__name__)

BATCH = 20_000

_ARCHIVE = """
CREATE TABLE IF NOT EXISTS event_archive (
    id BIGINT PRIMARY KEY,
    event_id VARCHAR NOT NULL,
    type VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    customer_id BIGINT,
    store_id BIGINT,
    occurred_at TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    properties JSON
)
"""


def _store_rows(duck: Any, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa

    table = pa.Table.from_pylist(
        [{**r, "properties": json.dumps(r["properties"], ensure_ascii=False)} for r in rows]
    )
    duck.register("_moving_events", table)
    try:
        duck.execute("DELETE FROM event_archive WHERE id IN (SELECT id FROM _moving_events)")
        duck.execute(
            "INSERT INTO event_archive SELECT id, event_id, type, kind, customer_id, store_id, "
            "occurred_at, received_at, CAST(properties AS JSON) FROM _moving_events"
        )
    finally:
        duck.unregister("_moving_events")


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
        duck.execute(_ARCHIVE)
        while True:
            rows = db.read(
                lambda s: events.events_to_archive(session=s, before=before, limit=BATCH)
            )
            if not rows:
                break
            _store_rows(duck, rows)
            moved += db.write(partial(_delete, [int(r["id"]) for r in rows]))
    if moved:
        log.info("moved %d events older than %d days to the analytics store", moved, days)
    return moved
