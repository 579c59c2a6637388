"""What orders do for customers: move and give back a merged customer's orders and
returns (customers.merging's merge participant), and the orders that tie a customer to a
store (customers.scope's purchases, the store-scope rule's other half).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    func,
    literal_column,
    select,
)
from sqlalchemy.orm import Session

from patron.core.ownership import move_owned_rows, restore_owned_rows
from patron.orders.models import Order, SaleReturn
from patron.orders.reads import _CHUNK


def bought_in_stores(customer_id: Any, stores: Any) -> ColumnElement[bool]:
    """Whether the customer ``customer_id`` (a column or subquery) has an order in one of
    ``stores`` (a list or an expanding parameter), as a correlated EXISTS that reads only
    that customer's orders."""
    # The customer's orders first, as a subquery the planner keeps whole (OFFSET 0), and
    # only then their stores: given both conditions at once, PostgreSQL without statistics
    # of the orders (a table that grew since, autovacuum off) ANDed the customer's index
    # with the stores' one, reading every order of the stores for each customer asked.
    theirs = (
        select(Order.store_id)
        .where(Order.customer_id == customer_id)
        .correlate_except(Order)
        .offset(literal_column("0"))
        .subquery("bought")
    )
    return select(theirs.c.store_id).where(theirs.c.store_id.in_(stores)).exists()


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


_OWNED = {"order": Order, "sale_return": SaleReturn}


def move_customer_records(
    *, session: Session, from_customer_id: int, to_customer_id: int
) -> dict[str, list[int]]:
    return move_owned_rows(
        session, _OWNED, from_customer_id=from_customer_id, to_customer_id=to_customer_id
    )


def restore_customer_records(
    *,
    session: Session,
    moved: dict[str, list[int]],
    from_customer_id: int,
    to_customer_id: int,
) -> None:
    restore_owned_rows(
        session, _OWNED, moved, from_customer_id=from_customer_id, to_customer_id=to_customer_id
    )
