"""Orders and refunds: idempotent ingestion, reads, and the records a customer merge moves.

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
from datetime import UTC, date, datetime
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Select,
    Table,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from patron import events
from patron.catalog import service as catalog
from patron.catalog.schemas import StoreRead
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.db import insert_rows
from patron.core.errors import InvalidInput
from patron.core.money import milli_to_quantity, parse_quantity, prorate_fen, round_half_up_div
from patron.core.schemas import Page
from patron.core.settings import get_settings
from patron.customers import service as customers
from patron.customers.schemas import CustomerRef
from patron.orders.exceptions import (
    IdempotencyConflict,
    KeyOfAnotherStore,
    OrderNotFound,
    OrderOutOfScope,
    RefundTooLarge,
    StoreOutOfScope,
    UnknownOrder,
    UnknownStore,
)
from patron.orders.models import Order, OrderLine, Refund, RefundLine, SaleReturn
from patron.orders.schemas import (
    ORDER_ATTRIBUTES,
    OrderIn,
    OrderLineRead,
    OrderRead,
    OrderWrite,
    RefundIn,
    RefundLineRead,
    RefundRead,
    RefundWrite,
)

_CHUNK = 900
_ORDERS = cast(Table, Order.__table__)
_LINES = cast(Table, OrderLine.__table__)
_REFUND_LINES = cast(Table, RefundLine.__table__)
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


def _existing_orders(
    session: Session, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, str, int | None, int]]:
    """(id, request hash, customer id, store id) of the orders under these keys."""
    found: dict[tuple[str, str], tuple[int, str, int | None, int]] = {}
    unique = list(dict.fromkeys(keys))
    conn = session.connection()  # Core, prepared once: this runs for every order posted
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        if len(chunk) == 1:
            result = conn.execute(
                _ORDER_BY_KEY, {"source": chunk[0][0], "external_id": chunk[0][1]}
            )
        else:
            # Per source, so the (source, external_id) index answers each IN list.
            t = _ORDERS
            by_source: dict[str, list[str]] = defaultdict(list)
            for source, external_id in chunk:
                by_source[source].append(external_id)
            result = conn.execute(
                select(*_KEY_COLUMNS).where(
                    or_(
                        *(
                            (t.c.source == source) & t.c.external_id.in_(ids)
                            for source, ids in by_source.items()
                        )
                    )
                )
            )
        for source, external_id, order_id, digest, customer_id, store_id in result:
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
) -> list[OrderOutcome]:
    """Store a batch of orders; one outcome per order, in order.

    An order whose key exists is a duplicate (same content) or a conflict (other content);
    an order naming an unknown store, or a store outside ``store_ids`` when given, is
    invalid, and so is one under the key of another store's order (nothing of which is
    told). Neither stops the rest of the batch. ``actor`` posted the orders: who they may
    merge or change is theirs to say (customers/identity.py); default the system.
    ``currency`` is the orders' currency when it is not the shop's (a file the user
    confirmed was in another one).
    """
    return _record(session, orders_in, import_run_id, store_ids, actor, currency)[0]


def _record(
    session: Session,
    orders_in: Sequence[OrderIn],
    import_run_id: int | None,
    store_ids: frozenset[int] | None = None,
    actor: Actor | None = None,
    currency: str | None = None,
) -> tuple[list[OrderOutcome], dict[int, OrderRead]]:
    """record_orders, plus the read of each order it created (built without a query)."""
    hashes = [request_hash(o) for o in orders_in]
    existing = _existing_orders(session, [(o.source, o.external_id) for o in orders_in])
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
    _note_first_purchases(session, resolution.customer_ids, [orders_in[i] for i in fresh])
    now = utcnow()
    currency = currency or get_settings().currency
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
            line_rows.append(
                {
                    "order_id": order_id,
                    "line_no": line_no,
                    "sku": line.sku,
                    "name": line.name,
                    "quantity_milli": line.quantity_milli,
                    "unit_price_fen": line.unit_price_fen,
                    "discount_fen": line.discount_fen,
                    "amount_fen": line.amount_fen,
                }
            )
    insert_rows(conn, _LINES, line_rows, want_ids=False)  # lines are named by (order, line_no)
    events.publish_many(
        session, [_order_created(oid, row) for oid, row in zip(order_ids, rows, strict=True)]
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
    session: Session, customer_ids: Sequence[int | None], orders_in: Sequence[OrderIn]
) -> None:
    """A customer is known since their earliest evidence: an order older than the sign-up
    (a file of last year's sales imported after this year's) moves the sign-up back."""
    earliest: dict[int, datetime] = {}
    for customer_id, order_in in zip(customer_ids, orders_in, strict=True):
        if customer_id is not None:
            at = earliest.get(customer_id)
            if at is None or order_in.ordered_at < at:
                earliest[customer_id] = order_in.ordered_at
    if earliest:
        customers.note_earliest_evidence(session=session, earliest=earliest)


_READ_FIELDS = (
    "source",
    "external_id",
    "channel",
    "customer_id",
    "ordered_at",
    "currency",
    "gross_fen",
    "discount_fen",
    "order_discount_fen",
    "total_fen",
    "payment_method",
    "created_at",
    *ORDER_ATTRIBUTES,
)


def record_order(
    *,
    session: Session,
    order_in: OrderIn,
    store_ids: frozenset[int] | None = None,
    actor: Actor | None = None,
) -> OrderWrite:
    """Store one order, or return the one already stored under its key.

    ``store_ids``, when given, are the stores the caller may sell in; the key of another
    store's order is refused as that order would be (OrderOutOfScope), saying nothing of it.
    """
    outcomes, reads = _record(session, [order_in], None, store_ids, actor)
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


# ---------------------------------------------------------------------------------- reads


def _refunded_by_line(session: Session, line_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """line id → (quantity_milli, amount_fen) refunded so far."""
    result: dict[int, tuple[int, int]] = {}
    for start in range(0, len(line_ids), _CHUNK):
        chunk = line_ids[start : start + _CHUNK]
        rows = session.execute(
            select(
                RefundLine.order_line_id,
                func.sum(RefundLine.quantity_milli),
                func.sum(RefundLine.amount_fen),
            )
            .where(RefundLine.order_line_id.in_(chunk))
            .group_by(RefundLine.order_line_id)
        )
        for line_id, qty, amount in rows:
            result[line_id] = (int(qty or 0), int(amount or 0))
    return result


def _order_reads(session: Session, orders: Sequence[Order]) -> list[OrderRead]:
    return _reads_by_id(session, [o.id for o in orders])


_READ_STATEMENTS: dict[str, Any] = {}


def _read_statements() -> tuple[Any, Any]:
    """The two statements of an order read, built once (the ids an expanding parameter).

    What was refunded of each line is summed over that line's own refund lines (by their
    index), so a read costs the same however many refunds the shop holds."""
    found = _READ_STATEMENTS.get("orders"), _READ_STATEMENTS.get("lines")
    if found[0] is not None and found[1] is not None:
        return found
    o, ln, rl = _ORDERS, _LINES, _REFUND_LINES
    store = catalog.store_table()
    orders_sql = (
        select(o, store.c.code.label("store_code"))
        .join(store, store.c.id == o.c.store_id)
        .where(o.c.id.in_(bindparam("ids", expanding=True)))
    )
    lines_sql = (
        select(
            ln,
            func.sum(rl.c.quantity_milli).label("qty"),
            func.sum(rl.c.amount_fen).label("amount"),
        )
        .outerjoin(rl, rl.c.order_line_id == ln.c.id)
        .where(ln.c.order_id.in_(bindparam("ids", expanding=True)))
        .group_by(*ln.c)
        .order_by(ln.c.order_id, ln.c.line_no)
    )
    _READ_STATEMENTS.update(orders=orders_sql, lines=lines_sql)
    return orders_sql, lines_sql


def _reads_by_id(session: Session, order_ids: Sequence[int]) -> list[OrderRead]:
    """Orders with their lines and what was refunded of each, in two Core queries per chunk."""
    if not order_ids:
        return []
    conn = session.connection()
    orders_sql, lines_sql = _read_statements()
    found: dict[int, dict[str, Any]] = {}
    lines: dict[int, list[OrderLineRead]] = defaultdict(list)
    refunded_by_order: dict[int, int] = defaultdict(int)
    for start in range(0, len(order_ids), _CHUNK):
        chunk = list(order_ids[start : start + _CHUNK])
        for row in conn.execute(orders_sql, {"ids": chunk}).mappings():
            found[row["id"]] = dict(row)
        for row in conn.execute(lines_sql, {"ids": chunk}).mappings():
            amount = int(row["amount"] or 0)
            refunded_by_order[row["order_id"]] += amount
            lines[row["order_id"]].append(
                OrderLineRead(
                    line_no=row["line_no"],
                    sku=row["sku"],
                    name=row["name"],
                    quantity=milli_to_quantity(row["quantity_milli"]),
                    unit_price_fen=row["unit_price_fen"],
                    discount_fen=row["discount_fen"],
                    amount_fen=row["amount_fen"],
                    refunded_quantity=milli_to_quantity(int(row["qty"] or 0)),
                    refunded_fen=amount,
                )
            )
    reads = []
    for order_id in order_ids:
        order = found.get(order_id)
        if order is None:
            continue
        reads.append(
            OrderRead(
                id=order_id,
                store_code=order["store_code"],
                refunded_fen=refunded_by_order[order_id],
                lines=lines[order_id],
                **{k: order[k] for k in _READ_FIELDS},
            )
        )
    return reads


def get_order(*, session: Session, order_id: int) -> OrderRead | None:
    reads = _reads_by_id(session, [order_id])
    return reads[0] if reads else None


def get_order_or_raise(
    *, session: Session, order_id: int, store_ids: frozenset[int] | None = None
) -> OrderRead:
    """The order; ``store_ids``, when given, must include its store (else OrderOutOfScope)."""
    order = get_order(session=session, order_id=order_id)
    if order is None:
        raise OrderNotFound(f"no order {order_id}", order_id=order_id)
    if store_ids is not None:
        store = catalog.stores_by_code(session=session, codes={order.store_code})
        _check_in_scope(order.id, store[order.store_code].id, store_ids)
    return order


def get_order_by_key(
    *,
    session: Session,
    source: str,
    external_id: str,
    store_ids: frozenset[int] | None = None,
) -> OrderRead | None:
    """The order under a key; ``store_ids`` as in :func:`get_order_or_raise`."""
    order = session.scalar(
        select(Order).where(Order.source == source, Order.external_id == external_id)
    )
    if order is None:
        return None
    _check_in_scope(order.id, order.store_id, store_ids)
    return _order_reads(session, [order])[0]


def _check_in_scope(order_id: int, store_id: int, store_ids: frozenset[int] | None) -> None:
    """A store-bound caller may only touch orders sold in its stores."""
    if store_ids is not None and store_id not in store_ids:
        # No facts: the caller may have named the order by its key, and learns nothing more.
        raise OrderOutOfScope("this order belongs to another store")


def list_customer_orders(
    *,
    session: Session,
    customer_id: int,
    limit: int = 50,
    cursor: str | None = None,
    store_ids: frozenset[int] | None = None,
) -> Page[OrderRead]:
    """A customer's orders, newest first; only those sold in ``store_ids`` when given (a
    store-bound caller sees its stores' orders, here as everywhere). The cursor is the last
    order's id."""
    query = (
        select(Order)
        .where(Order.customer_id == customer_id)
        .order_by(Order.ordered_at.desc(), Order.id.desc())
        .limit(limit + 1)
    )
    if store_ids is not None:
        query = query.where(Order.store_id.in_(sorted(store_ids)))
    if cursor:
        try:
            last = session.get(Order, int(cursor))
        except ValueError:
            last = None
        if last is None:
            raise InvalidInput("cursor", "not a cursor this API gave out")
        query = query.where(
            (Order.ordered_at < last.ordered_at)
            | ((Order.ordered_at == last.ordered_at) & (Order.id < last.id))
        )
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page[OrderRead](
        items=_order_reads(session, rows), next_cursor=str(rows[-1].id) if more and rows else None
    )


def count_orders_of(*, session: Session, customer_ids: Sequence[int]) -> dict[int, int]:
    """How many orders each of these customers has (those with none left out)."""
    found: dict[int, int] = {}
    ids = sorted(set(customer_ids))
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(Order.customer_id, func.count())
            .where(Order.customer_id.in_(ids[start : start + _CHUNK]))
            .group_by(Order.customer_id)
        )
        found.update({int(cid): int(n) for cid, n in rows if cid is not None})
    return found


def customers_buying_in(*, store_ids: frozenset[int]) -> Select[int | None]:
    """The ids of customers with an order in one of ``store_ids``, as a subquery."""
    return select(Order.customer_id).where(
        Order.store_id.in_(store_ids), Order.customer_id.is_not(None)
    )


def line_ids(*, session: Session, order_id: int) -> dict[int, int]:
    """An order's line ids by line number."""
    return dict(
        session.execute(
            select(OrderLine.line_no, OrderLine.id).where(OrderLine.order_id == order_id)
        ).all()
    )


def count_orders(*, session: Session, import_run_id: int | None = None) -> int:
    """How many orders Patron holds (those a file import wrote, with ``import_run_id``)."""
    query = select(func.count()).select_from(Order)
    if import_run_id is not None:
        query = query.where(Order.import_run_id == import_run_id)
    return int(session.scalar(query) or 0)


# -------------------------------------------------------------------------------- refunds


def _paid_per_line(order: Order, lines: Sequence[OrderLine]) -> list[int]:
    """What the customer paid for each line: its amount less its share of the order discount."""
    shares = prorate_fen(order.order_discount_fen, [ln.amount_fen for ln in lines])
    return [ln.amount_fen - share for ln, share in zip(lines, shares, strict=True)]


def _find_refunded_order(session: Session, refund_in: RefundIn) -> Order:
    if refund_in.order_id is not None:
        order = session.get(Order, refund_in.order_id, with_for_update=True)
        if order is None:
            raise UnknownOrder("order_id", f"no order {refund_in.order_id}")
        return order
    source = refund_in.order_source or refund_in.source
    order = session.scalar(
        select(Order)
        .where(Order.source == source, Order.external_id == refund_in.order_external_id)
        .with_for_update()
    )
    if order is None:
        raise UnknownOrder(
            "order_external_id", f"no order {refund_in.order_external_id!r} from source {source!r}"
        )
    return order


def record_refund(
    *,
    session: Session,
    refund_in: RefundIn,
    import_run_id: int | None = None,
    store_ids: frozenset[int] | None = None,
) -> RefundWrite:
    """Take goods or money back against one order, never more than is left on each line.

    ``store_ids``, when given, are the stores whose orders the caller may refund.
    """
    digest = request_hash(refund_in)
    existing = session.scalar(
        select(Refund).where(
            Refund.source == refund_in.source, Refund.external_id == refund_in.external_id
        )
    )
    if existing is not None and store_ids is not None:
        sold_in = session.scalar(select(Order.store_id).where(Order.id == existing.order_id))
        if sold_in not in store_ids:  # another store's refund: nothing of it is told
            raise OrderOutOfScope("a refund under this key belongs to another store")
    if existing is not None:
        if existing.request_hash != digest:
            raise IdempotencyConflict(
                f"refund {refund_in.source}/{refund_in.external_id} was already posted with other content",
                source=refund_in.source,
                external_id=refund_in.external_id,
            )
        return RefundWrite(created=False, refund=_refund_read(session, existing))

    order = _find_refunded_order(session, refund_in)
    _check_in_scope(order.id, order.store_id, store_ids)
    if refund_in.refunded_at < order.ordered_at:
        raise InvalidInput("refunded_at", "is before the order was placed")
    lines = list(
        session.scalars(
            select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.line_no)
        )
    )
    paid = _paid_per_line(order, lines)
    done = _refunded_by_line(session, [ln.id for ln in lines])
    by_no = {ln.line_no: n for n, ln in enumerate(lines)}

    wanted: list[tuple[int, int | None, int | None, str]] = []  # (index, qty, amount, field)
    if refund_in.lines:
        for k, line_in in enumerate(refund_in.lines):
            if line_in.line_no not in by_no:
                raise InvalidInput(f"lines.{k}.line_no", f"order has lines 1 to {len(lines)}")
            qty = parse_quantity(line_in.quantity) if line_in.quantity is not None else None
            wanted.append((by_no[line_in.line_no], qty, line_in.amount_fen, f"lines.{k}"))
    else:
        wanted = [(n, None, None, "lines") for n in range(len(lines))]

    refund_lines = []
    for n, qty, amount, field in wanted:
        line = lines[n]
        qty_done, amount_done = done.get(line.id, (0, 0))
        qty_left = line.quantity_milli - qty_done
        amount_left = paid[n] - amount_done
        if qty is None:
            qty = qty_left
        if qty > qty_left:
            raise RefundTooLarge(
                f"{field}.quantity",
                f"only {milli_to_quantity(qty_left)} left to refund on line {line.line_no}",
            )
        if amount is None:
            if qty == qty_left:
                amount = amount_left
            else:
                share = round_half_up_div(paid[n] * qty, line.quantity_milli)
                amount = min(share, amount_left)
        if amount > amount_left:
            raise RefundTooLarge(
                f"{field}.amount_fen",
                f"only {amount_left} fen left to refund on line {line.line_no}",
            )
        if qty == 0 and amount == 0:
            if refund_in.lines:
                raise RefundTooLarge(f"{field}", f"line {line.line_no} is already fully refunded")
            continue
        refund_lines.append((line, qty, amount))
    if not refund_lines:
        raise RefundTooLarge(
            "lines", f"order {order.source}/{order.external_id} is already fully refunded"
        )

    refund_store_id = None
    if refund_in.store_code is not None:
        store = catalog.stores_by_code(session=session, codes={refund_in.store_code}).get(
            refund_in.store_code
        )
        if store is None:
            raise UnknownStore("store_code", f"no store with code {refund_in.store_code!r}")
        refund_store_id = store.id
    refund = Refund(
        order_id=order.id,
        store_id=refund_store_id,
        source=refund_in.source,
        external_id=refund_in.external_id,
        amount_fen=sum(a for _, _, a in refund_lines),
        reason=refund_in.reason,
        refunded_at=refund_in.refunded_at,
        request_hash=digest,
        import_run_id=import_run_id,
    )
    session.add(refund)
    session.flush()
    session.add_all(
        RefundLine(
            refund_id=refund.id, order_line_id=line.id, quantity_milli=qty, amount_fen=amount
        )
        for line, qty, amount in refund_lines
    )
    session.flush()
    events.publish(
        session,
        "refund.created",
        customer_id=order.customer_id,
        store_id=refund.store_id,
        properties={"refund_id": refund.id, "order_id": order.id, "amount_fen": refund.amount_fen},
        event_id=f"refund.created:{refund.id}",
        occurred_at=refund.refunded_at,
    )
    return RefundWrite(created=True, refund=_refund_read(session, refund))


def get_refund_by_key(*, session: Session, source: str, external_id: str) -> RefundRead | None:
    refund = session.scalar(
        select(Refund).where(Refund.source == source, Refund.external_id == external_id)
    )
    return _refund_read(session, refund) if refund else None


def _refund_read(session: Session, refund: Refund) -> RefundRead:
    rows = session.execute(
        select(RefundLine, OrderLine.line_no)
        .join(OrderLine, OrderLine.id == RefundLine.order_line_id)
        .where(RefundLine.refund_id == refund.id)
        .order_by(OrderLine.line_no)
    ).all()
    return RefundRead(
        id=refund.id,
        order_id=refund.order_id,
        source=refund.source,
        external_id=refund.external_id,
        amount_fen=refund.amount_fen,
        reason=refund.reason,
        refunded_at=refund.refunded_at,
        lines=[
            RefundLineRead(
                order_line_id=rl.order_line_id,
                line_no=line_no,
                quantity=milli_to_quantity(rl.quantity_milli),
                amount_fen=rl.amount_fen,
            )
            for rl, line_no in rows
        ],
    )


# --------------------------------------------------------------- customer merge participant


def move_customer_records(
    *, session: Session, from_customer_id: int, to_customer_id: int
) -> dict[str, list[int]]:
    moved: dict[str, list[int]] = {}
    for name, model in (("order", Order), ("sale_return", SaleReturn)):
        ids = list(session.scalars(select(model.id).where(model.customer_id == from_customer_id)))
        if ids:
            session.execute(
                update(model)
                .where(model.customer_id == from_customer_id)
                .values(customer_id=to_customer_id)
            )
        moved[name] = ids
    return moved


def restore_customer_records(
    *,
    session: Session,
    moved: dict[str, list[int]],
    from_customer_id: int,
    to_customer_id: int,
) -> None:
    for name, model in (("order", Order), ("sale_return", SaleReturn)):
        ids = moved.get(name, [])
        for start in range(0, len(ids), _CHUNK):
            session.execute(
                update(model)
                .where(
                    model.id.in_(ids[start : start + _CHUNK]),
                    model.customer_id == from_customer_id,
                )
                .values(customer_id=to_customer_id)
            )


def latest_sale_day(*, session: Session, zone: ZoneInfo) -> date | None:
    """The business day (in ``zone``) of the newest order, None before the first."""
    newest = session.scalar(select(func.max(Order.ordered_at)))
    if newest is None:
        return None
    if isinstance(newest, str):
        newest = datetime.fromisoformat(newest)
    if newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)
    return newest.astimezone(zone).date()


def latest_order_ids(*, session: Session) -> tuple[int, int, int]:
    """The newest order, refund and return ids: cheap to read, they change whenever sales do."""
    return (
        int(session.scalar(select(func.max(Order.id))) or 0),
        int(session.scalar(select(func.max(Refund.id))) or 0),
        int(session.scalar(select(func.max(SaleReturn.id))) or 0),
    )


def list_customer_timeline(
    *,
    session: Session,
    customer_id: int,
    limit: int = 10,
    cursor: str | None = None,
    store_ids: frozenset[int] | None = None,
) -> Page[OrderRead]:
    """A customer's orders with their lines, newest first, for the console's 360 page.

    The same answer as :func:`list_customer_orders` (``store_ids`` alike), read so that a
    page costs three indexed queries (orders, their lines, refunds of those lines) however
    large the refund table grows.
    """
    store = catalog.store_table()
    query = (
        select(_ORDERS, store.c.code.label("store_code"))
        .join(store, store.c.id == _ORDERS.c.store_id)
        .where(_ORDERS.c.customer_id == customer_id)
        .order_by(_ORDERS.c.ordered_at.desc(), _ORDERS.c.id.desc())
        .limit(limit + 1)
    )
    if store_ids is not None:
        query = query.where(_ORDERS.c.store_id.in_(sorted(store_ids)))
    if cursor:
        last = None
        if cursor.isdigit():
            last = session.execute(
                select(_ORDERS.c.id, _ORDERS.c.ordered_at).where(
                    _ORDERS.c.id == int(cursor), _ORDERS.c.customer_id == customer_id
                )
            ).first()
        if last is None:
            raise InvalidInput("cursor", "not a cursor this API gave out")
        query = query.where(
            (_ORDERS.c.ordered_at < last.ordered_at)
            | ((_ORDERS.c.ordered_at == last.ordered_at) & (_ORDERS.c.id < last.id))
        )
    conn = session.connection()
    rows = list(conn.execute(query).mappings())
    more = len(rows) > limit
    found = {row["id"]: row for row in rows[:limit]}
    ids = list(found)
    if not ids:
        return Page[OrderRead](items=[], next_cursor=None)
    line_rows = list(
        conn.execute(
            select(_LINES)
            .where(_LINES.c.order_id.in_(ids))
            .order_by(_LINES.c.order_id, _LINES.c.line_no)
        ).mappings()
    )
    refunded: dict[int, tuple[int, int]] = {}
    line_ids = [row["id"] for row in line_rows]
    for start in range(0, len(line_ids), _CHUNK):
        for line_id, qty, amount in conn.execute(
            select(
                _REFUND_LINES.c.order_line_id,
                func.sum(_REFUND_LINES.c.quantity_milli),
                func.sum(_REFUND_LINES.c.amount_fen),
            )
            .where(_REFUND_LINES.c.order_line_id.in_(line_ids[start : start + _CHUNK]))
            .group_by(_REFUND_LINES.c.order_line_id)
        ):
            refunded[line_id] = (int(qty or 0), int(amount or 0))
    lines: dict[int, list[OrderLineRead]] = defaultdict(list)
    refunded_by_order: dict[int, int] = defaultdict(int)
    for row in line_rows:
        qty, amount = refunded.get(row["id"], (0, 0))
        refunded_by_order[row["order_id"]] += amount
        lines[row["order_id"]].append(
            OrderLineRead(
                line_no=row["line_no"],
                sku=row["sku"],
                name=row["name"],
                quantity=milli_to_quantity(row["quantity_milli"]),
                unit_price_fen=row["unit_price_fen"],
                discount_fen=row["discount_fen"],
                amount_fen=row["amount_fen"],
                refunded_quantity=milli_to_quantity(qty),
                refunded_fen=amount,
            )
        )
    items = [
        OrderRead(
            id=order_id,
            store_code=found[order_id]["store_code"],
            refunded_fen=refunded_by_order[order_id],
            lines=lines[order_id],
            **{k: found[order_id][k] for k in _READ_FIELDS},
        )
        for order_id in ids
    ]
    return Page[OrderRead](items=items, next_cursor=str(ids[-1]) if more else None)
