"""Intake: orders posted by tills, the API and imports, stored once under their key.

Every posted order has a key, ``(source, external_id)``. Posting it again with the same
content returns the first result; with other content it is a conflict. The check is made
in bulk (one query per batch) and backed by a unique constraint, so two writers racing
with the same key end with one order (the loser's transaction is retried by
``Database.write`` and then finds the winner's order).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from patron import events
from patron.catalog import service as catalog
from patron.catalog.schemas import StoreRead
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.db import PlainReader, PlainWriter, driver_execute, insert_rows
from patron.core.errors import InvalidInput
from patron.core.money import milli_to_quantity
from patron.core.settings import get_settings
from patron.customers import service as customers
from patron.customers.schemas import CustomerRef
from patron.orders.batch import write_orders
from patron.orders.exceptions import (
    IdempotencyConflict,
    KeyOfAnotherStore,
    OrderOutOfScope,
    StoreOutOfScope,
    UnknownStore,
)
from patron.orders.reads import (
    _CHUNK,
    _LINES,
    _ORDERS,
    _READ_FIELDS,
    get_order_or_raise,
    order_row_by_key,
    plain_order_row_by_key,
    plain_read_of_row,
    reads_of_rows,
)
from patron.orders.schemas import (
    ORDER_ATTRIBUTES,
    OrderIn,
    OrderLineIn,
    OrderLineRead,
    OrderRead,
    OrderWrite,
    RefundIn,
)

_KEY_COLUMNS = (
    _ORDERS.c.source,
    _ORDERS.c.external_id,
    _ORDERS.c.id,
    _ORDERS.c.request_hash,
    _ORDERS.c.customer_id,
    _ORDERS.c.store_id,
)
_ORDER_BY_KEY = select(*_KEY_COLUMNS).where(
    _ORDERS.c.source == bindparam("source"), _ORDERS.c.external_id == bindparam("external_id")
)

OrderStatus = Literal["created", "duplicate", "conflict", "invalid"]


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    status: OrderStatus
    order_id: int | None
    customer_id: int | None = None
    error: InvalidInput | None = None


def request_hash(model: OrderIn | RefundIn) -> str:
    """SHA-256 of the normalised request, so the same content spelt differently matches."""
    # Serialised in the schema's field order, so the same content always gives the same text
    # whatever order the sender wrote its keys in. Fields added since orders were first
    # kept stay out while unset, so a repeat of an older post still matches its first hash.
    unset = {name for name in _LATER_FIELDS.get(type(model), ()) if getattr(model, name) is None}
    return hashlib.sha256(
        model.__pydantic_serializer__.to_json(model, exclude=unset or None)
    ).hexdigest()


_LATER_FIELDS: dict[type, tuple[str, ...]] = {
    OrderIn: ORDER_ATTRIBUTES,
    RefundIn: ("store_code",),
}

# request_hashes: an order's customer and lines are serialised on their own and spliced in.
_CUSTOMER_JSON = CustomerRef.__pydantic_serializer__.to_json
_LINE_JSON = OrderLineIn.__pydantic_serializer__.to_json
_ORDER_JSON = OrderIn.__pydantic_serializer__.to_json


def request_hashes(
    orders_in: Sequence[OrderIn], parts: dict[int, tuple[Any, bytes]] | None = None
) -> list[str]:
    """:func:`request_hash` of each order of a batch, the same digests made with less work:
    the JSON of a customer ref or a line that several orders share (an import's orders hold
    one object for a customer's identity, and one for lines alike) is made once, and
    spliced into the JSON of the order's other fields where the schema's field order puts
    it (the customer before ``payment_method``, the lines after ``total_fen``). Each
    ``"key":`` searched for is one of the order's own: a quote inside a string value is
    escaped, so ``,"payment_method":`` cannot appear within a value.

    ``parts`` keeps those JSON texts from batch to batch (an import's): by id(), with the
    object itself, so an id reused by another object after the first was freed is not
    mistaken for it. The objects must not change while they are kept (the importer's
    customers and lines never do). Where nothing is shared (a bulk post's orders), the
    pieces cost more than :func:`request_hash`'s one serialisation."""
    if parts is None:
        parts = {}
    elif len(parts) > _KEPT_PARTS:
        parts.clear()
    digests: list[str] = []
    sha256 = hashlib.sha256
    for order_in in orders_in:
        values = order_in.__dict__
        # A set: pydantic reads a frozenset given as ``exclude`` several times slower.
        exclude = {"customer", "lines", *[n for n in ORDER_ATTRIBUTES if values[n] is None]}
        rest = _ORDER_JSON(order_in, exclude=exclude)
        customer = values["customer"]
        if customer is None:
            customer_json = b"null"
        else:
            kept = parts.get(id(customer))
            if kept is not None and kept[0] is customer:
                customer_json = kept[1]
            else:
                customer_json = _CUSTOMER_JSON(customer)
                parts[id(customer)] = (customer, customer_json)
        lines_json = []
        for line in values["lines"]:
            kept = parts.get(id(line))
            if kept is not None and kept[0] is line:
                lines_json.append(kept[1])
            else:
                line_json = _LINE_JSON(line)
                parts[id(line)] = (line, line_json)
                lines_json.append(line_json)
        at_payment = rest.index(b',"payment_method":')
        at_total = rest.index(b',"total_fen":', at_payment) + 13
        after_total = rest.find(b",", at_total)  # the total is a number or null
        if after_total < 0:
            after_total = len(rest) - 1
        text = b"".join(
            (
                rest[:at_payment],
                b',"customer":',
                customer_json,
                rest[at_payment:after_total],
                b',"lines":[',
                b",".join(lines_json),
                b"]",
                rest[after_total:],
            )
        )
        digests.append(sha256(text).hexdigest())
    return digests


_KEPT_PARTS = 100_000  # JSON texts request_hashes keeps from batch to batch (bounded)


# SQLite: an IN list per source, so the (source, external_id) index answers each list.
_ORDERS_OF_SOURCE = select(*_KEY_COLUMNS).where(
    _ORDERS.c.source == bindparam("source"),
    _ORDERS.c.external_id.in_(bindparam("external_ids", expanding=True)),
)
# PostgreSQL: one probe of that index per key, as a lateral the planner cannot turn into a
# join of its choice, in a statement whose text is the same for every batch (the driver
# prepares it once). An IN list of a batch's 1,000 keys was rendered by SQLAlchemy, then
# parsed and planned by the server, on every call: a fifth of a bulk post's database time.
# The keys go as binary arrays (``%b``), which the driver writes without quoting each.
_ORDERS_BY_PROBES = (
    "SELECT o.source, o.external_id, o.id, o.request_hash, o.customer_id, o.store_id "
    "FROM unnest(%(sources)b::text[], %(external_ids)b::text[]) AS k(source, external_id) "
    "JOIN LATERAL (SELECT source, external_id, id, request_hash, customer_id, store_id "
    "FROM orders WHERE orders.source = k.source AND orders.external_id = k.external_id "
    "OFFSET 0) AS o ON true"
)


def _existing_orders(
    session: Session, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, str, int | None, int]]:
    """(id, request hash, customer id, store id) of the orders under these keys."""
    found: dict[tuple[str, str], tuple[int, str, int | None, int]] = {}
    unique = list(dict.fromkeys(keys))
    conn = session.connection()  # Core, prepared once: this runs for every order posted
    if conn.dialect.name == "postgresql" and len(unique) > 1:
        sources = [source for source, _ in unique]
        external_ids = [external_id for _, external_id in unique]
        for source, external_id, order_id, digest, customer_id, store_id in driver_execute(
            conn, _ORDERS_BY_PROBES, {"sources": sources, "external_ids": external_ids}
        ):
            found[(source, external_id)] = (order_id, digest, customer_id, store_id)
        return found
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        if len(chunk) == 1:
            asks: list[tuple[Any, dict[str, Any]]] = [
                (_ORDER_BY_KEY, {"source": chunk[0][0], "external_id": chunk[0][1]})
            ]
        else:
            by_source: dict[str, list[str]] = defaultdict(list)
            for source, external_id in chunk:
                by_source[source].append(external_id)
            asks = [
                (_ORDERS_OF_SOURCE, {"source": s, "external_ids": ids})
                for s, ids in by_source.items()
            ]
        for statement, params in asks:
            for source, external_id, order_id, digest, customer_id, store_id in conn.execute(
                statement, params
            ):
                found[(source, external_id)] = (order_id, digest, customer_id, store_id)
    return found


def record_orders(
    *,
    session: Session,
    orders_in: Sequence[OrderIn],
    import_run_id: int | None = None,
    store_ids: frozenset[int] | None = None,
    actor: Actor | None = None,
    currency: str | None = None,
    json_parts: dict[int, tuple[Any, bytes]] | None = None,
) -> list[OrderOutcome]:
    """Store a batch of orders; one outcome per order, in order.

    An order whose key exists is a duplicate (same content) or a conflict (other content);
    an order naming an unknown store, or a store outside ``store_ids`` when given, is
    invalid, and so is one under the key of another store's order (nothing of which is
    told). Neither stops the rest of the batch. ``actor`` posted the orders: who they may
    merge or change is theirs to say (customers/identity.py); default the system.
    ``currency`` is the orders' currency when it is not the shop's (a file the user
    confirmed was in another one). ``json_parts``: the JSON of customers and lines kept from
    one batch to the next by a caller whose orders share them (:func:`request_hashes`).
    """
    return _record(
        session, orders_in, import_run_id, store_ids, actor, currency, json_parts=json_parts
    )[0]


def _record(
    session: Session,
    orders_in: Sequence[OrderIn],
    import_run_id: int | None,
    store_ids: frozenset[int] | None = None,
    actor: Actor | None = None,
    currency: str | None = None,
    absent: bool = False,
    json_parts: dict[int, tuple[Any, bytes]] | None = None,
) -> tuple[list[OrderOutcome], dict[int, OrderRead]]:
    """record_orders, plus the read of each order it created (built without a query).
    ``absent``: the caller looked the keys up in this transaction and found none."""
    if json_parts is None:  # nothing shared: the whole order's JSON at once is cheaper
        hashes = [request_hash(o) for o in orders_in]
    else:
        hashes = request_hashes(orders_in, json_parts)
    existing = (
        {} if absent else _existing_orders(session, [(o.source, o.external_id) for o in orders_in])
    )
    stores = catalog.stores_by_code(
        session=session, codes={o.store_code for o in orders_in if o.store_code}
    )
    default_store: StoreRead | None = None
    created: dict[int, OrderRead] = {}

    outcomes: list[OrderOutcome | None] = [None] * len(orders_in)
    fresh: list[int] = []
    fresh_stores: list[StoreRead] = []
    seen: dict[tuple[str, str], int] = {}
    for i, order_in in enumerate(orders_in):
        key = (order_in.source, order_in.external_id)
        if key in existing:
            order_id, digest, customer_id, sold_in = existing[key]
            if store_ids is not None and sold_in not in store_ids:
                outcomes[i] = OrderOutcome(
                    status="invalid",
                    order_id=None,
                    error=KeyOfAnotherStore(
                        "external_id", "an order of another store holds this key"
                    ),
                )
                continue
            status: OrderStatus = "duplicate" if digest == hashes[i] else "conflict"
            outcomes[i] = OrderOutcome(status=status, order_id=order_id, customer_id=customer_id)
            continue
        if key in seen:
            first = seen[key]
            outcomes[i] = OrderOutcome(
                status="duplicate" if hashes[first] == hashes[i] else "conflict", order_id=None
            )
            continue
        if order_in.store_code is None:
            if default_store is None:
                default_store = catalog.ensure_default_store(session=session)
                stores[default_store.code] = default_store
            store = default_store
        else:
            store = stores.get(order_in.store_code)  # type: ignore[assignment]
            if store is None:
                outcomes[i] = OrderOutcome(
                    status="invalid",
                    order_id=None,
                    error=UnknownStore("store_code", f"no store with code {order_in.store_code!r}"),
                )
                continue
        if store_ids is not None and store.id not in store_ids:
            outcomes[i] = OrderOutcome(
                status="invalid",
                order_id=None,
                error=StoreOutOfScope("store_code", f"store {store.code!r} is not one of yours"),
            )
            continue
        seen[key] = i
        fresh.append(i)
        fresh_stores.append(store)

    if fresh:
        created = _insert(
            session, orders_in, hashes, fresh, fresh_stores, outcomes, import_run_id,
            store_ids, actor, currency,
        )  # fmt: skip
    # Orders repeated inside the batch point at the first one's result.
    for i, outcome in enumerate(outcomes):
        assert outcome is not None
        if outcome.order_id is None and outcome.status in ("duplicate", "conflict"):
            first_outcome = outcomes[seen[(orders_in[i].source, orders_in[i].external_id)]]
            assert first_outcome is not None
            outcomes[i] = OrderOutcome(
                status=outcome.status,
                order_id=first_outcome.order_id,
                customer_id=first_outcome.customer_id,
            )
    return outcomes, created  # type: ignore[return-value]


def _insert(
    session: Session,
    orders_in: Sequence[OrderIn],
    hashes: list[str],
    fresh: list[int],
    stores: list[StoreRead],
    outcomes: list[OrderOutcome | None],
    import_run_id: int | None,
    store_ids: frozenset[int] | None = None,
    actor: Actor | None = None,
    currency: str | None = None,
) -> dict[int, OrderRead]:
    """Insert the new orders; return a read of each, by position in ``orders_in``."""
    contexts = []
    refs: list[CustomerRef | None] = []
    channels = []
    by_kind: dict[str, str] = {}
    for i, store in zip(fresh, stores, strict=True):
        order_in = orders_in[i]
        channel = order_in.channel or by_kind.get(store.kind)
        if channel is None:
            channel = by_kind[store.kind] = catalog.channel_for_store_kind(store.kind)
        channels.append(channel)
        refs.append(order_in.customer)
        contexts.append(
            customers.ResolveContext(
                source=order_in.source,
                label=f"order {order_in.source}/{order_in.external_id}",
                at=order_in.ordered_at,
                channel=str(channel),
                store_id=store.id,
            )
        )
    resolution = customers.resolve_customers(
        session=session, refs=refs, contexts=contexts, actor=actor, store_ids=store_ids
    )
    _note_first_purchases(
        session, resolution.customer_ids, [orders_in[i] for i in fresh], resolution.signed_up
    )
    now = utcnow()
    currency = currency or get_settings().currency
    if len(fresh) > 1:  # a batch: its rows straight to the driver (orders/batch.py)
        order_ids = write_orders(
            session,
            [orders_in[i] for i in fresh],
            [hashes[i] for i in fresh],
            stores,
            [str(channel) for channel in channels],
            resolution.customer_ids,
            import_run_id=import_run_id,
            currency=currency,
            now=now,
        )
        for n, (order_id, i) in enumerate(zip(order_ids, fresh, strict=True)):
            outcomes[i] = OrderOutcome(
                status="created", order_id=order_id, customer_id=resolution.customer_ids[n]
            )
        return {}
    conn = session.connection()
    rows = []
    for n, i in enumerate(fresh):
        order_in = orders_in[i]
        line_discounts = sum(line.discount_fen for line in order_in.lines)
        rows.append(
            {
                "source": order_in.source,
                "external_id": order_in.external_id,
                "store_id": stores[n].id,
                "channel": str(channels[n]),
                "customer_id": resolution.customer_ids[n],
                "ordered_at": order_in.ordered_at,
                "currency": currency,
                "gross_fen": order_in.gross_fen,
                "discount_fen": line_discounts + order_in.order_discount_fen,
                "order_discount_fen": order_in.order_discount_fen,
                "total_fen": order_in.paid_fen,
                "payment_method": order_in.payment_method.value
                if order_in.payment_method
                else None,
                "line_count": len(order_in.lines),
                "request_hash": hashes[i],
                "import_run_id": import_run_id,
                "country": order_in.country,
                "province": order_in.province,
                "city": order_in.city,
                "cashier": order_in.cashier,
                "created_at": now,
            }
        )
    order_ids = insert_rows(conn, _ORDERS, rows)
    line_rows = []
    for order_id, i in zip(order_ids, fresh, strict=True):
        for line_no, line in enumerate(orders_in[i].lines, start=1):
            line_rows.append(_line_row(order_id, line_no, line))
    insert_rows(conn, _LINES, line_rows, want_ids=False)  # lines are named by (order, line_no)
    # Their ids were just taken from the orders' sequence: no event names them yet.
    events.publish_many(
        session,
        [_order_created(oid, row) for oid, row in zip(order_ids, rows, strict=True)],
        new=True,
    )
    want_reads = len(fresh) == 1  # a single post answers with the order; bulk calls don't
    reads: dict[int, OrderRead] = {}
    for n, (order_id, i) in enumerate(zip(order_ids, fresh, strict=True)):
        outcomes[i] = OrderOutcome(
            status="created", order_id=order_id, customer_id=resolution.customer_ids[n]
        )
        if want_reads:
            reads[i] = _fresh_read(order_id, stores[n].code, rows[n], line_rows)
    return reads


def _line_row(order_id: int, line_no: int, line: OrderLineIn) -> dict[str, Any]:
    """The stored row of an order's line ``line_no`` (from 1), in a batch or a plain write."""
    return {
        "order_id": order_id,
        "line_no": line_no,
        "sku": line.sku,
        "name": line.name,
        "quantity_milli": line.quantity_milli,
        "unit_price_fen": line.unit_price_fen,
        "discount_fen": line.discount_fen,
        "amount_fen": line.amount_fen,
    }


def _order_created(order_id: int, row: dict[str, Any]) -> events.DomainEvent:
    """The ``order.created`` event of a new order (docs/events.md): ids and amounts only."""
    keys = ("source", "external_id", "channel", "total_fen", "line_count")
    return events.DomainEvent(
        "order.created",
        row["customer_id"],
        row["store_id"],
        {"order_id": order_id, **{k: row[k] for k in keys}},
        f"order.created:{order_id}",
        row["ordered_at"],
    )


def _fresh_read(
    order_id: int, store_code: str, row: dict[str, Any], line_rows: list[dict[str, Any]]
) -> OrderRead:
    return OrderRead(
        id=order_id,
        store_code=store_code,
        refunded_fen=0,
        lines=[
            OrderLineRead(
                line_no=line["line_no"],
                sku=line["sku"],
                name=line["name"],
                quantity=milli_to_quantity(line["quantity_milli"]),
                unit_price_fen=line["unit_price_fen"],
                discount_fen=line["discount_fen"],
                amount_fen=line["amount_fen"],
            )
            for line in line_rows
            if line["order_id"] == order_id
        ],
        **{k: row[k] for k in _READ_FIELDS},
    )


def _note_first_purchases(
    session: Session,
    customer_ids: Sequence[int | None],
    orders_in: Sequence[OrderIn],
    signed_up: dict[int, datetime],
) -> None:
    """A customer is known since their earliest evidence: an order older than the sign-up
    (a file of last year's sales imported after this year's) moves the sign-up back.
    ``signed_up`` holds sign-ups read in this transaction (never earlier than now): a
    customer whose sign-up is already no later than their earliest order is left alone."""
    earliest: dict[int, datetime] = {}
    for customer_id, order_in in zip(customer_ids, orders_in, strict=True):
        if customer_id is not None:
            at = earliest.get(customer_id)
            if at is None or order_in.ordered_at < at:
                earliest[customer_id] = order_in.ordered_at
    for customer_id, at in list(earliest.items()):
        known = signed_up.get(customer_id)
        if known is not None and known <= at:
            del earliest[customer_id]
    if earliest:
        customers.note_earliest_evidence(session=session, earliest=earliest)


def stored_order(
    *, session: Session, order_in: OrderIn, store_ids: frozenset[int] | None = None
) -> OrderWrite | None:
    """The answer to a repeat of ``order_in``: the order stored under its key (created
    False), or None when there is none. Refused as :func:`record_order` refuses it: the key
    of another store's order (``store_ids``, the caller's stores) is OrderOutOfScope, saying
    nothing of it; other content under the key is IdempotencyConflict. It only reads, so a
    repeat can be answered before any write lock is taken."""
    # One indexed look-up of the stored order, then its lines.
    stored = order_row_by_key(session, order_in.source, order_in.external_id)
    if stored is None:
        return None
    _check_repeat(stored, order_in, store_ids)
    return OrderWrite(created=False, order=reads_of_rows(session, [stored])[0])


def plain_stored_order(
    *, reader: PlainReader, order_in: OrderIn, store_ids: frozenset[int] | None = None
) -> OrderWrite | None:
    """:func:`stored_order` outside any transaction (``Database.plain_read``): a single
    post's first statement, whose answer is a repeat's whole read (its lines next) or, when
    None, tells a new order's write that its key was free."""
    stored = plain_order_row_by_key(reader, order_in.source, order_in.external_id)
    if stored is None:
        return None
    _check_repeat(stored, order_in, store_ids)
    return OrderWrite(created=False, order=plain_read_of_row(reader, stored))


def _check_repeat(
    stored: dict[str, Any], order_in: OrderIn, store_ids: frozenset[int] | None
) -> None:
    if store_ids is not None and stored["store_id"] not in store_ids:
        raise OrderOutOfScope("an order under this key belongs to another store")
    if stored["request_hash"] != request_hash(order_in):
        raise IdempotencyConflict(
            f"order {order_in.source}/{order_in.external_id} was already posted with other content",
            source=order_in.source,
            external_id=order_in.external_id,
            order_id=stored["id"],
        )


_PLAIN_EVENTS = ("order.created", *customers.PLAIN_EVENTS)


def plain_record_order(
    *, writer: PlainWriter, order_in: OrderIn, store_ids: frozenset[int] | None = None
) -> OrderWrite | None:
    """:func:`record_order` of a new order (its key found free just before) in a plain
    write (core/db.plain_write), for what it writes in a few driver statements: an order of
    a store kept in this process's copy and one of the caller's, anonymous, of a customer
    who owns every identifier given, or of a new one holding them (customers.plain_resolve),
    its kinds of event taken by no webhook. Then the same rows as record_order's: a new
    customer, or the sign-up moved back; the order, its lines, its event. None, before
    anything is written, for any other order: the caller records it through record_order
    (docs/architecture.md, "Order intake over HTTP")."""
    database = writer.database
    if order_in.store_code is None or not all(
        events.plain_publishable(database, kind) for kind in _PLAIN_EVENTS
    ):
        return None
    store = catalog.kept_store(database, order_in.store_code)
    if store is None or (store_ids is not None and store.id not in store_ids):
        return None
    channel = str(order_in.channel or catalog.channel_for_store_kind(store.kind))
    ref = order_in.customer
    customer_id: int | None = None
    if ref is not None and not ref.is_empty():
        context = customers.ResolveContext(
            source=order_in.source,
            label=f"order {order_in.source}/{order_in.external_id}",
            at=order_in.ordered_at,
            channel=channel,
            store_id=store.id,
        )
        owner = customers.plain_resolve(writer, ref, context)
        if owner is None:
            return None
        customer_id, signed_up_at = owner
        if signed_up_at > order_in.ordered_at:  # as _note_first_purchases
            customers.plain_move_signup_back(writer, customer_id, order_in.ordered_at)
    # The row _insert writes for a single order.
    row = {
        "source": order_in.source,
        "external_id": order_in.external_id,
        "store_id": store.id,
        "channel": channel,
        "customer_id": customer_id,
        "ordered_at": order_in.ordered_at,
        "currency": get_settings().currency,
        "gross_fen": order_in.gross_fen,
        "discount_fen": sum(line.discount_fen for line in order_in.lines)
        + order_in.order_discount_fen,
        "order_discount_fen": order_in.order_discount_fen,
        "total_fen": order_in.paid_fen,
        "payment_method": order_in.payment_method.value if order_in.payment_method else None,
        "line_count": len(order_in.lines),
        "request_hash": request_hash(order_in),
        "import_run_id": None,
        "country": order_in.country,
        "province": order_in.province,
        "city": order_in.city,
        "cashier": order_in.cashier,
        "created_at": utcnow(),
    }
    order_id = writer.insert_one(_ORDERS, row)
    if order_id is None:  # never for the orders table, whose columns all go to the driver
        raise RuntimeError("an order row that needs SQLAlchemy")
    line_rows = [
        _line_row(order_id, line_no, line) for line_no, line in enumerate(order_in.lines, start=1)
    ]
    if not writer.insert_many(_LINES, line_rows):
        raise RuntimeError("order lines that need SQLAlchemy")
    events.publish_plain(writer, _order_created(order_id, row))
    return OrderWrite(created=True, order=_fresh_read(order_id, store.code, row, line_rows))


def record_order(
    *,
    session: Session,
    order_in: OrderIn,
    store_ids: frozenset[int] | None = None,
    actor: Actor | None = None,
    absent: bool = False,
) -> OrderWrite:
    """Store one order, or return the one already stored under its key.

    ``store_ids``, when given, are the stores the caller may sell in; the key of another
    store's order is refused as that order would be (OrderOutOfScope), saying nothing of it.
    ``absent``: the caller found no order under the key (:func:`stored_order`) just before,
    so it is not looked up again; one stored since then fails the key's unique constraint,
    and the caller's retry (``Database.write``) must then pass ``absent=False``.
    """
    if not absent:
        answer = stored_order(session=session, order_in=order_in, store_ids=store_ids)
        if answer is not None:
            return answer
    outcomes, reads = _record(session, [order_in], None, store_ids, actor, absent=True)
    outcome = outcomes[0]
    if outcome.status == "invalid":
        assert outcome.error is not None
        if isinstance(outcome.error, KeyOfAnotherStore):
            raise OrderOutOfScope("an order under this key belongs to another store")
        raise outcome.error
    if outcome.status == "conflict":
        raise IdempotencyConflict(
            f"order {order_in.source}/{order_in.external_id} was already posted with other content",
            source=order_in.source,
            external_id=order_in.external_id,
            order_id=outcome.order_id,
        )
    assert outcome.order_id is not None
    if outcome.status == "created":
        return OrderWrite(created=True, order=reads[0])
    return OrderWrite(
        created=False, order=get_order_or_raise(session=session, order_id=outcome.order_id)
    )
