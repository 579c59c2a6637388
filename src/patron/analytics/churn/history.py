"""The churn features' purchase columns at several cut-offs from one pass over the orders.

``features.compute_columns`` states the columns for one cut-off in SQL (source
``purchases``); scoring needs them at three (the scoring day and the two earlier cut-offs
of the time split, scoring.py), and running that SQL three times groups, joins and sorts
the whole order history three times. Here the orders are read once, as of the latest
cut-off:

1. ``days``: one row per customer and purchase day (what was paid that day), with the gap
   since the customer's previous purchase day and the day of their third next purchase,
   from one window over the days sorted once. Neither depends on a cut-off: the previous
   purchase day of a day on or before a cut-off is before it too, and a day is among the
   customer's ``LATEST_PURCHASES`` latest on or before a cut-off exactly when their third
   next purchase day is after it (or there is none).
2. ``taken``: what refunds and returns took back, as (customer, purchase day, day taken
   back, fen) rows. A refund belongs to its order's purchase day; a return without a known
   sale to the customer's latest purchase day on or before it, which is the same day
   whatever the cut-off, as long as the return is on or before it.

The columns at each cut-off are then one grouping of ``days``, with each figure filtered to
the days on or before that cut-off and the refunds and returns dated on or before it: the
same numbers as ``compute_columns`` (tests/analytics/churn/test_history.py compares them).
Several cut-offs share one grouping when they share the sample of customers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import count
from typing import Any

import numpy as np
import numpy.typing as npt

from patron.analytics.churn.features import (
    LATEST_PURCHASES,
    RECENT_DAYS,
    SOURCES,
    _join_other_sources,
)

_SAMPLE = "(customer_id % 1000003) * 2654435761 % 1000 < $sample_per_mille"
_names = count()

_DAYS_SQL = f"""
WITH order_days AS (
    SELECT customer_id, order_date AS day, sum(paid_fen)::BIGINT AS paid_fen
    FROM orders
    WHERE customer_id IS NOT NULL AND order_date <= $upto
    GROUP BY customer_id, order_date
)
SELECT customer_id, day, paid_fen,
       day - lag(day) OVER by_day AS gap_days,
       lead(day, {LATEST_PURCHASES}) OVER by_day AS later_day
FROM order_days
WINDOW by_day AS (PARTITION BY customer_id ORDER BY day)
"""

_REFUNDS_SQL = """
SELECT o.customer_id, o.order_date AS day, r.refund_date AS taken_on,
       sum(r.amount_fen)::BIGINT AS amount_fen
FROM refunds AS r JOIN orders AS o USING (order_id)
WHERE o.customer_id IS NOT NULL AND o.order_date <= $upto AND r.refund_date <= $upto
GROUP BY ALL
"""

_RETURNS_SQL = """
WITH unmatched AS (
    SELECT customer_id, return_date AS day, sum(amount_fen) AS amount_fen
    FROM returns
    WHERE order_id IS NULL AND customer_id IS NOT NULL AND return_date <= $upto
    GROUP BY customer_id, return_date
)
SELECT d.customer_id, d.day, u.day AS taken_on, sum(u.amount_fen)::BIGINT AS amount_fen
FROM unmatched AS u
ASOF JOIN {days} AS d ON u.customer_id = d.customer_id AND u.day >= d.day
GROUP BY ALL
"""


def _columns_sql(days: str, taken: str, cutoffs: int, *, sampled: bool = True) -> str:
    """One grouping of ``days`` giving the purchase columns at ``cutoffs`` cut-offs
    ($c0, $c1, …, latest first; $r0, … their recent windows' starts), named ``<column>__k``.

    Every day read is on or before $c0, so the latest cut-off's figures need no filter of
    their own (a plain aggregate is cheaper than a filtered one), and without ``sampled``
    the sample's test is left out (it keeps everyone)."""
    takes = ", ".join(
        f"sum(amount_fen) FILTER (WHERE taken_on <= $c{k}) AS taken_{k}" for k in range(cutoffs)
    )
    nets = ", ".join(
        f"coalesce(t.taken_{k}, 0) AS refunded_{k}, d.paid_fen - coalesce(t.taken_{k}, 0) AS net_{k}"
        for k in range(cutoffs)
    )
    figures = []
    for k in range(cutoffs):
        on = [] if k == 0 else [f"day <= $c{k}"]

        def only(*conditions: str, on: list[str] = on) -> str:
            both = [*on, *conditions]
            return f" FILTER (WHERE {' AND '.join(both)})" if both else ""

        figures += [
            f"(count(*){only()})::DOUBLE AS purchase_days__{k}",
            f"($c{k} - min(day){only()})::DOUBLE AS tenure_days__{k}",
            f"($c{k} - max(day){only()})::DOUBLE AS days_since_last__{k}",
            f"(max(day){only()} - min(day){only()})::DOUBLE AS active_span_days__{k}",
            f"(median(gap_days){only()})::DOUBLE AS median_gap_days__{k}",
            f"(count(*){only(f'day > $r{k}')})::DOUBLE AS recent_purchase_days__{k}",
            f"(count(*) FILTER (WHERE day <= $r{k}))::DOUBLE AS earlier_purchase_days__{k}",
            f"($r{k} - min(day){only()})::DOUBLE AS earlier_span_days__{k}",
            f"(sum(paid_fen){only()})::DOUBLE AS paid_fen__{k}",
            f"(sum(refunded_{k}){only()})::DOUBLE AS refunded_fen__{k}",
            f"(sum(net_{k}){only()})::DOUBLE AS net_fen__{k}",
            f"coalesce(sum(net_{k}){only('gap_days IS NOT NULL')}, 0)::DOUBLE"
            f" AS repeat_net_fen__{k}",
            f"(avg(net_{k}){only(f'(later_day IS NULL OR later_day > $c{k})')})"
            f"::DOUBLE AS latest_mean_fen__{k}",
            f"(avg(net_{k}) FILTER (WHERE later_day <= $c{k}))::DOUBLE AS earlier_mean_fen__{k}",
        ]
    sample = f" AND {_SAMPLE.replace('customer_id', 'd.customer_id', 1)}" if sampled else ""
    return f"""
WITH taken AS (
    SELECT customer_id, day, {takes}
    FROM {taken}
    GROUP BY customer_id, day
),
days AS (
    SELECT d.customer_id, d.day, d.paid_fen, d.gap_days, d.later_day, {nets}
    FROM {days} AS d LEFT JOIN taken AS t USING (customer_id, day)
    WHERE d.day <= $c0{sample}
)
SELECT customer_id, {", ".join(figures)}
FROM days
GROUP BY customer_id
"""


@dataclass(frozen=True)
class PurchaseHistory:
    """The purchase days and what was taken back of them, read once (module doc)."""

    con: Any
    upto: date
    tables: frozenset[str]
    days: str  # names of the Arrow tables registered on ``con``
    taken: str

    def columns_at(
        self, cutoffs: Sequence[date], *, sample_per_mille: int = 1000
    ) -> list[dict[str, npt.NDArray[Any]]]:
        """Every available source's columns at each cut-off (latest first, none after
        ``upto``), as ``features.compute_columns`` gives them for one."""
        if list(cutoffs) != sorted(cutoffs, reverse=True) or not cutoffs:
            raise ValueError("cut-offs must be given latest first")
        if cutoffs[0] > self.upto:
            raise ValueError(f"cut-off {cutoffs[0]} is after the history's {self.upto}")
        sampled = sample_per_mille < 1000
        params: dict[str, Any] = {"sample_per_mille": int(sample_per_mille)} if sampled else {}
        for k, day in enumerate(cutoffs):
            params[f"c{k}"] = day
            params[f"r{k}"] = day - timedelta(days=RECENT_DAYS)
        arrow = self.con.sql(
            _columns_sql(self.days, self.taken, len(cutoffs), sampled=sampled), params=params
        ).to_arrow_table()
        # Put in customer order here: one argsort of the ids, cheaper than DuckDB's ORDER BY
        # carrying every column (0.15 CPU s a grouping at 1 M customers).
        ids = arrow.column("customer_id").to_numpy().astype(np.int64)
        order = np.argsort(ids)
        ids = ids[order]
        found = []
        for k, day in enumerate(cutoffs):
            days = arrow.column(f"purchase_days__{k}").to_numpy(zero_copy_only=False)[order]
            # Everyone read bought by the latest cut-off: no copy through a mask for it.
            bought = None if k == 0 else np.asarray(days > 0)
            out: dict[str, npt.NDArray[Any]] = {
                "customer_id": ids if bought is None else ids[bought]
            }
            for name in SOURCES["purchases"].columns:
                column = arrow.column(f"{name}__{k}").to_numpy(zero_copy_only=False)[order]
                column = column.astype(np.float64, copy=False)
                out[name] = column if bought is None else column[bought]
            _join_other_sources(
                self.con,
                out,
                params={
                    "cutoff": day,
                    "recent_start": day - timedelta(days=RECENT_DAYS),
                    "sample_per_mille": int(sample_per_mille),
                },
                tables=set(self.tables),
            )
            found.append(out)
        return found


@contextmanager
def purchase_history(con: Any, *, upto: date, tables: set[str]) -> Iterator[PurchaseHistory]:
    """Read the orders, refunds and returns on or before ``upto`` once (module doc); the
    history's tables live on ``con`` (as Arrow, so a read-only store will do) until the
    block ends."""
    n = next(_names)
    days, taken = f"_churn_days_{n}", f"_churn_taken_{n}"
    params = {"upto": upto}
    day_rows = con.sql(_DAYS_SQL, params=params).to_arrow_table()
    con.register(days, day_rows)
    try:
        taken_rows = con.sql(_REFUNDS_SQL, params=params).to_arrow_table()
        if "returns" in tables:
            returned = con.sql(_RETURNS_SQL.format(days=days), params=params).to_arrow_table()
            taken_rows = _concat(taken_rows, returned)
        con.register(taken, taken_rows)
        try:
            yield PurchaseHistory(
                con=con, upto=upto, tables=frozenset(tables), days=days, taken=taken
            )
        finally:
            con.unregister(taken)
    finally:
        con.unregister(days)


def _concat(first: Any, second: Any) -> Any:
    import pyarrow as pa

    return pa.concat_tables([first, second.cast(first.schema)])
