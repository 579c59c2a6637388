"""The event archive (events older than the stream's retention, in the analytics store)
is inside the access export and the erasure (docs/privacy.md): a person's archived events
are in their copy; erasing them deletes their behaviour events from the stream and the
archive, at once or, when the store is busy, at the next nightly archive run."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from datetime import timedelta

import pytest

from patron.analytics.store import run_lock
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.settings import get_settings
from patron.events import service as events_service
from patron.events.schemas import EventBatchIn
from patron.jobs.events import archive_events
from patron.privacy import erasure, export
from tests.events.helpers import behaviour
from tests.helpers import ACTOR, sign_up
from tests.privacy.helpers import file_request


def _browse(db: Database, customer_id: int, *types: str) -> list[str]:
    """Behaviour events of a signed-in shopper (``customer`` names them by id)."""
    items = [behaviour(t, customer={"id": customer_id}) for t in types]
    batch = EventBatchIn.model_validate({"events": items})

    def by_id(session: object, wanted: Sequence[tuple[int, object, object, object]]) -> dict:
        return {i: customer_id for i, *_ in wanted}

    db.write(
        lambda s: events_service.record_behaviour_events(
            session=s, events_in=batch.events, resolve=by_id
        )
    )
    return [str(i["event_id"]) for i in items]


def _shop(db: Database, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int, dict[str, list[str]]]:
    """Two shoppers with events from 120 days ago (archived) and from today."""
    gone, kept = sign_up(db, phone="13912345678"), sign_up(db, phone="13787654321")
    long_ago = utcnow() - timedelta(days=120)
    monkeypatch.setattr(events_service, "utcnow", lambda: long_ago)
    old = _browse(db, gone, "product_view", "search")
    old_domain = f"tier.changed:{gone}"
    db.write(
        lambda s: events_service.publish(
            s, "tier.changed", customer_id=gone, properties={"to_tier": "金卡"}, event_id=old_domain
        )
    )
    others = _browse(db, kept, "cart_add")
    monkeypatch.undo()
    recent = _browse(db, gone, "cart_add")
    assert archive_events(db) == 4
    return gone, kept, {"old": old, "old_domain": [old_domain], "others": others, "recent": recent}


def _archived(db: Database, customer_id: int) -> list[str]:
    data = db.read(lambda s: export.collect(session=s, customer_id=customer_id))
    return sorted(r["event_id"] for r in data["event_archive"])


def test_the_access_export_holds_the_persons_archived_events(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone, kept, ids = _shop(db, monkeypatch)
    data = db.read(lambda s: export.collect(session=s, customer_id=gone))
    browsed = [r["event_id"] for r in data["event"] if r["kind"] == "behaviour"]
    assert browsed == ids["recent"]
    assert _archived(db, gone) == sorted(ids["old"] + ids["old_domain"])
    search = next(r for r in data["event_archive"] if r["type"] == "search")
    assert search["properties"] == {"query": "有机大米"} and search["customer_id"] == gone
    assert _archived(db, kept) == ids["others"]
    with zipfile.ZipFile(io.BytesIO(export.build_zip(data, gone))) as archive:
        written = json.loads(archive.read("data.json"))
    assert sorted(r["event_id"] for r in written["event_archive"]) == _archived(db, gone)


def test_erasure_deletes_the_persons_behaviour_events_from_the_stream_and_the_archive(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone, kept, ids = _shop(db, monkeypatch)
    request = file_request(db, gone, kind="erasure")
    result = erasure.erase_and_roll(db=db, request_id=request.id, actor=ACTOR)
    assert (result.events, result.archived_events) == (1, 2)
    data = db.read(lambda s: export.collect(session=s, customer_id=gone))
    assert {r["kind"] for r in data["event"]} == {"domain"} and data["event_visitor"] == []
    # the domain event stays, like the order or tier change it mirrors; the other shopper's
    # events are untouched
    assert _archived(db, gone) == ids["old_domain"]
    assert _archived(db, kept) == ids["others"]


def test_an_erasure_that_finds_the_store_busy_is_finished_by_the_nightly_archive_run(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone, _, ids = _shop(db, monkeypatch)
    request = file_request(db, gone, kind="erasure")
    with run_lock(get_settings().resolved_analytics_store):  # an analytics run is going
        result = erasure.erase_and_roll(db=db, request_id=request.id, actor=ACTOR)
    assert result.request.status == "done" and result.archived_events is None
    assert _archived(db, gone) == sorted(ids["old"] + ids["old_domain"])
    archive_events(db)  # the nightly run
    assert _archived(db, gone) == ids["old_domain"]
