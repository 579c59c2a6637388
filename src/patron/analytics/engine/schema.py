"""The analytics store's input tables: what the extract writes and every definition reads.

The extract (``patron.analytics.extract``) copies the operational database into these tables;
the definitions (``patron.analytics.engine``) read only these. Both sides hold to this one
contract, so the same definitions run on DuckDB and on Spark.

Conventions:
- timestamps are UTC, stored without a zone (``timestamp``), because engines disagree on
  zoned types; the business day is carried beside them as a ``date`` in the retailer's time
  zone (Asia/Shanghai by default, the store's own zone for orders), computed by the extract;
- money is in fen (``int64``), never floats;
- a customer merged into another is absent from ``customers``; the extract re-points its
  orders to the survivor, so every ``customer_id`` here names a live profile;
- ``orders.customer_id`` is null for anonymous sales (counted in KPIs, not in RFM);
- refunds are carried both as rows (``refunds``) and folded into ``orders.refunded_fen`` and
  ``order_lines.refunded_fen`` as of the extract, so "net" is ``paid - refunded``;
- ``orders`` is kept clustered by customer (:data:`ORDERS_CLUSTER_KEY`): every per-customer
  definition groups them by ``customer_id``, and a customer's orders lying together make
  that group-by about twice as fast on DuckDB as orders in the order they were taken.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.schema as sch

CUSTOMERS = ibis.schema(
    {
        "customer_id": "int64",
        "signed_up_at": "timestamp",
        "signup_date": "date",
        "home_store_id": "int64",  # nullable
        "signup_channel": "string",  # nullable
    }
)

ORDERS = ibis.schema(
    {
        "order_id": "int64",
        "customer_id": "int64",  # nullable: anonymous sale
        "store_id": "int64",
        "channel": "string",  # pos, online, mini_program, phone, other
        "ordered_at": "timestamp",
        "order_date": "date",  # business day in the store's time zone
        "gross_fen": "int64",  # before discounts
        "paid_fen": "int64",  # what the customer paid (gross less every discount)
        "refunded_fen": "int64",  # sum of refunds of this order so far
        "net_fen": "int64",  # paid_fen - refunded_fen
    }
)

ORDER_LINES = ibis.schema(
    {
        "line_id": "int64",
        "order_id": "int64",
        "sku": "string",
        "category": "string",  # top level of the product's category path; "" if unknown
        "quantity_milli": "int64",
        "amount_fen": "int64",  # paid for the line after line discounts
        "refunded_fen": "int64",
        "net_fen": "int64",
    }
)

REFUNDS = ibis.schema(
    {
        "refund_id": "int64",
        "order_id": "int64",
        "refunded_at": "timestamp",
        "refund_date": "date",
        "amount_fen": "int64",
    }
)

RETURNS = ibis.schema(
    {
        "return_id": "int64",  # the refund line's id; minus the id of a return without a sale
        "order_id": "int64",  # nullable: a return without a known sale
        "line_id": "int64",  # nullable: the order line refunded
        "customer_id": "int64",  # nullable: anonymous
        "store_id": "int64",  # the store that paid the money back
        "channel": "string",
        "returned_at": "timestamp",
        "return_date": "date",  # business day in that store's time zone
        "category": "string",
        "amount_fen": "int64",  # what went back, positive
    }
)

# What an export said of an order beyond its money: where the buyer was, how they paid, who
# served them (one row per order that says any of it).
ORDER_ATTRIBUTES = ibis.schema(
    {
        "order_id": "int64",
        "country": "string",
        "province": "string",
        "city": "string",
        "payment_method": "string",
        "cashier": "string",
    }
)

STORES = ibis.schema(
    {
        "store_id": "int64",
        "code": "string",
        "name": "string",
        "city": "string",
        "kind": "string",
    }
)

# The physical order of ``orders`` in a DuckDB store (results never depend on it).
ORDERS_CLUSTER_KEY = "customer_id NULLS LAST, order_date, order_id"


def cluster_orders(con: Any) -> None:
    """Rewrite a DuckDB store's ``orders`` in :data:`ORDERS_CLUSTER_KEY` order."""
    con.execute(
        f"CREATE OR REPLACE TABLE orders AS SELECT * FROM orders ORDER BY {ORDERS_CLUSTER_KEY}"
    )


TABLES: dict[str, sch.Schema] = {
    "customers": CUSTOMERS,
    "orders": ORDERS,
    "order_lines": ORDER_LINES,
    "refunds": REFUNDS,
    "stores": STORES,
}
# Tables a store may lack (one made before they existed, a hand-built one): the definitions
# read them as empty.
OPTIONAL_TABLES: dict[str, sch.Schema] = {
    "returns": RETURNS,
    "order_attributes": ORDER_ATTRIBUTES,
}
ALL_TABLES: dict[str, sch.Schema] = {**TABLES, **OPTIONAL_TABLES}
