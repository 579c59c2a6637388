"""Reads of orders: one order, a customer's orders and timeline, counts, the newest sale.

An order is read with its lines and what was refunded of each, in a fixed number of
indexed queries however many refunds the shop holds. A store-bound caller reads only the
orders of its stores (:func:`get_order_or_raise`, ``store_ids``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Table,
    bindparam,
    func,
    select,
)
from sqlalchemy.orm import Session

from patron.catalog import service as catalog
from patron.core.db import Database, PlainReader, plain_dicts
from patron.core.errors import InvalidInput
from patron.core.money import milli_to_quantity
from patron.core.schemas import Page
from patron.orders.exceptions import (
    OrderNotFound,
    OrderOutOfScope,
)
from patron.orders.models import Order, OrderLine, Refund, RefundLine, SaleReturn
from patron.orders.schemas import (
    ORDER_ATTRIBUTES,
    OrderLineRead,
    OrderRead,
)

_CHUNK = 900
_ORDERS = cast(Table, Order.__table__)
_LINES = cast(Table, OrderLine.__table__)
_REFUND_LINES = cast(Table, RefundLine.__table__)

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
    orders_sql = _orders_with_store_code().where(o.c.id.in_(bindparam("ids", expanding=True)))
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


def _orders_with_store_code() -> Any:
    """Order rows with their store's code, the shape every read of an order starts from."""
    store = catalog.store_table()
    return select(_ORDERS, store.c.code.label("store_code")).join(
        store, store.c.id == _ORDERS.c.store_id
    )


_BY_KEY: dict[str, Any] = {}


def order_row_by_key(session: Session, source: str, external_id: str) -> dict[str, Any] | None:
    """The stored row of the order under a key, with its store's code, in one indexed query
    (an idempotent repeat's first and only look-up before its lines); None when there is none.
    :func:`reads_of_rows` makes the read of it."""
    rows = plain_dicts(
        session.connection(), _by_key(), {"source": source, "external_id": external_id}
    )
    return rows[0] if rows else None


def plain_order_row_by_key(
    reader: PlainReader, source: str, external_id: str
) -> dict[str, Any] | None:
    """:func:`order_row_by_key` outside any transaction (``Database.plain_read``)."""
    rows = reader.dicts(_by_key(), {"source": source, "external_id": external_id})
    return rows[0] if rows else None


def _by_key() -> Any:
    statement = _BY_KEY.get("orders")
    if statement is None:
        o = _ORDERS
        statement = _BY_KEY["orders"] = _orders_with_store_code().where(
            o.c.source == bindparam("source"), o.c.external_id == bindparam("external_id")
        )
    return statement


_KEY_TAKEN = select(_ORDERS.c.id).where(
    _ORDERS.c.source == bindparam("source"), _ORDERS.c.external_id == bindparam("external_id")
)


def key_taken(*, db: Database, source: str, external_id: str) -> bool:
    """Whether an order is stored under the key: one indexed look-up through the driver,
    outside any transaction (a single post's check before its write; a new order's is the
    only look-up its key gets, the key's unique constraint guarding the write)."""
    return db.first_row(_KEY_TAKEN, {"source": source, "external_id": external_id}) is not None


def reads_of_rows(session: Session, rows: Sequence[dict[str, Any]]) -> list[OrderRead]:
    """The reads of orders whose rows were read already (:func:`order_row_by_key`)."""
    return _reads_by_id(session, [r["id"] for r in rows], {r["id"]: r for r in rows})


def plain_read_of_row(reader: PlainReader, row: dict[str, Any]) -> OrderRead:
    """:func:`reads_of_rows` of one row (:func:`plain_order_row_by_key`), its lines read
    outside any transaction."""
    _, lines_sql = _read_statements()
    order_id = row["id"]
    return _reads_of([order_id], {order_id: row}, reader.dicts(lines_sql, {"ids": [order_id]}))[0]


def _reads_by_id(
    session: Session, order_ids: Sequence[int], known: dict[int, dict[str, Any]] | None = None
) -> list[OrderRead]:
    """Orders with their lines and what was refunded of each, in two Core queries per chunk
    (one when the orders' rows are ``known``)."""
    if not order_ids:
        return []
    conn = session.connection()
    orders_sql, lines_sql = _read_statements()
    found: dict[int, dict[str, Any]] = dict(known) if known is not None else {}
    line_rows: list[dict[str, Any]] = []
    for start in range(0, len(order_ids), _CHUNK):
        chunk = list(order_ids[start : start + _CHUNK])
        if known is None:
            for row in plain_dicts(conn, orders_sql, {"ids": chunk}):
                found[row["id"]] = row
        line_rows.extend(plain_dicts(conn, lines_sql, {"ids": chunk}))
    return _reads_of(order_ids, found, line_rows)


def _line_read(row: Mapping[Any, Any], refunded_milli: int, refunded_fen: int) -> OrderLineRead:
    """The read of one stored line (its ``order_line`` row) with what was refunded of it."""
    return OrderLineRead(
        line_no=row["line_no"],
        sku=row["sku"],
        name=row["name"],
        quantity=milli_to_quantity(row["quantity_milli"]),
        unit_price_fen=row["unit_price_fen"],
        discount_fen=row["discount_fen"],
        amount_fen=row["amount_fen"],
        refunded_quantity=milli_to_quantity(refunded_milli),
        refunded_fen=refunded_fen,
    )


def _reads_of(
    order_ids: Sequence[int], found: dict[int, dict[str, Any]], line_rows: list[dict[str, Any]]
) -> list[OrderRead]:
    """The reads of the orders of ``order_ids`` found (their rows by id), from their lines'
    rows with what was refunded of each (``qty``, ``amount``)."""
    lines: dict[int, list[OrderLineRead]] = defaultdict(list)
    refunded_by_order: dict[int, int] = defaultdict(int)
    for row in line_rows:
        amount = int(row["amount"] or 0)
        refunded_by_order[row["order_id"]] += amount
        lines[row["order_id"]].append(_line_read(row, int(row["qty"] or 0), amount))
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
        lines[row["order_id"]].append(_line_read(row, qty, amount))
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
