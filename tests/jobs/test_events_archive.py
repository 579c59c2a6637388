from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from patron import events
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.settings import get_settings
from patron.events import service as events_service
from patron.jobs.events import archive_events
from tests.helpers import sign_up


def test_events_older_than_the_setting_move_to_the_analytics_store(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = sign_up(db, phone="13800138000")
    long_ago = utcnow() - timedelta(days=120)
    monkeypatch.setattr(events_service, "utcnow", lambda: long_ago)
    old = db.write(
        lambda s: events.publish(s, "tier.changed", customer_id=customer, properties={"t": "金卡"})
    )
    monkeypatch.undo()
    recent = db.write(lambda s: events.publish(s, "points.expiring", customer_id=customer))

    assert archive_events(db) == 1
    assert archive_events(db) == 0  # nothing left to move
    left = {e.id for e in db.read(lambda s: events.read_after(s, 0))}
    assert recent in left and old not in left
    with duckdb.connect(str(get_settings().resolved_analytics_store), read_only=True) as duck:
        rows = duck.execute(
            "SELECT id, type, customer_id, properties FROM event_archive"
        ).fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [(old, "tier.changed", customer)]
    assert "金卡" in rows[0][3]
