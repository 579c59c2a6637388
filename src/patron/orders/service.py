"""Orders and refunds: what other domains call, from the modules that hold each idea.

Intake (:mod:`~patron.orders.intake`), reads (:mod:`~patron.orders.reads`), refunds of a
known order (:mod:`~patron.orders.refunds`) and what orders do for customers
(:mod:`~patron.orders.participant`: merges, the orders behind the store-scope rule).
Returns whose sale Patron lacks are :mod:`patron.orders.returns`, net sales
:mod:`patron.orders.sales`.
"""

from __future__ import annotations

from patron.orders.intake import (
    OrderOutcome,
    OrderStatus,
    plain_record_order,
    plain_stored_order,
    record_order,
    record_orders,
    request_hash,
    stored_order,
)
from patron.orders.participant import (
    count_orders_of,
    customers_buying_in,
    move_customer_records,
    restore_customer_records,
)
from patron.orders.reads import (
    count_orders,
    get_order,
    get_order_by_key,
    get_order_or_raise,
    key_taken,
    latest_order_ids,
    latest_sale_day,
    line_ids,
    list_customer_orders,
    list_customer_timeline,
)
from patron.orders.refunds import get_refund_by_key, place_order_discount, record_refund

__all__ = [
    "OrderOutcome",
    "OrderStatus",
    "count_orders",
    "count_orders_of",
    "customers_buying_in",
    "get_order",
    "get_order_by_key",
    "get_order_or_raise",
    "get_refund_by_key",
    "key_taken",
    "latest_order_ids",
    "latest_sale_day",
    "line_ids",
    "list_customer_orders",
    "list_customer_timeline",
    "move_customer_records",
    "place_order_discount",
    "plain_record_order",
    "plain_stored_order",
    "record_order",
    "record_orders",
    "record_refund",
    "request_hash",
    "restore_customer_records",
    "stored_order",
]
