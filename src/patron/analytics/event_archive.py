"""The event archive: events older than the stream's retention, kept in the analytics
store's ``event_archive`` table (docs/events.md, "Retention"). The nightly job moves them
here; the access export reads a person's archived events and an erasure removes their
behaviour events (docs/privacy.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from patron.analytics.standings import reading_store, store_path, writing_store

ARCHIVE_DDL = """
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
_COLUMNS = (
    "id",
    "event_id",
    "type",
    "kind",
    "customer_id",
    "store_id",
    "occurred_at",
    "received_at",
    "properties",
)
_CHUNK = 1_000


def store_archived_events(duck: Any, rows: list[dict[str, Any]]) -> None:
    """Write a batch of events into the archive (a batch written twice replaces itself)."""
    import pyarrow as pa

    duck.execute(ARCHIVE_DDL)
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


def _has_archive(duck: Any) -> bool:
    found = duck.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'event_archive'"
    ).fetchone()
    return bool(found and found[0])


def archived_events_of(
    *, customer_ids: Sequence[int], path: Path | None = None
) -> list[dict[str, Any]]:
    """The archived events of these customers, oldest first, as plain rows (properties
    parsed); none while there is no store or no archive yet."""
    target = path or store_path()
    if not target.exists() or not customer_ids:
        return []
    ids = sorted(set(customer_ids))
    found: list[dict[str, Any]] = []
    with reading_store(target) as duck:
        if not _has_archive(duck):
            return []
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            # (through Arrow: DuckDB's own rows would want pytz for the zoned times)
            rows = (
                duck.execute(
                    f"SELECT {', '.join(_COLUMNS)} FROM event_archive "
                    f"WHERE customer_id IN ({marks}) ORDER BY id",
                    chunk,
                )
                .to_arrow_table()
                .to_pylist()
            )
            for record in rows:
                if isinstance(record["properties"], str):
                    record["properties"] = json.loads(record["properties"])
                found.append(record)
    found.sort(key=lambda r: r["id"])
    return found


def erase_archived_behaviour(*, customer_ids: Sequence[int], path: Path | None = None) -> int:
    """Delete these customers' archived behaviour events (what they browsed, searched and
    put in a cart); domain events stay, like the orders and points they mirror. Returns
    how many went. AnalyticsBusy while an analytics run holds the store."""
    target = path or store_path()
    if not target.exists() or not customer_ids:
        return 0
    # One pass over the archive whatever the number of customers: the nightly run repeats
    # this for every customer ever erased (docs/privacy.md).
    ids = sorted({int(c) for c in customer_ids})
    with writing_store(target) as duck:
        if not _has_archive(duck):
            return 0
        deleted = duck.execute(
            "DELETE FROM event_archive WHERE kind = 'behaviour'"
            " AND customer_id IN (SELECT unnest(?::BIGINT[]))",
            [ids],
        ).fetchall()  # one row: how many went
    return int(deleted[0][0]) if deleted else 0
