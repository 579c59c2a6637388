"""Returns: finding the sale a return undoes, and keeping a return whose sale Patron lacks.

A return (a cancellation invoice, a negative line, a refunded status) takes back its own
amount: its quantity × its price, less its discount. When the sale it undoes is in Patron it
becomes a refund of that sale (:func:`find_sale_for_return` picks it: the same customer, the
same SKU, made no later than the return, with enough quantity and money left to take back,
the latest such). When it is not, it is kept as a **return without a known sale**
(:func:`record_returns`): for the customer, the store, the day and the SKU, counted in net
sales (``orders.sales``), in the customer's spend and value, and in the loyalty tier window
(:func:`returned_fen_column`). A return is never put on another customer's order, nor on a
sale made after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import ColumnElement, Table, func, select, tuple_
from sqlalchemy.orm import Session

from patron.catalog import service as catalog
from patron.catalog.schemas import StoreRead
from patron.core.clock import utcnow
from patron.core.db import insert_rows
from patron.core.money import milli_to_quantity
from patron.customers import service as customers
from patron.orders.exceptions import UnknownStore
from patron.orders.models import Order, OrderLine, Refund, RefundLine, SaleReturn
from patron.orders.refunds import paid_per_line
from patron.orders.schemas import ReturnLineIn, ReturnRead

_CHUNK = 900
_RETURNS = cast(Table, SaleReturn.__table__)
_CANDIDATES = 50  # the customer's latest sales of the SKU looked at for one return line


@dataclass(frozen=True, slots=True)
class SaleLine:
    """The sale line a return goes back against."""

    order_id: int
    line_no: int
    line_id: int


@dataclass(slots=True)
class Taken:
    """Quantity and money already set against sale lines by returns not yet written."""

    by_line: dict[int, tuple[int, int]]

    def __init__(self) -> None:
        self.by_line = {}

    def add(self, line_id: int, quantity_milli: int, amount_fen: int) -> None:
        qty, amount = self.by_line.get(line_id, (0, 0))
        self.by_line[line_id] = (qty + quantity_milli, amount + amount_fen)


def find_sale_for_return(
    *,
    session: Session,
    customer_id: int | None,
    sku: str,
    quantity_milli: int,
    amount_fen: int,
    at: datetime,
    taken: Taken | None = None,
) -> SaleLine | None:
    """The sale line a return of ``quantity_milli`` of ``sku`` worth ``amount_fen`` made at
    ``at`` most plausibly undoes: the latest line of this customer's orders placed no later
    than ``at`` with that much quantity and money left to take back. None for an anonymous
    return, or when no sale qualifies (the return is then one without a known sale).

    Exports such as the UCI Online Retail file record a cancellation as its own invoice
    without naming the sale it cancels; ``taken`` holds what returns matched earlier in the
    same batch have claimed but not yet written.
    """
    if customer_id is None:
        return None
    owner = customers.active_customer_id(session=session, customer_id=customer_id)
    candidates = session.execute(
        select(
            OrderLine.id,
            OrderLine.order_id,
            OrderLine.line_no,
            OrderLine.quantity_milli,
            OrderLine.amount_fen,
            Order.order_discount_fen,
        )
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.customer_id == owner, OrderLine.sku == sku, Order.ordered_at <= at)
        .order_by(Order.ordered_at.desc(), Order.id.desc(), OrderLine.line_no)
        .limit(_CANDIDATES)
    ).all()
    if not candidates:
        return None
    done = _taken_back(session, [c[0] for c in candidates])
    claimed = taken.by_line if taken is not None else {}
    for line_id, order_id, line_no, qty, amount, order_discount in candidates:
        paid = amount if not order_discount else _paid_share(session, order_id, line_id)
        qty_done, amount_done = done.get(line_id, (0, 0))
        qty_claimed, amount_claimed = claimed.get(line_id, (0, 0))
        qty_left = qty - qty_done - qty_claimed
        amount_left = paid - amount_done - amount_claimed
        if qty_left >= quantity_milli and amount_left >= amount_fen:
            return SaleLine(order_id=order_id, line_no=line_no, line_id=line_id)
    return None


def _taken_back(session: Session, line_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """line id → (quantity_milli, amount_fen) refunded so far."""
    rows = session.execute(
        select(
            RefundLine.order_line_id,
            func.sum(RefundLine.quantity_milli),
            func.sum(RefundLine.amount_fen),
        )
        .where(RefundLine.order_line_id.in_(list(line_ids)))
        .group_by(RefundLine.order_line_id)
    )
    return {line_id: (int(q or 0), int(a or 0)) for line_id, q, a in rows}


def _paid_share(session: Session, order_id: int, line_id: int) -> int:
    """What was paid for one line of an order with an order-level discount: its amount less
    its share of that discount (as a refund reckons it)."""
    order = session.get(Order, order_id)
    lines = list(
        session.scalars(
            select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.line_no)
        )
    )
    if order is None:
        return 0
    paid = paid_per_line(order, lines)
    return next((p for line, p in zip(lines, paid, strict=True) if line.id == line_id), 0)


# ----------------------------------------------------------------- returns without a sale

ReturnStatus = Literal["created", "duplicate"]


@dataclass(frozen=True, slots=True)
class ReturnOutcome:
    status: ReturnStatus
    return_id: int


def record_returns(
    *,
    session: Session,
    returns_in: Sequence[ReturnLineIn],
    import_run_id: int | None = None,
) -> list[ReturnOutcome]:
    """Keep returns without a known sale, one outcome per line, in order.

    A line whose key ``(source, external_id, line_no)`` is already kept is a duplicate and
    changes nothing. Raises UnknownStore for a store code Patron does not have.
    """
    if not returns_in:
        return []
    existing = _existing(session, [(r.source, r.external_id, r.line_no) for r in returns_in])
    stores = catalog.stores_by_code(
        session=session, codes={r.store_code for r in returns_in if r.store_code}
    )
    default_store: StoreRead | None = None
    outcomes: list[ReturnOutcome | None] = [None] * len(returns_in)
    rows: list[dict[str, Any]] = []
    fresh: list[int] = []
    seen: dict[tuple[str, str, int], int] = {}
    now = utcnow()
    earliest: dict[int, datetime] = {}
    for i, line in enumerate(returns_in):
        key = (line.source, line.external_id, line.line_no)
        if key in existing:
            outcomes[i] = ReturnOutcome(status="duplicate", return_id=existing[key])
            continue
        if key in seen:
            continue  # pointed at the first one's id below
        if line.store_code is None:
            if default_store is None:
                default_store = catalog.ensure_default_store(session=session)
            store = default_store
        else:
            found = stores.get(line.store_code)
            if found is None:
                raise UnknownStore("store_code", f"no store with code {line.store_code!r}")
            store = found
        seen[key] = i
        fresh.append(i)
        rows.append(
            {
                "source": line.source,
                "external_id": line.external_id,
                "line_no": line.line_no,
                "store_id": store.id,
                "channel": str(line.channel or catalog.channel_for_store_kind(store.kind)),
                "customer_id": line.customer_id,
                "returned_at": line.returned_at,
                "sku": line.sku,
                "name": line.name,
                "quantity_milli": line.quantity_milli,
                "amount_fen": line.amount_fen,
                "reason": line.reason,
                "import_run_id": import_run_id,
                "created_at": now,
            }
        )
        if line.customer_id is not None:
            at = earliest.get(line.customer_id)
            if at is None or line.returned_at < at:
                earliest[line.customer_id] = line.returned_at
    ids = insert_rows(session.connection(), _RETURNS, rows)
    for i, new_id in zip(fresh, ids, strict=True):
        outcomes[i] = ReturnOutcome(status="created", return_id=new_id)
    for i, line in enumerate(returns_in):
        if outcomes[i] is None:
            first = outcomes[seen[(line.source, line.external_id, line.line_no)]]
            assert first is not None
            outcomes[i] = ReturnOutcome(status="duplicate", return_id=first.return_id)
    # Known since their earliest evidence: a return is evidence of a purchase before it.
    customers.note_earliest_evidence(session=session, earliest=earliest)
    return cast(list[ReturnOutcome], outcomes)


def _existing(
    session: Session, keys: Sequence[tuple[str, str, int]]
) -> dict[tuple[str, str, int], int]:
    found: dict[tuple[str, str, int], int] = {}
    unique = list(dict.fromkeys(keys))
    t = _RETURNS
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        rows = session.execute(
            select(t.c.source, t.c.external_id, t.c.line_no, t.c.id).where(
                tuple_(t.c.source, t.c.external_id, t.c.line_no).in_(chunk)
            )
        )
        for source, external_id, line_no, return_id in rows:
            found[(source, external_id, line_no)] = return_id
    return found


def count_returns(*, session: Session, import_run_id: int | None = None) -> int:
    """How many return lines without a known sale Patron keeps (of one import run)."""
    query = select(func.count()).select_from(_RETURNS)
    if import_run_id is not None:
        query = query.where(_RETURNS.c.import_run_id == import_run_id)
    return int(session.scalar(query) or 0)


def keys_in_use(*, session: Session, source: str, external_ids: Sequence[str]) -> set[str]:
    """Which of these keys of ``source`` a refund or a kept return already holds: a batch of
    returns finds the ones written before in two queries, not two per return."""
    found: set[str] = set()
    ids = list(dict.fromkeys(external_ids))
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        found.update(
            session.scalars(
                select(Refund.external_id).where(
                    Refund.source == source, Refund.external_id.in_(chunk)
                )
            )
        )
        found.update(
            session.scalars(
                select(_RETURNS.c.external_id).where(
                    _RETURNS.c.source == source, _RETURNS.c.external_id.in_(chunk)
                )
            )
        )
    return found


def list_returns(
    *,
    session: Session,
    customer_id: int | None = None,
    source: str | None = None,
    external_id: str | None = None,
    limit: int = 100,
) -> list[ReturnRead]:
    """Returns without a known sale, newest first: a customer's, or those under one key."""
    store = catalog.store_table()
    query = (
        select(_RETURNS, store.c.code.label("store_code"))
        .join(store, store.c.id == _RETURNS.c.store_id)
        .order_by(_RETURNS.c.returned_at.desc(), _RETURNS.c.id.desc())
        .limit(limit)
    )
    if customer_id is not None:
        query = query.where(_RETURNS.c.customer_id == customer_id)
    if source is not None:
        query = query.where(_RETURNS.c.source == source)
    if external_id is not None:
        query = query.where(_RETURNS.c.external_id == external_id)
    return [
        ReturnRead(
            id=row["id"],
            source=row["source"],
            external_id=row["external_id"],
            line_no=row["line_no"],
            store_code=row["store_code"],
            channel=row["channel"],
            customer_id=row["customer_id"],
            returned_at=row["returned_at"],
            sku=row["sku"],
            name=row["name"],
            quantity=milli_to_quantity(row["quantity_milli"]),
            amount_fen=row["amount_fen"],
            reason=row["reason"],
        )
        for row in session.execute(query).mappings()
    ]


def returned_fen_column(
    customer_id: ColumnElement[Any], since: Any, now: Any
) -> ColumnElement[int]:
    """SQL for what returns without a known sale of ``customer_id`` took back in
    (``since``, ``now``]: the loyalty tier window's spend is net of them."""
    r = _RETURNS.c
    return (
        select(func.coalesce(func.sum(r.amount_fen), 0))
        .where(r.customer_id == customer_id, r.returned_at > since, r.returned_at <= now)
        .scalar_subquery()
    )


def customers_returning(*, since: Any, now: Any) -> Any:
    """The ids of customers with a return without a known sale in (``since``, ``now``], as a
    subquery."""
    r = _RETURNS.c
    return select(r.customer_id).where(
        r.customer_id.is_not(None), r.returned_at > since, r.returned_at <= now
    )
