"""The store-scope rule: a customer belongs to a store that is their home store or where
they bought (an order there).

This module is the rule's one home. Customers' own reads (lists, look-ups, the till's
check), identity resolution (customers/identity.py) and other domains' scoped reads
(``customer_ids_in_stores``, ``belongs_to_stores``) all use it. Where a customer bought is
orders' to say: orders offers the :class:`Purchases` functions
(``patron.orders.participant``), named here by module as merge participants are
(``customers.merging.MERGE_PARTICIPANTS``), so customers imports nothing of orders and
orders builds on customers, not back (docs/architecture.md, "Boundaries").
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from functools import cache
from typing import Any, Protocol, cast

from sqlalchemy import ColumnElement, Select, bindparam, or_, select
from sqlalchemy.orm import Session, aliased

from patron.customers.models import Customer

# The module whose functions say where customers bought (its orders).
PURCHASES = "patron.orders.participant"

_CHUNK = 400  # ids per IN list


class Purchases(Protocol):
    def bought_in_stores(self, customer_id: Any, stores: Any) -> ColumnElement[bool]:
        """Whether ``customer_id`` (a column or subquery) bought in one of ``stores``."""
        ...

    def customers_buying_in(self, *, store_ids: frozenset[int]) -> Select[Any]:
        """The ids of customers who bought in one of ``store_ids``, as a subquery."""
        ...

    def count_orders_of(self, *, session: Session, customer_ids: Sequence[int]) -> dict[int, int]:
        """How many orders each of these customers has (those with none left out)."""
        ...


@cache
def purchases() -> Purchases:
    return cast(Purchases, importlib.import_module(PURCHASES))


def belongs_to_stores(customer_id: Any) -> ColumnElement[bool]:
    """Whether the customer ``customer_id`` (a column or subquery) belongs to one of the
    stores bound as ``:store_ids`` (expanding): home store, or an order there, the rule of
    :func:`in_stores` written for a single customer."""
    stores: Any = bindparam("store_ids", expanding=True)
    bought_there = purchases().bought_in_stores(customer_id, stores)
    c = aliased(Customer)  # never correlated with a customer table around it
    home = select(c.id).where(c.id == customer_id, c.home_store_id.in_(stores))
    return or_(home.exists(), bought_there)


def in_stores(store_ids: frozenset[int]) -> ColumnElement[bool]:
    """A customer belongs to a store if it is their home store or they bought there.

    Written for sets of customers (lists, other domains' scoped reads); the same rule for
    one customer is :func:`belongs_to_stores`, whose correlated EXISTS reads only that
    customer's orders instead of every order of the stores."""
    return or_(
        Customer.home_store_id.in_(store_ids),
        Customer.id.in_(purchases().customers_buying_in(store_ids=store_ids)),
    )


def home_or_bought_in(customer_id: Any, home_store_id: Any) -> ColumnElement[bool]:
    """The rule as a column of a query that reads customers already (``customer_id`` and
    ``home_store_id`` its columns), for the stores bound as ``:scope_stores`` (expanding):
    identity resolution reads who owns an identifier and whether they are in scope at once."""
    stores: Any = bindparam("scope_stores", expanding=True)
    return or_(home_store_id.in_(stores), purchases().bought_in_stores(customer_id, stores))


def customer_ids_in_stores(store_ids: frozenset[int]) -> Select[int]:
    """The ids of these stores' customers (home store, or bought there), as a subquery for
    other domains' scoped reads: ``X.customer_id.in_(customer_ids_in_stores(ids))``."""
    return select(Customer.id).where(in_stores(store_ids))


def customers_in_stores(
    session: Session, customer_ids: set[int], store_ids: frozenset[int]
) -> dict[int, bool]:
    """Which of these customers belong to one of ``store_ids`` (home store, or an order
    there): the rule of :func:`belongs_to_stores`, for a set at once."""
    stores = sorted(store_ids)
    found: dict[int, bool] = dict.fromkeys(customer_ids, False)
    ids = sorted(customer_ids)
    statement = _customers_in_stores()
    for start in range(0, len(ids), _CHUNK):
        rows = session.scalars(
            statement, {"ids": ids[start : start + _CHUNK], "scope_stores": stores}
        )
        found.update(dict.fromkeys(rows, True))
    return found


@cache
def _customers_in_stores() -> Select[int]:
    """The statement of :func:`customers_in_stores`, built once: a till's every order asks it."""
    return select(Customer.id).where(
        Customer.id.in_(bindparam("ids", expanding=True)),
        home_or_bought_in(Customer.id, Customer.home_store_id),
    )
