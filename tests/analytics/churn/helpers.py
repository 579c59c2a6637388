"""Analytics stores for the churn tests: DuckDB connections holding the schema.py tables,
filled by hand (small fixtures, every figure worked out on paper) or with numpy
(synthetic populations where who stopped buying is known)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from patron.analytics.engine.schema import TABLES

CST = timedelta(hours=8)


@dataclass
class Shop:
    """Rows of an analytics store; ``connect()`` loads them into an in-memory DuckDB."""

    customers: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)

    def customer(self, customer_id: int, signup: date = date(2024, 1, 1)) -> int:
        self.customers.append(
            {
                "customer_id": customer_id,
                "signed_up_at": datetime.combine(signup, time(10)) - CST,
                "signup_date": signup,
                "home_store_id": 1,
                "signup_channel": "pos",
            }
        )
        return customer_id

    def order(
        self,
        customer_id: int,
        on: date,
        paid: int = 10000,
        *,
        refund: int = 0,
        refunded_on: date | None = None,
    ) -> int:
        """An order; a refund of ``refund`` fen dated ``refunded_on`` (default: the next day).
        ``orders.refunded_fen`` holds every refund, as the extract does."""
        order_id = len(self.orders) + 1
        self.orders.append(
            {
                "order_id": order_id,
                "customer_id": customer_id,
                "store_id": 1,
                "channel": "pos",
                "ordered_at": datetime.combine(on, time(12)) - CST,
                "order_date": on,
                "gross_fen": paid,
                "paid_fen": paid,
                "refunded_fen": refund,
                "net_fen": paid - refund,
            }
        )
        if refund:
            day = refunded_on or on + timedelta(days=1)
            self.refunds.append(
                {
                    "refund_id": len(self.refunds) + 1,
                    "order_id": order_id,
                    "refunded_at": datetime.combine(day, time(12)) - CST,
                    "refund_date": day,
                    "amount_fen": refund,
                }
            )
        return order_id

    def connect(self) -> Any:
        con = duckdb.connect()
        stores = [{"store_id": 1, "code": "S01", "name": "一号店", "city": "上海", "kind": "store"}]
        rows = {
            "customers": self.customers,
            "orders": self.orders,
            "order_lines": [],
            "refunds": self.refunds,
            "stores": stores,
        }
        for name, schema in TABLES.items():
            table = pa.Table.from_pylist(rows[name], schema=schema.to_pyarrow())
            con.register("_incoming", table)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM _incoming")
            con.unregister("_incoming")
        return con


@dataclass(frozen=True)
class Population:
    """A synthetic shop: who buys when, and who was made to stop."""

    con: Any
    as_of: date
    stopped: np.ndarray  # customer_id → bool (index customer_id − 1): stopped before as_of
    stop_day: np.ndarray  # day index the customer stopped (inf if never)


def synthetic_population(
    *, customers: int = 6000, seed: int = 1, as_of: date = date(2025, 12, 31)
) -> Population:
    """Customers buy as Poisson processes with Gamma-spread rates over two years; half of
    them stop for good at a random moment (some before the window starts, some inside the
    last months), which is who the model should find. Spend per order is Gamma; 3 % of
    orders are refunded in full."""
    rng = np.random.default_rng(seed)
    days = 730
    start = as_of - timedelta(days=days - 1)
    birth = rng.integers(0, days - 30, customers)
    rate = rng.gamma(0.9, 1 / 25.0, customers)  # purchases per day
    will_stop = rng.random(customers) < 0.5
    stop = np.where(will_stop, birth + rng.exponential(250.0, customers), np.inf)
    # Candidates at each customer's rate from birth to the end, kept while before the stop.
    n_candidates = rng.poisson(rate * (days - birth))
    owner = np.repeat(np.arange(customers), n_candidates)
    when = birth[owner] + rng.random(owner.size) * (days - birth[owner])
    keep = when < stop[owner]
    owner, when = owner[keep], when[keep]
    owner = np.concatenate([np.arange(customers), owner])
    day = np.concatenate([birth, when.astype(np.int64)])
    n = owner.size
    paid = np.maximum(rng.gamma(3.0, 3000.0, n).astype(np.int64), 100)
    refunded = np.where(rng.random(n) < 0.03, paid, 0)
    dates = np.datetime64(start) + day.astype("timedelta64[D]")
    orders = pa.table(
        {
            "order_id": np.arange(1, n + 1, dtype=np.int64),
            "customer_id": (owner + 1).astype(np.int64),
            "store_id": np.ones(n, dtype=np.int64),
            "channel": pa.array(["pos"] * n),
            "ordered_at": dates.astype("datetime64[us]"),
            "order_date": dates,
            "gross_fen": paid,
            "paid_fen": paid,
            "refunded_fen": refunded,
            "net_fen": paid - refunded,
        }
    )
    refund_rows = np.flatnonzero(refunded > 0)
    refund_dates = np.minimum(dates[refund_rows] + 1, np.datetime64(as_of))
    refunds = pa.table(
        {
            "refund_id": np.arange(1, refund_rows.size + 1, dtype=np.int64),
            "order_id": (refund_rows + 1).astype(np.int64),
            "refunded_at": refund_dates.astype("datetime64[us]"),
            "refund_date": refund_dates,
            "amount_fen": refunded[refund_rows],
        }
    )
    con = duckdb.connect()
    for name, table in (("orders", orders), ("refunds", refunds)):
        con.register("_incoming", table.cast(TABLES[name].to_pyarrow()))
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM _incoming")
        con.unregister("_incoming")
    con.execute(
        "CREATE TABLE customers AS SELECT DISTINCT customer_id, "
        "min(ordered_at) OVER (PARTITION BY customer_id) AS signed_up_at, "
        "min(order_date) OVER (PARTITION BY customer_id) AS signup_date, "
        "1::BIGINT AS home_store_id, 'pos' AS signup_channel FROM orders"
    )
    for name in ("order_lines", "stores"):
        con.register("_incoming", pa.Table.from_pylist([], schema=TABLES[name].to_pyarrow()))
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM _incoming")
        con.unregister("_incoming")
    return Population(con=con, as_of=as_of, stopped=stop < days, stop_day=stop)
