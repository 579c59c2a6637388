"""The event stream: publishing domain events, taking in batches of behaviour events,
stitching anonymous visitors to customers, reading after a cursor, and moving a merged
customer's events (docs/events.md).

**The cursor is the row id.** A reader keeps the highest id it has handled and asks for
what came after it. For that to miss nothing, a reader must never be handed an id while a
lower one may still commit. On PostgreSQL every transaction writing events takes the
stream's advisory lock in **shared** mode before it numbers them and holds it to its
commit, so writers never wait for one another; a reader takes the same lock in exclusive
mode for an instant, which waits for the writers already numbering to commit or roll back,
and reads the highest id then: every id up to that **watermark** is settled (a writer
arriving later numbers above it), and the reader reads no further. SQLite has one writer
at a time anyway.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import CursorResult, Table, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from patron.catalog import service as catalog
from patron.core.bulk import instant_writer, write_tuples
from patron.core.clock import utcnow
from patron.core.crypto import blind_index
from patron.core.db import PlainWriter, driver_execute, insert_rows, one_of, reserve_ids
from patron.core.errors import InvalidInput
from patron.events import webhooks
from patron.events.models import Event, EventKind, EventVisitor
from patron.events.schemas import (
    BehaviourEventIn,
    CustomerIdentifiersIn,
    EventBatchResult,
    EventRead,
    EventRecord,
)

_EVENT = cast(Table, Event.__table__)
_VISITOR = cast(Table, EventVisitor.__table__)
_CHUNK = 500
# Built once: every order posted asks it (a statement built per call costs more than the query).
_EVENTS_BY_ID = select(_EVENT.c.event_id, _EVENT.c.id).where(
    _EVENT.c.event_id.in_(bindparam("event_ids", expanding=True))
)


@cache
def _events_by_ids(dialect: str) -> Any:
    """The events under the ids ``:event_ids``, built once per dialect (core/db.one_of)."""
    return select(_EVENT.c.event_id, _EVENT.c.id).where(
        one_of(_EVENT.c.event_id, "event_ids", dialect)
    )


# Turns the identifiers of signed-in visitors into customer ids: the web edge passes the
# customers domain's identity resolution (the one orders use), given each event's index,
# when it occurred and its store. The stream itself imports no customers (customers
# publish into it).
Resolve = Callable[
    [Session, Sequence[tuple[int, CustomerIdentifiersIn, datetime, int | None]]],
    dict[int, int],
]


# Per schema: Patron installations sharing one PostgreSQL database in schemas of their own
# (or test workers) must not wait on one another's streams.
_STREAM_KEY = "hashtext('patron.event:' || current_schema())"


_LOCK_SHARED = text(f"SELECT pg_advisory_xact_lock_shared({_STREAM_KEY})")
_STREAM_LOCKED = "patron.event_stream_locked"  # session.info: the transaction holding it


def _lock_stream(session: Session) -> None:
    """A writer's share of the stream's lock, to its commit (see the module's doc); taken
    once a transaction (an order of a new customer publishes two events)."""
    if session.get_bind().dialect.name == "postgresql":
        # The innermost transaction: a savepoint rolled back releases what it took.
        held = session.info.get(_STREAM_LOCKED)
        if held is not None and held is _innermost(session):
            return
        # Straight to the driver: an order post takes it once, SQLAlchemy's execute cost more
        driver_execute(session.connection(), _LOCK_SHARED.text, None)
        session.info[_STREAM_LOCKED] = _innermost(session)


def _innermost(session: Session) -> object:
    return session.get_nested_transaction() or session.get_transaction()


def _watermark(session: Session) -> int | None:
    """PostgreSQL: the highest event id below which nothing is still being written (see
    the module's doc); None elsewhere. The exclusive lock is held for two statements
    only, on the session's own connection (its own share, if it wrote events, does not
    stand in its way)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    conn = session.connection()
    conn.execute(text(f"SELECT pg_advisory_lock({_STREAM_KEY})"))
    try:
        top = conn.execute(select(func.max(_EVENT.c.id))).scalar()
    finally:
        conn.execute(text(f"SELECT pg_advisory_unlock({_STREAM_KEY})"))
    return int(top or 0)


def anonymous_key(anonymous_id: str) -> str:
    """The keyed blind index a device id or openid is stored as."""
    return blind_index(f"visitor|{anonymous_id}")


# ------------------------------------------------------------------------------ publish


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """One domain event to publish (see :func:`publish`)."""

    type: str
    customer_id: int | None = None
    store_id: int | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    event_id: str | None = None
    occurred_at: datetime | None = None


def publish(
    session: Session,
    type: str,
    *,
    customer_id: int | None = None,
    store_id: int | None = None,
    properties: dict[str, Any] | None = None,
    event_id: str | None = None,
    occurred_at: datetime | None = None,
) -> int:
    """Add a domain event to the stream in the caller's transaction, and queue it to every
    active webhook subscription for its type. ``event_id`` makes it idempotent (a second
    publish with the same id adds nothing and returns the first row's id); ``properties``
    hold codes and amounts, never personal data. Returns the event's row id."""
    event = DomainEvent(type, customer_id, store_id, properties or {}, event_id, occurred_at)
    return publish_many(session, [event])[0]


def publish_many(
    session: Session,
    items: Sequence[DomainEvent],
    *,
    subscription_id: int | None = None,
    new: bool = False,
) -> list[int]:
    """:func:`publish` for many events at once (a bulk import's orders): one statement per
    few hundred events. Returns their row ids, in order. Given ``subscription_id``, the new
    events are delivered to that webhook subscription alone (a journey's webhook step),
    not to the subscribers of their type; it must exist (``SubscriptionNotFound``).

    ``new``: the caller vouches that no event under these ids exists yet (ids naming rows
    it created in this transaction, which are never deleted), so they are not looked up:
    the look-up of a batch's 500 ids was a statement as costly as the insert."""
    if not items:
        return []
    now = utcnow()
    if subscription_id is not None:
        webhooks.get_subscription(session=session, subscription_id=subscription_id)
    if len(items) == 1 and items[0].event_id is not None and not new:
        return [_publish_one(session, items[0], items[0].event_id, now, subscription_id)]
    keys = [item.event_id or f"{item.type}:{uuid.uuid4().hex}" for item in items]
    known: dict[str, int] = {}
    for start in range(0, 0 if new else len(keys), _CHUNK):
        chunk = [k for k in keys[start : start + _CHUNK] if k not in known]
        found = session.execute(
            _events_by_ids(session.get_bind().dialect.name), {"event_ids": chunk}
        )
        known.update({r.event_id: r.id for r in found})
    fresh: dict[str, DomainEvent] = {}
    for key, item in zip(keys, items, strict=True):
        if key not in known and key not in fresh:
            fresh[key] = item
    if fresh:
        _lock_stream(session)
        ids = _insert_domain_events(session, fresh, now)
        known.update(zip(fresh, ids, strict=True))
        webhooks.queue_deliveries(
            session=session,
            events=[
                (i, item.type, item.customer_id)
                for i, item in zip(ids, fresh.values(), strict=True)
            ],
            now=now,
            subscription_id=subscription_id,
        )
    return [known[key] for key in keys]


def plain_publishable(database: str, event_type: str) -> bool:
    """Whether :func:`publish_plain` may publish an event of ``event_type``: no active
    subscription takes it (this process's copy of them, fresh), so no delivery is queued."""
    return webhooks.kept_subscribers(database, event_type) is False


def publish_plain(writer: PlainWriter, item: DomainEvent) -> int:
    """``publish_many(session, [item], new=True)`` in a plain write (core/db.plain_write):
    the stream's shared lock on PostgreSQL, then the one row, the same statements. Only
    when :func:`plain_publishable` said so, before the transaction wrote anything."""
    assert item.event_id is not None
    if writer.dialect_name == "postgresql" and not writer.info.get(_STREAM_LOCKED):
        writer.execute(_LOCK_SHARED.text, None)  # taken once a transaction, as by a session
        writer.info[_STREAM_LOCKED] = True
    made = writer.insert_one(_EVENT, _domain_row(item.event_id, item, utcnow()))
    if made is None:  # never for the event table, whose columns all go to the driver
        raise RuntimeError("an event row that needs SQLAlchemy")
    return made


_EVENT_COLUMNS = (
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
# NULL in every row of some batches (a store's events with no customer): left out then.
_OPTIONAL_EVENT_COLUMNS = frozenset(("customer_id", "store_id"))


def _insert_domain_events(
    session: Session, fresh: dict[str, DomainEvent], now: datetime
) -> list[int]:
    """Insert the events (by event id) and return their row ids, in order. Several go as
    tuples straight to the driver (core/bulk.write_tuples), ids drawn at once, each row
    holding what core/db.insert_rows stored from :func:`_domain_row`: the properties as
    the JSON column's text (``json.dumps``), the instants in UTC; a column NULL in every
    row (a visitor's key, never a domain event's) is left out."""
    conn = session.connection()
    if len(fresh) == 1:
        key, item = next(iter(fresh.items()))
        return insert_rows(conn, _EVENT, [_domain_row(key, item, now)])
    ids = reserve_ids(conn, _EVENT, len(fresh))
    instant = instant_writer(conn)
    received = instant(now)
    kind = EventKind.DOMAIN.value
    dumps = json.dumps
    rows: list[tuple[Any, ...]] = [
        (
            row_id,
            key,
            item.type,
            kind,
            item.customer_id,
            item.store_id,
            instant(item.occurred_at or now),
            received,
            dumps(item.properties),
        )
        for row_id, (key, item) in zip(ids, fresh.items(), strict=True)
    ]
    write_tuples(conn, "event", _EVENT_COLUMNS, rows, optional=_OPTIONAL_EVENT_COLUMNS)
    return ids


def _domain_row(key: str, item: DomainEvent, now: datetime) -> dict[str, Any]:
    return {
        "event_id": key,
        "type": item.type,
        "kind": EventKind.DOMAIN.value,
        "customer_id": item.customer_id,
        "anonymous_key": None,
        "store_id": item.store_id,
        "occurred_at": item.occurred_at or now,
        "received_at": now,
        "properties": item.properties,
    }


def _publish_one(
    session: Session, item: DomainEvent, key: str, now: datetime, subscription_id: int | None
) -> int:
    """One event under its id (an order post's): inserted unless the id is taken, in one
    statement where a look-up first would take two (a round trip less on PostgreSQL)."""
    _lock_stream(session)
    made = session.execute(_insert_event(session), _domain_row(key, item, now)).scalar()
    if made is None:  # published before: the first row's id
        return int(session.execute(_EVENTS_BY_ID, {"event_ids": [key]}).one().id)
    webhooks.queue_deliveries(
        session=session,
        events=[(made, item.type, item.customer_id)],
        now=now,
        subscription_id=subscription_id,
    )
    return int(made)


_INSERT_EVENT: dict[str, Any] = {}


def _insert_event(session: Session) -> Any:
    """INSERT … ON CONFLICT (event_id) DO NOTHING RETURNING id, built once per dialect."""
    dialect = session.get_bind().dialect.name
    statement = _INSERT_EVENT.get(dialect)
    if statement is None:
        from sqlalchemy.dialects import postgresql, sqlite

        made: Any = (postgresql if dialect == "postgresql" else sqlite).insert(_EVENT)
        statement = _INSERT_EVENT[dialect] = made.on_conflict_do_nothing(
            index_elements=["event_id"]
        ).returning(_EVENT.c.id)
    return statement


# ------------------------------------------------------------------------------ read


def read_after(
    session: Session,
    after_id: int,
    *,
    types: Collection[str] | None = None,
    limit: int = 1000,
) -> list[EventRecord]:
    """Events with an id above ``after_id`` (of ``types``, when given), oldest first, at most
    ``limit``. Keep the last record's id as the next ``after_id``: no event with a lower id
    can appear later (on PostgreSQL, events still being written in other transactions
    hold back what is read: see the module's doc)."""
    statement = select(
        _EVENT.c.id,
        _EVENT.c.event_id,
        _EVENT.c.type,
        _EVENT.c.customer_id,
        _EVENT.c.store_id,
        _EVENT.c.occurred_at,
        _EVENT.c.properties,
    ).where(_EVENT.c.id > after_id)
    watermark = _watermark(session)
    if watermark is not None:
        statement = statement.where(_EVENT.c.id <= watermark)
    if types is not None:
        statement = statement.where(_EVENT.c.type.in_(list(types)))
    rows = session.execute(statement.order_by(_EVENT.c.id).limit(limit))
    return [
        EventRecord(
            id=r.id,
            event_id=r.event_id,
            type=r.type,
            customer_id=r.customer_id,
            store_id=r.store_id,
            occurred_at=r.occurred_at,
            properties=dict(r.properties or {}),
        )
        for r in rows
    ]


def list_events(
    *,
    session: Session,
    type: str | None = None,
    customer_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[EventRead]:
    """The newest events first, for the console."""
    statement = select(Event)
    if type:
        statement = statement.where(Event.type == type)
    if customer_id is not None:
        statement = statement.where(Event.customer_id == customer_id)
    if before_id is not None:
        statement = statement.where(Event.id < before_id)
    rows = session.scalars(statement.order_by(Event.id.desc()).limit(limit))
    return [EventRead.model_validate(r) for r in rows]


def count_events(*, session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Event)) or 0)


# ------------------------------------------------------------------------------ ingest


def _store_ids(
    session: Session, events_in: Sequence[BehaviourEventIn], scope: frozenset[int] | None
) -> list[int | None]:
    """Each event's store; a store-bound sender may name only its own stores (another store
    reads as unknown, as orders and sign-ups do)."""
    codes = {e.store_code for e in events_in if e.store_code}
    stores = catalog.stores_by_code(session=session, codes=codes) if codes else {}
    found: list[int | None] = []
    for i, event_in in enumerate(events_in):
        if event_in.store_code is None:
            found.append(None)
            continue
        store = stores.get(event_in.store_code)
        if store is None or (scope is not None and store.id not in scope):
            raise InvalidInput(
                f"events.{i}.store_code",
                f"no store with code {event_in.store_code!r}",
                message_code="unknown_store_code",
                code=event_in.store_code,
            )
        found.append(store.id)
    return found


def _known_event_ids(session: Session, event_ids: list[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(event_ids), _CHUNK):
        chunk = event_ids[start : start + _CHUNK]
        known.update(session.scalars(select(Event.event_id).where(Event.event_id.in_(chunk))))
    return known


def _visitors(session: Session, keys: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        rows = session.execute(
            select(_VISITOR.c.anonymous_key, _VISITOR.c.customer_id).where(
                _VISITOR.c.anonymous_key.in_(chunk)
            )
        )
        found.update({r.anonymous_key: r.customer_id for r in rows})
    return found


def _stitch(
    session: Session, identified: dict[str, int], known: dict[str, int], now: datetime
) -> int:
    """Remember each newly identified visitor and give their earlier anonymous events the
    customer, a few statements per batch; returns how many events were stitched."""
    changed = {k: c for k, c in identified.items() if known.get(k) != c}
    if not changed:
        return 0
    conn = session.connection()
    rows = [{"k": k, "c": c, "at": now} for k, c in changed.items()]
    fresh = [
        {"anonymous_key": r["k"], "customer_id": r["c"], "identified_at": now}
        for r in rows
        if r["k"] not in known
    ]
    if fresh:
        conn.execute(_VISITOR.insert(), fresh)
    moved = [r for r in rows if r["k"] in known]
    if moved:
        conn.execute(_MOVE_VISITOR, moved)
    result = conn.execute(_STITCH_EVENTS, rows)
    return max(0, cast(CursorResult[Any], result).rowcount or 0)


_MOVE_VISITOR = (
    update(_VISITOR)
    .where(_VISITOR.c.anonymous_key == bindparam("k"))
    .values(customer_id=bindparam("c"), identified_at=bindparam("at"))
)
_STITCH_EVENTS = (
    update(_EVENT)
    .where(_EVENT.c.anonymous_key == bindparam("k"), _EVENT.c.customer_id.is_(None))
    .values(customer_id=bindparam("c"))
)


def record_behaviour_events(
    *,
    session: Session,
    events_in: Sequence[BehaviourEventIn],
    resolve: Resolve,
    store_ids: frozenset[int] | None = None,
) -> EventBatchResult:
    """Take in a batch of behaviour events: those whose ``event_id`` is known already are
    counted as duplicates and written again nowhere; a visitor who names who they are
    (``customer``) is resolved to a customer, and their device or openid stitched to them,
    earlier anonymous events included. Nothing is written when any event is refused.
    ``store_ids``: the sender's stores (None: every store)."""
    event_stores = _store_ids(session, events_in, store_ids)
    seen: set[str] = set()
    fresh: list[int] = []
    for i, event_in in enumerate(events_in):
        if event_in.event_id not in seen:
            seen.add(event_in.event_id)
            fresh.append(i)
    known_ids = _known_event_ids(session, [events_in[i].event_id for i in fresh])
    fresh = [i for i in fresh if events_in[i].event_id not in known_ids]
    wanted = [
        (i, events_in[i].customer, events_in[i].occurred_at, event_stores[i])
        for i in fresh
        if events_in[i].customer is not None
    ]
    customers_of = resolve(session, cast(Any, wanted)) if wanted else {}
    keys = {
        i: anonymous_key(events_in[i].anonymous_id or "")
        for i in fresh
        if events_in[i].anonymous_id
    }
    identified: dict[str, int] = {}
    for i, key in keys.items():
        if i in customers_of:
            identified[key] = customers_of[i]
    known_visitors = _visitors(session, set(keys.values()))
    _lock_stream(session)
    now = utcnow()
    stitched = _stitch(session, identified, known_visitors, now)
    visitors = {**known_visitors, **identified}
    rows = []
    for i in fresh:
        event_in = events_in[i]
        visitor = keys.get(i)
        customer_id = customers_of.get(i)
        if customer_id is None and visitor is not None:
            customer_id = visitors.get(visitor)
        rows.append(
            {
                "event_id": event_in.event_id,
                "type": event_in.type,
                "kind": EventKind.BEHAVIOUR,
                "customer_id": customer_id,
                "anonymous_key": visitor,
                "store_id": event_stores[i],
                "occurred_at": event_in.occurred_at,
                "received_at": now,
                "properties": event_in.properties.model_dump(exclude_none=True),
            }
        )
    insert_rows(session.connection(), _EVENT, rows, want_ids=False)
    return EventBatchResult(
        accepted=len(rows), duplicates=len(events_in) - len(rows), stitched=stitched
    )


# ------------------------------------------------------------------------------ merges


def move_customer_records(
    *, session: Session, from_customer_id: int, to_customer_id: int
) -> dict[str, list[int]]:
    """A merge: the merged profile's events and visitors now belong to the survivor."""
    events = list(session.scalars(select(Event.id).where(Event.customer_id == from_customer_id)))
    session.execute(
        update(_EVENT)
        .where(_EVENT.c.customer_id == from_customer_id)
        .values(customer_id=to_customer_id)
    )
    visitors = list(
        session.scalars(
            select(EventVisitor.anonymous_key).where(EventVisitor.customer_id == from_customer_id)
        )
    )
    session.execute(
        update(_VISITOR)
        .where(_VISITOR.c.customer_id == from_customer_id)
        .values(customer_id=to_customer_id)
    )
    # (visitor keys are text, kept in the merge record beside the ids)
    return {"event": events, "event_visitor": cast(list[int], visitors)}


def restore_customer_records(
    *,
    session: Session,
    moved: dict[str, list[int]],
    from_customer_id: int,
    to_customer_id: int,
) -> None:
    """An unmerge (from the survivor, to the profile given back): the events and visitors
    the merge moved go back."""
    events = moved.get("event", [])
    for start in range(0, len(events), _CHUNK):
        session.execute(
            update(_EVENT)
            .where(_EVENT.c.id.in_(events[start : start + _CHUNK]))
            .values(customer_id=to_customer_id)
        )
    keys = cast(list[str], moved.get("event_visitor", []))
    for start in range(0, len(keys), _CHUNK):
        session.execute(
            update(_VISITOR)
            .where(_VISITOR.c.anonymous_key.in_(keys[start : start + _CHUNK]))
            .values(customer_id=to_customer_id)
        )


def erase_customer_events(*, session: Session, customer_ids: Sequence[int]) -> int:
    """An erasure: the customers' behaviour events (what they browsed, searched and put in
    a cart) and the visitors tied to them are deleted; their domain events stay, like the
    orders, refunds and points they mirror (docs/privacy.md). Returns how many events."""
    ids = sorted(set(customer_ids))
    erased = 0
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        result = session.execute(
            _EVENT.delete().where(
                _EVENT.c.customer_id.in_(chunk), _EVENT.c.kind == EventKind.BEHAVIOUR
            )
        )
        erased += cast(CursorResult[Any], result).rowcount or 0
        session.execute(_VISITOR.delete().where(_VISITOR.c.customer_id.in_(chunk)))
    return erased


# ------------------------------------------------------------------------------ retention


def events_to_archive(*, session: Session, before: datetime, limit: int) -> list[dict[str, Any]]:
    """The oldest events received before ``before`` (at most ``limit``), as plain rows for
    the analytics store; an event a webhook delivery still waits for stays until it is sent
    or given up. The visitor's fingerprint is not carried over."""
    from patron.events.models import DeliveryStatus, WebhookDelivery

    waiting = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.event_row_id == _EVENT.c.id,
            WebhookDelivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]),
        )
        .exists()
    )
    rows = session.execute(
        select(
            _EVENT.c.id,
            _EVENT.c.event_id,
            _EVENT.c.type,
            _EVENT.c.kind,
            _EVENT.c.customer_id,
            _EVENT.c.store_id,
            _EVENT.c.occurred_at,
            _EVENT.c.received_at,
            _EVENT.c.properties,
        )
        .where(_EVENT.c.received_at < before, ~waiting)
        .order_by(_EVENT.c.id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in rows]


def delete_archived_events(*, session: Session, ids: Sequence[int]) -> int:
    """Remove events the analytics store now holds."""
    deleted = 0
    for start in range(0, len(ids), _CHUNK):
        result = session.execute(
            _EVENT.delete().where(_EVENT.c.id.in_(list(ids[start : start + _CHUNK])))
        )
        deleted += cast(CursorResult[Any], result).rowcount or 0
    return deleted
