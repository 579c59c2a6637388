"""Who bought when: each customer's last order, the customers whose last purchase fell in
a window, each customer's purchases of an SKU (for when a consumable runs out) and the
orders placed after an id (for journeys, docs/journeys.md). Read only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.orders.models import Order, OrderLine

_CHUNK = 1_000


class PlacedOrder(NamedTuple):
    id: int
    customer_id: int
    store_id: int
    ordered_at: datetime
    total_fen: int


class SkuPurchases(NamedTuple):
    customer_id: int
    sku: str
    purchases: int  # orders that held the SKU
    first_at: datetime
    last_at: datetime


def last_orders(
    *, session: Session, customer_ids: Sequence[int]
) -> dict[int, tuple[datetime, int]]:
    """(when, total) of each customer's latest order; customers with none are left out."""
    ids = sorted(set(customer_ids))
    found: dict[int, tuple[datetime, int]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        latest = (
            select(Order.customer_id, func.max(Order.ordered_at).label("at"))
            .where(Order.customer_id.in_(chunk))
            .group_by(Order.customer_id)
            .subquery()
        )
        rows = session.execute(
            select(Order.customer_id, Order.ordered_at, Order.total_fen).join(
                latest,
                (latest.c.customer_id == Order.customer_id) & (latest.c.at == Order.ordered_at),
            )
        )
        for cid, at, total in rows:
            found[int(cid or 0)] = (at, int(total))
    return found


def customers_last_buying_in(
    *, session: Session, start_at: datetime, end_at: datetime
) -> list[int]:
    """Customers whose latest order was placed in [``start_at``, ``end_at``)."""
    last = func.max(Order.ordered_at)
    rows = session.scalars(
        select(Order.customer_id)
        .where(Order.customer_id.is_not(None))
        .group_by(Order.customer_id)
        .having(last >= start_at, last < end_at)
        .order_by(Order.customer_id)
    )
    return [int(c or 0) for c in rows]


def sku_purchases_since(*, session: Session, since: datetime) -> list[SkuPurchases]:
    """Per customer and SKU, the orders since ``since`` that held it: how many, the first
    and the last."""
    rows = session.execute(
        select(
            Order.customer_id,
            OrderLine.sku,
            func.count(func.distinct(Order.id)),
            func.min(Order.ordered_at),
            func.max(Order.ordered_at),
        )
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(Order.customer_id.is_not(None), Order.ordered_at >= since)
        .group_by(Order.customer_id, OrderLine.sku)
    )
    return [SkuPurchases(int(c or 0), sku, int(n), first, last) for c, sku, n, first, last in rows]


def orders_after(*, session: Session, after_id: int, limit: int = 1_000) -> list[PlacedOrder]:
    """Customers' orders with an id above ``after_id``, in id order."""
    rows = session.execute(
        select(Order.id, Order.customer_id, Order.store_id, Order.ordered_at, Order.total_fen)
        .where(Order.id > after_id, Order.customer_id.is_not(None))
        .order_by(Order.id)
        .limit(limit)
    )
    return [PlacedOrder(int(i), int(c or 0), int(s), at, int(t)) for i, c, s, at, t in rows]


def latest_order_id_before(*, session: Session, at: datetime) -> int:
    """The highest id of the orders placed before ``at`` (0: none)."""
    return int(session.scalar(select(func.max(Order.id)).where(Order.ordered_at < at)) or 0)
