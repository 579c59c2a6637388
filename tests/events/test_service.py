from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest
from pydantic import TypeAdapter, ValidationError

from patron import events
from patron.core.db import Database
from patron.events import service
from patron.events.schemas import EventBatchIn
from tests.events.helpers import behaviour, publish
from tests.helpers import sign_up


def _ingest(db: Database, *items: dict[str, object]) -> service.EventBatchResult:
    batch = EventBatchIn.model_validate({"events": list(items)})

    def no_customers(session: object, wanted: object) -> dict[int, int]:
        assert not wanted
        return {}

    return db.write(
        lambda s: service.record_behaviour_events(
            session=s, events_in=batch.events, resolve=no_customers
        )
    )


def test_read_after_returns_events_after_the_cursor_in_id_order(db: Database) -> None:
    customer = sign_up(db, phone="13800138000")
    (signed_up,) = db.read(lambda s: events.read_after(s, 0))
    assert (signed_up.type, signed_up.customer_id) == ("customer.created", customer)
    first = publish(db, "tier.changed", customer_id=customer, properties={"tier": "gold"})
    second = publish(db, "points.expiring", customer_id=customer, properties={"points": 120})
    _ingest(db, behaviour("cart_add"))

    everything = db.read(lambda s: events.read_after(s, signed_up.id))
    assert [e.type for e in everything] == ["tier.changed", "points.expiring", "cart_add"]
    assert [e.id for e in everything] == sorted(e.id for e in everything)
    assert everything[0].properties == {"tier": "gold"}
    assert everything[0].customer_id == customer
    assert everything[0].occurred_at.tzinfo is not None

    after_first = db.read(lambda s: events.read_after(s, first))
    assert after_first[0].id == second
    only = db.read(lambda s: events.read_after(s, 0, types={"cart_add"}))
    assert [e.type for e in only] == ["cart_add"]
    assert db.read(lambda s: events.read_after(s, signed_up.id, limit=1)) == everything[:1]
    with pytest.raises(FrozenInstanceError):
        everything[0].type = "x"  # type: ignore[misc]


def test_publishing_one_event_id_twice_adds_one_event(db: Database) -> None:
    first = publish(db, "order.created", event_id="order.created:7", properties={"order_id": 7})
    again = publish(db, "order.created", event_id="order.created:7", properties={"order_id": 7})
    assert first == again
    assert len(db.read(lambda s: events.read_after(s, 0))) == 1


def test_a_large_batch_keeps_each_events_properties(db: Database) -> None:
    # Enough events to go by COPY on PostgreSQL, the properties written as their JSON text.
    items = [
        events.DomainEvent(
            "order.created",
            None,
            None,
            {"order_id": n, "source": "pos-门店", "total_fen": n * 100, "note": 'a\tb"c\\'},
            f"order.created:{n}",
            None,
        )
        for n in range(1, 201)
    ]
    ids = db.write(lambda s: events.publish_many(s, items))
    assert ids == sorted(ids) and len(set(ids)) == 200
    read = db.read(lambda s: events.read_after(s, 0, limit=500))
    assert [e.properties for e in read] == [item.properties for item in items]
    assert [e.event_id for e in read] == [item.event_id for item in items]


@pytest.mark.parametrize("count", [1, 200])  # 200: by COPY on PostgreSQL
def test_new_events_are_written_without_looking_their_ids_up(db: Database, count: int) -> None:
    """publish_many(new=True), for the events of rows just created: no statement looks their
    ids up before the insert, and each event reads back under its id."""
    from sqlalchemy import event as sa_event

    items = [
        events.DomainEvent("order.created", None, None, {"order_id": n}, f"order.created:{n}", None)
        for n in range(1, count + 1)
    ]
    reads: list[str] = []

    def note(_c: object, _cur: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "event.event_id" in statement:
            reads.append(statement)  # a look-up by id (not the ids drawn for the rows)

    sa_event.listen(db.engine, "before_cursor_execute", note)
    try:
        ids = db.write(lambda s: events.publish_many(s, items, new=True))
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", note)
    assert reads == []
    assert len(set(ids)) == count
    read = db.read(lambda s: events.read_after(s, 0, limit=500))
    assert [(e.id, e.event_id, e.properties) for e in read] == [
        (i, item.event_id, item.properties) for i, item in zip(ids, items, strict=True)
    ]


def test_a_batch_sent_twice_is_taken_in_once(db: Database) -> None:
    items = [behaviour("page_view"), behaviour("search"), behaviour("page_view")]
    assert _ingest(db, *items).accepted == 3
    repeated = _ingest(db, *items, items[0])
    assert (repeated.accepted, repeated.duplicates) == (0, 4)
    assert len(db.read(lambda s: events.read_after(s, 0))) == 3


def test_each_type_has_its_properties_checked_and_the_error_names_index_and_field() -> None:
    good = behaviour("page_view")
    bad = behaviour("cart_add", properties={"quantity": 2})
    with pytest.raises(ValidationError) as caught:
        EventBatchIn.model_validate({"events": [good, bad]})
    error = caught.value.errors()[0]
    assert error["loc"] == ("events", 1, "cart_add", "properties", "sku")
    with pytest.raises(ValidationError) as unknown:
        EventBatchIn.model_validate({"events": [behaviour("search", type="teleport")]})
    assert unknown.value.errors()[0]["loc"][:2] == ("events", 0)
    with pytest.raises(ValidationError):  # no personal data in properties: unknown keys refused
        EventBatchIn.model_validate(
            {"events": [behaviour("search", properties={"query": "米", "phone": "13800138000"})]}
        )


def test_a_batch_over_a_thousand_events_is_refused() -> None:
    adapter = TypeAdapter(EventBatchIn)
    with pytest.raises(ValidationError):
        adapter.validate_python({"events": [behaviour("page_view") for _ in range(1001)]})


def test_a_merge_moves_events_to_the_survivor_and_an_unmerge_gives_them_back(db: Database) -> None:
    from patron.customers import service as customers
    from tests.helpers import ACTOR

    survivor = sign_up(db, phone="13800138000")
    merged = sign_up(db, member_card="VIP0001")
    event = publish(db, "tier.changed", customer_id=merged)
    record = db.write(
        lambda s: customers.merge_customers(
            session=s, survivor_id=survivor, merged_id=merged, reason="same person", actor=ACTOR
        )
    )
    moved = db.read(lambda s: events.read_after(s, event - 1, types={"tier.changed"}))
    assert moved[0].customer_id == survivor
    merges = db.read(lambda s: events.read_after(s, 0, types={"customer.merged"}))
    assert [(e.customer_id, e.properties["merged_id"]) for e in merges] == [(survivor, merged)]
    db.write(lambda s: customers.unmerge_customers(session=s, merge_id=record.id, actor=ACTOR))
    back = db.read(lambda s: events.read_after(s, event - 1, types={"tier.changed"}))
    assert back[0].customer_id == merged
