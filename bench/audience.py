"""Audience counts at chain scale: the builder's live count for 1,000,000 customers.

Target (docs/audiences.md): a live count ≤ 1 s for 1,000,000 customers. Figures are
printed, never asserted.

How it runs:

1. A synthetic analytics store in a temporary DuckDB file, built in SQL: ``--customers``
   customers (home store among 200, signed up over three years), about 5 orders each over
   two years in 200 stores, 2 lines an order in 20 categories and 5,000 SKUs; the audience
   facts (gender, age band, city, tier, points, segment, stage, lifetime value, churn band)
   for every customer, ~0.6 tags each, and two custom fields.
2. Definitions of growing weight, compiled by ``audiences.compile`` exactly as the API
   does, each counted ``--repeat`` times on a fresh connection (as a request does); the
   median and the slowest are shown, chain-wide and for one store-bound role.
3. Peer: the heaviest definition evaluated with pandas boolean masks over the same tables
   loaded in memory (loading not timed), in the same run.

Run:  .venv/bin/python bench/audience.py               (1,000,000 customers)
      .venv/bin/python bench/audience.py --quick       (100,000: a smoke run)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from patron.audiences.compile import compile_definition
from patron.audiences.facts import DDL, write_purchase_facts
from patron.audiences.schemas import Definition

TODAY = date(2026, 12, 1)

DEFINITIONS: dict[str, dict[str, Any]] = {
    "everyone": {"conditions": []},
    "women 25–44 in 上海": {
        "conditions": [
            {"kind": "profile", "attribute": "gender", "values": ["female"]},
            {"kind": "profile", "attribute": "age_band", "values": ["25_34", "35_44"]},
            {"kind": "profile", "attribute": "city", "values": ["上海"]},
        ]
    },
    "gold or vip, at risk": {
        "conditions": [
            {
                "kind": "group",
                "match": "any",
                "conditions": [
                    {"kind": "tier", "values": ["gold", "platinum"]},
                    {"kind": "tag", "tags": ["vip"]},
                ],
            },
            {"kind": "churn_band", "values": ["high", "medium"]},
            {"kind": "points", "op": "gte", "value": 500},
        ]
    },
    "bought a category twice in 90 days, not lately": {
        "conditions": [
            {
                "kind": "purchases",
                "op": "gte",
                "value": 2,
                "within_last_days": 90,
                "category": "c3",
            },
            {"kind": "last_purchase", "op": "more_than_days_ago", "days": 30},
        ]
    },
    "everything at once (the heaviest)": {
        "match": "all",
        "conditions": [
            {"kind": "profile", "attribute": "gender", "op": "not_in", "values": ["male"]},
            {"kind": "segment", "values": ["important_value", "important_keep"]},
            {"kind": "stage", "op": "not_in", "values": ["lapsed"]},
            {"kind": "clv", "op": "gte", "value": 20_000},
            {"kind": "custom_field", "field": "shoe_size", "op": "between", "value": "36", "value_to": "40"},
            {
                "kind": "group",
                "match": "any",
                "conditions": [
                    {"kind": "purchases", "measure": "net_fen", "op": "gte", "value": 50_000, "within_last_days": 365},
                    {"kind": "purchases", "op": "gte", "value": 1, "sku": "SKU00042", "within_last_days": 180},
                    {"kind": "first_purchase", "op": "within_last_days", "days": 60},
                ],
            },
        ],
    },
}  # fmt: skip
FIELD_KINDS = {"shoe_size": "number", "pet": "choice"}


def build(path: Path, customers: int) -> dict[str, int]:
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    started = time.perf_counter()
    n = customers
    con.execute(
        f"""
        CREATE TABLE customers AS
        SELECT i AS customer_id,
               TIMESTAMP '2023-12-01' + to_days(CAST(hash(i) % 1095 AS INTEGER)) AS signed_up_at,
               DATE '2023-12-01' + CAST(hash(i) % 1095 AS INTEGER) AS signup_date,
               CAST(hash(i * 7) % 200 + 1 AS BIGINT) AS home_store_id,
               ['pos', 'wechat', 'web'][CAST(hash(i * 3) % 3 + 1 AS INTEGER)] AS signup_channel
        FROM range(1, {n} + 1) t(i)
        """
    )
    con.execute(
        f"""
        CREATE TABLE orders AS
        SELECT o AS order_id,
               CAST(hash(o * 11) % {n} + 1 AS BIGINT) AS customer_id,
               CAST(hash(o * 13) % 200 + 1 AS BIGINT) AS store_id,
               'store' AS channel,
               TIMESTAMP '2024-12-01' + to_days(CAST(hash(o * 17) % 730 AS INTEGER)) AS ordered_at,
               DATE '2024-12-01' + CAST(hash(o * 17) % 730 AS INTEGER) AS order_date,
               CAST(hash(o * 19) % 40000 + 500 AS BIGINT) AS gross_fen,
               CAST(0 AS BIGINT) AS paid_fen, CAST(0 AS BIGINT) AS refunded_fen,
               CAST(hash(o * 19) % 40000 + 500 AS BIGINT) AS net_fen
        FROM range(1, {5 * n} + 1) t(o)
        ORDER BY customer_id
        """
    )
    con.execute(
        """
        CREATE TABLE order_lines AS
        SELECT o.order_id * 2 + k AS line_id, o.order_id,
               'SKU' || lpad(CAST(hash(o.order_id * 23 + k) % 5000 AS VARCHAR), 5, '0') AS sku,
               'c' || CAST(hash(o.order_id * 29 + k) % 20 AS VARCHAR) AS category,
               1000 AS quantity_milli, o.net_fen // 2 AS amount_fen, 0 AS refunded_fen,
               o.net_fen // 2 AS net_fen
        FROM orders o, range(2) r(k)
        """
    )
    for ddl in DDL:
        con.execute(ddl)
    purchases_started = time.perf_counter()
    write_purchase_facts(con)  # as each refresh of the facts does
    purchase_facts_s = time.perf_counter() - purchases_started
    con.execute(
        """
        INSERT INTO audience_profile
        SELECT customer_id,
               ['female', 'male', 'other', NULL][CAST(hash(customer_id * 31) % 4 + 1 AS INTEGER)],
               ['18_24', '25_34', '35_44', '45_54', '55_64', NULL][CAST(hash(customer_id * 37) % 6 + 1 AS INTEGER)],
               ['上海', '北京', '广州', '深圳', '杭州'][CAST(hash(customer_id * 41) % 5 + 1 AS INTEGER)],
               ['member', 'silver', 'gold', 'platinum'][CAST(hash(customer_id * 43) % 4 + 1 AS INTEGER)],
               CAST(hash(customer_id * 47) % 5000 AS BIGINT),
               ['important_value', 'important_keep', 'general_value', 'general_retain', NULL][CAST(hash(customer_id * 53) % 5 + 1 AS INTEGER)],
               ['new', 'active', 'loyal', 'at_risk', 'lapsed'][CAST(hash(customer_id * 59) % 5 + 1 AS INTEGER)],
               CAST(hash(customer_id * 61) % 100000 AS BIGINT),
               ['low', 'medium', 'high', 'lapsed'][CAST(hash(customer_id * 67) % 4 + 1 AS INTEGER)],
               s.first_on, s.last_on
        FROM customers LEFT JOIN (
            SELECT customer_id, min(order_date) AS first_on, max(order_date) AS last_on
            FROM orders GROUP BY customer_id
        ) s USING (customer_id)
        """
    )  # fmt: skip
    con.execute(
        "INSERT INTO audience_tags SELECT customer_id, ['vip', 'student', 'staff'][CAST(hash("
        "customer_id * 71) % 3 + 1 AS INTEGER)] FROM customers WHERE hash(customer_id * 73) % 5 < 3"
    )
    con.execute(
        "INSERT INTO audience_fields SELECT customer_id, 'shoe_size', NULL, "
        "CAST(hash(customer_id * 79) % 12 + 34 AS DOUBLE), NULL FROM customers "
        "WHERE hash(customer_id * 83) % 2 = 0"
    )
    sizes = {
        name: int(con.execute(f"SELECT count(*) FROM {name}").fetchone()[0])  # type: ignore[index]
        for name in ("customers", "orders", "order_lines", "audience_tags", "audience_fields")
    }
    con.execute("CHECKPOINT")
    con.close()
    print(
        f"built the store in {time.perf_counter() - started:.1f} s: {sizes}; of which the "
        f"purchase facts (audience_purchases, audience_customer_stores) {purchase_facts_s:.1f} s"
    )
    return sizes


def count_once(path: Path, sql: str, params: list[Any]) -> tuple[int, float]:
    started = time.perf_counter()
    con = duckdb.connect(str(path))
    try:
        con.execute("SET TimeZone = 'UTC'")
        value = int(con.execute(sql, params).fetchone()[0])  # type: ignore[index]
    finally:
        con.close()
    return value, time.perf_counter() - started


def pandas_peer(path: Path) -> tuple[int, float]:
    """The heaviest definition with pandas masks over in-memory frames (loading untimed)."""
    import pandas as pd

    con = duckdb.connect(str(path), read_only=True)
    customers = con.execute("SELECT customer_id FROM customers").df()
    profile = con.execute("SELECT * FROM audience_profile").df()
    fields = con.execute(
        "SELECT customer_id, number_value FROM audience_fields WHERE field = 'shoe_size'"
    ).df()
    orders = con.execute("SELECT order_id, customer_id, order_date, net_fen FROM orders").df()
    lines = con.execute("SELECT order_id, sku FROM order_lines").df()
    con.close()
    started = time.perf_counter()
    p = customers.merge(profile, on="customer_id", how="left")
    mask = p["gender"].fillna("") != "male"
    mask &= p["segment"].isin(["important_value", "important_keep"])
    mask &= ~p["stage"].fillna("").isin(["lapsed"])
    mask &= p["clv_fen"] >= 20_000
    sizes = fields[(fields.number_value >= 36) & (fields.number_value <= 40)].customer_id
    mask &= p["customer_id"].isin(sizes)
    day = pd.Timestamp(TODAY)
    dates = pd.to_datetime(orders.order_date)
    recent = orders[dates >= day - pd.Timedelta(days=365)]
    spent = recent.groupby("customer_id").net_fen.sum()
    a = p["customer_id"].map(spent).fillna(0) >= 50_000
    half = orders[dates >= day - pd.Timedelta(days=180)]
    sku = half.merge(lines[lines.sku == "SKU00042"], on="order_id").customer_id
    b = p["customer_id"].isin(sku)
    first = orders.assign(d=dates).groupby("customer_id").d.min()
    c = p["customer_id"].map(first) >= day - pd.Timedelta(days=60)
    mask &= a | b | c
    return int(mask.sum()), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 customers")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args()
    customers = 100_000 if args.quick else args.customers
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "analytics.duckdb"
        build(path, customers)
        print(f"\nlive count, {customers:,} customers, {args.repeat} runs each (median / slowest):")
        heaviest = ""
        for name, raw in DEFINITIONS.items():
            definition = Definition.model_validate(raw)
            for scope in (None, frozenset({7})):
                compiled = compile_definition(
                    definition, today=TODAY, store_ids=scope, field_kinds=FIELD_KINDS
                )
                runs = [
                    count_once(path, compiled.count_sql(), compiled.params)
                    for _ in range(args.repeat)
                ]
                times = [t for _, t in runs]
                where = "one store" if scope else "chain-wide"
                print(
                    f"  {name:<50} {where:<10} {runs[0][0]:>9,} match  "
                    f"{statistics.median(times):6.3f} s / {max(times):6.3f} s"
                )
                if scope is None:
                    heaviest = f"{runs[0][0]:,} in {statistics.median(times):.3f} s"
        if not args.no_peer:
            matched, seconds = pandas_peer(path)
            print(
                f"\npeer, the heaviest with pandas masks in memory: {matched:,} in {seconds:.3f} s "
                f"(Patron, one DuckDB query from the file: {heaviest})"
            )


if __name__ == "__main__":
    main()
