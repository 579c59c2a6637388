"""A synthetic analytics store, written by DuckDB SQL alone (no Python loops), for the
benchmarks and the cross-engine tests.

The shape of a chain's history: customers signed up over three years; two years of orders
with a skewed number per customer (a few buy very often, most once or never); about 15 % of
orders anonymous; 1–5 lines per order from a 2,000-product catalogue in eight categories;
most sales at the till; about 3 % of orders refunded, two in three of them in full. Every
draw is a hash of the row number and the seed, so one seed gives the same data on any
machine and any number of threads.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from patron.analytics.engine.schema import ALL_TABLES, cluster_orders

CATEGORIES = ("生鲜", "食品", "饮料", "日化", "美妆", "母婴", "家居", "服饰")
CHANNELS = ("pos", "online", "mini_program", "phone", "other")
STORES = 20
PRICES_FEN = (190, 350, 590, 1290, 2990, 8800)


def _date_sql(day: date) -> str:
    return f"DATE '{day.isoformat()}'"


def generate(
    con: Any, *, customers: int, lines: int, as_of: date, seed: int = 7, days: int = 730
) -> dict[str, int]:
    """Write the five ``schema.TABLES`` tables into the DuckDB connection ``con`` (replacing
    any of the same name), with about ``lines`` order lines and orders up to ``as_of`` over
    the ``days`` before it. Returns the row count of each table."""
    if customers < 1:
        raise ValueError(f"customers: must be ≥ 1 (got {customers})")
    if lines < 1:
        raise ValueError(f"lines: must be ≥ 1 (got {lines})")
    first_day = as_of - timedelta(days=days - 1)
    signup_from = first_day - timedelta(days=365)
    n_orders = max(1, lines // 3)
    categories = ", ".join(f"'{c}'" for c in CATEGORIES)
    prices = ", ".join(str(p) for p in PRICES_FEN)
    con.execute(
        f"CREATE OR REPLACE TEMP MACRO _u(i, k) AS "
        f"(hash(i, k, {int(seed)}) % 1000003)::DOUBLE / 1000003"
    )
    # _n(i, k, n): a whole number drawn uniformly from [0, n).
    con.execute("CREATE OR REPLACE TEMP MACRO _n(i, k, n) AS floor(_u(i, k) * n)::BIGINT")
    con.execute(
        f"""
        CREATE OR REPLACE TABLE stores AS
        SELECT i::BIGINT AS store_id, printf('S%02d', i) AS code, printf('门店 %02d', i) AS name,
               ['上海', '北京', '杭州', '成都'][1 + i % 4] AS city,
               CASE WHEN i = {STORES} THEN 'online' ELSE 'store' END AS kind
        FROM range(1, {STORES + 1}) r(i)
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE customers AS
        WITH c AS (
            SELECT i::BIGINT AS customer_id,
                   {_date_sql(signup_from)} + _n(i, 1, {days + 365})::INTEGER AS signup_date,
                   _n(i, 2, 86400)::INTEGER AS second
            FROM range(1, {customers + 1}) r(i)
        )
        SELECT customer_id,
               (signup_date::TIMESTAMP + to_seconds(second) - INTERVAL 8 HOUR) AS signed_up_at,
               signup_date,
               CASE WHEN _u(customer_id, 3) < 0.9
                    THEN 1 + _n(customer_id, 4, {STORES - 1}) END AS home_store_id,
               CASE WHEN _u(customer_id, 5) < 0.5 THEN 'pos' ELSE 'mini_program' END
                   AS signup_channel
        FROM c
        """
    )
    # A customer drawn as u³ of the base: heavily skewed counts, then scattered over the ids
    # by a multiplicative permutation so that behaviour does not follow the id.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _order_base AS
        WITH o AS (
            SELECT i::BIGINT AS order_id,
                   CASE WHEN _u(i, 10) < 0.15 THEN NULL
                        ELSE 1 + ((floor(pow(_u(i, 11), 3) * {customers})::BIGINT
                                   * 2147483647) % {customers}) END AS customer_id,
                   _u(i, 12) AS day_draw, _u(i, 13) AS channel_draw, _u(i, 16) AS refund_draw
            FROM range(1, {n_orders + 1}) r(i)
        )
        SELECT o.order_id, o.customer_id,
               greatest(coalesce(c.signup_date, {_date_sql(first_day)}),
                        {_date_sql(first_day)}) AS since,
               o.day_draw, o.channel_draw, o.refund_draw
        FROM o LEFT JOIN customers c USING (customer_id)
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _orders AS
        SELECT order_id, customer_id,
               since + floor(day_draw * (({_date_sql(as_of)} - since) + 1))::INTEGER AS order_date,
               CASE WHEN channel_draw < 0.70 THEN 'pos'
                    WHEN channel_draw < 0.85 THEN 'online'
                    WHEN channel_draw < 0.95 THEN 'mini_program'
                    WHEN channel_draw < 0.98 THEN 'phone' ELSE 'other' END AS channel,
               1 + _n(order_id, 14, 5)::INTEGER AS n_lines,
               CASE WHEN refund_draw < 0.02 THEN 'full'
                    WHEN refund_draw < 0.03 THEN 'line' END AS refund_kind,
               _n(order_id, 15, 86400)::INTEGER AS second
        FROM _order_base
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE order_lines AS
        WITH l AS (
            SELECT o.order_id, o.refund_kind, k,
                   (o.order_id * 8 + k)::BIGINT AS line_id,
                   _n(o.order_id * 8 + k, 20, 2000) AS product,
                   [1, 1, 1, 2, 2, 3][1 + _n(o.order_id * 8 + k, 21, 6)]
                       AS quantity
            FROM _orders o, unnest(range(o.n_lines)) t(k)
        ), priced AS (
            SELECT *, [{prices}][1 + product % {len(PRICES_FEN)}] * quantity AS amount_fen
            FROM l
        )
        SELECT line_id, order_id, printf('SKU%05d', product) AS sku,
               [{categories}][1 + product % {len(CATEGORIES)}] AS category,
               quantity * 1000 AS quantity_milli, amount_fen,
               CASE WHEN refund_kind = 'full' OR (refund_kind = 'line' AND k = 0)
                    THEN amount_fen ELSE 0 END AS refunded_fen,
               amount_fen - (CASE WHEN refund_kind = 'full' OR (refund_kind = 'line' AND k = 0)
                    THEN amount_fen ELSE 0 END) AS net_fen
        FROM priced
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE orders AS
        WITH sums AS (
            SELECT order_id, sum(amount_fen)::BIGINT AS paid_fen,
                   sum(refunded_fen)::BIGINT AS refunded_fen
            FROM order_lines GROUP BY order_id
        )
        SELECT o.order_id, o.customer_id,
               CASE WHEN o.channel = 'pos' THEN 1 + o.order_id % {STORES - 1}
                    ELSE {STORES} END::BIGINT AS store_id,
               o.channel,
               o.order_date::TIMESTAMP + to_seconds(o.second) - INTERVAL 8 HOUR AS ordered_at,
               o.order_date,
               (s.paid_fen * 11 // 10)::BIGINT AS gross_fen,
               s.paid_fen, s.refunded_fen, (s.paid_fen - s.refunded_fen)::BIGINT AS net_fen
        FROM _orders o JOIN sums s USING (order_id)
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TABLE refunds AS
        SELECT row_number() OVER (ORDER BY order_id)::BIGINT AS refund_id, order_id,
               (order_date + _n(order_id, 30, 14)::INTEGER)::TIMESTAMP
                   + INTERVAL 4 HOUR AS refunded_at,
               order_date + _n(order_id, 30, 14)::INTEGER AS refund_date,
               refunded_fen AS amount_fen
        FROM orders WHERE refunded_fen > 0
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TABLE returns AS
        SELECT l.line_id AS return_id, o.order_id, l.line_id, o.customer_id, o.store_id,
               o.channel, r.refunded_at AS returned_at, r.refund_date AS return_date,
               l.category, l.refunded_fen AS amount_fen
        FROM refunds r JOIN orders o USING (order_id)
        JOIN order_lines l ON l.order_id = o.order_id AND l.refunded_fen > 0
        """
    )
    con.execute(
        "CREATE OR REPLACE TABLE order_attributes AS SELECT order_id, NULL AS country, "
        "NULL AS province, NULL AS city, NULL AS payment_method, NULL AS cashier "
        "FROM orders WHERE false"
    )
    con.execute("DROP TABLE _orders")
    con.execute("DROP TABLE _order_base")
    counts: dict[str, int] = {}
    for name, schema in ALL_TABLES.items():
        columns = ", ".join(f'"{c}"::{_duck_type(t)} AS "{c}"' for c, t in schema.items())
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {columns} FROM {name}")
        if name == "orders":  # laid out as the extract keeps them
            cluster_orders(con)
        counts[name] = int(con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0])
    return counts


def _duck_type(dtype: Any) -> str:
    return {
        "int64": "BIGINT",
        "string": "VARCHAR",
        "date": "DATE",
        "timestamp": "TIMESTAMP",
    }[str(dtype).removeprefix("!")]
