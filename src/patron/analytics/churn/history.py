"""The churn features' purchase columns at several cut-offs from one pass over the orders.

``features.compute_columns`` states the columns for one cut-off in SQL (source
``purchases``); scoring needs them at three (the scoring day and the two earlier cut-offs
of the time split, scoring.py), and running that SQL three times groups, joins and sorts
the whole order history three times. Here the orders are read once, as of the latest
cut-off, and every cut-off's columns come from that one read:

1. ``days``: one row per customer and purchase day (what was paid that day), sorted by
   customer and day: the orders read as they are, sorted once, each day's added up.
2. ``taken``: what refunds and returns took back, as (purchase day's row, day taken back,
   fen). A refund belongs to its order's purchase day; a return without a known sale to the
   customer's latest purchase day on or before it, which is the same day whatever the
   cut-off, as long as the return is on or before it.

A customer's purchase days on or before a cut-off are the first rows of their run of
``days``, so every figure at a cut-off is read off running sums at the run's start and at
its last day on or before the cut-off: counts, first and last day, what was paid on all,
the ``LATEST_PURCHASES`` latest and the repeat purchase days. The refunds and returns
dated on or before the cut-off are few; each is added to the spans its purchase day falls
in. The median gap between purchase days comes from the gaps sorted once by customer and
length: at a cut-off, the gaps it keeps stay in that order, and each customer's middle ones
are picked by position. So a
cut-off costs a few passes over arrays, not a grouping, and the same numbers come out as
``compute_columns`` gives (tests/analytics/churn/test_history.py compares them).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from patron.analytics.churn.features import (
    LATEST_PURCHASES,
    RECENT_DAYS,
    _join_other_sources,
    in_sample,
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
_EPOCH = date(1970, 1, 1)

# The orders themselves, grouped into purchase days here rather than in DuckDB: nearly every
# (customer, day) has one order, so a hash grouping costs as much as it saves, while the
# sort by customer and day that follows brings a day's orders together anyway.
_ORDERS_SQL = """
SELECT customer_id, order_date AS day, coalesce(paid_fen, 0) AS paid_fen
FROM orders
WHERE customer_id IS NOT NULL AND order_date <= $upto
"""

_REFUNDS_SQL = """
SELECT o.customer_id, o.order_date AS day, r.refund_date AS taken_on,
       sum(r.amount_fen)::BIGINT AS amount_fen
FROM refunds AS r JOIN orders AS o USING (order_id)
WHERE o.customer_id IS NOT NULL AND o.order_date <= $upto AND r.refund_date <= $upto
GROUP BY ALL
"""

_RETURNS_SQL = """
SELECT customer_id, return_date AS day, sum(amount_fen)::BIGINT AS amount_fen
FROM returns
WHERE order_id IS NULL AND customer_id IS NOT NULL AND return_date <= $upto
GROUP BY customer_id, return_date
"""


def _epoch_days(column: Any) -> IntArray:
    """A DuckDB DATE column (Arrow date32) as days since 1970-01-01."""
    import pyarrow as pa

    return np.asarray(column.cast(pa.int32()).to_numpy(), dtype=np.int64)


def _day_number(day: date) -> int:
    return (day - _EPOCH).days


@dataclass(frozen=True, eq=False)
class PurchaseHistory:
    """The purchase days and what was taken back of them, read once (module doc).

    ``ids`` are the customers (ascending) with a purchase on or before ``upto``; their
    rows of ``day`` (days since 1970-01-01, ascending) run from ``starts[i]`` to
    ``starts[i + 1]``, and ``segment`` gives each row's customer (a place in ``ids``).
    ``paid_sum`` is the running total of what was paid on the rows (from 0, one longer).
    ``taken_row``, ``taken_segment``, ``taken_on`` and ``taken_fen`` are the refunds and
    returns, each on the row (and customer) of the purchase day it took back from.
    ``gap_segment``, ``gap_days`` and ``gap_day`` are the gaps between a customer's purchase
    days (the later day's), sorted by customer, then length.
    """

    con: Any
    upto: date
    tables: frozenset[str]
    ids: IntArray
    starts: IntArray
    segment: IntArray
    day: IntArray
    paid_sum: IntArray
    taken_row: IntArray
    taken_segment: IntArray
    taken_on: IntArray
    taken_fen: IntArray
    gap_segment: IntArray
    gap_days: IntArray
    gap_day: IntArray
    day_max: int

    def columns_at(
        self, cutoffs: Sequence[date], *, sample_per_mille: int = 1000
    ) -> list[dict[str, npt.NDArray[Any]]]:
        """Every available source's columns at each cut-off (latest first, none after
        ``upto``), as ``features.compute_columns`` gives them for one."""
        if list(cutoffs) != sorted(cutoffs, reverse=True) or not cutoffs:
            raise ValueError("cut-offs must be given latest first")
        if cutoffs[0] > self.upto:
            raise ValueError(f"cut-off {cutoffs[0]} is after the history's {self.upto}")
        sampled = in_sample(self.ids, sample_per_mille) if sample_per_mille < 1000 else None
        found = []
        for day in cutoffs:
            out = self._purchases_at(day, sampled)
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

    def _purchases_at(
        self, cutoff: date, sampled: npt.NDArray[np.bool_] | None
    ) -> dict[str, npt.NDArray[Any]]:
        """The ``purchases`` source's columns at one cut-off (module doc)."""
        n = len(self.ids)
        c = _day_number(cutoff)
        r = c - RECENT_DAYS
        # Each customer's purchase days on or before the cut-off (a prefix of their run),
        # and those on or before the recent window's start.
        count = self._days_upto(c)
        earlier = self._days_upto(r)
        keep = count > 0
        if sampled is not None:
            keep &= sampled
        medians = self._median_gaps(c, n)
        start = self.starts[:-1]
        ids = self.ids
        # Where each customer's row is in the output (-1: not kept).
        place = np.arange(n, dtype=np.int64)
        if not keep.all():
            ids, start, count, earlier = (v[keep] for v in (ids, start, count, earlier))
            medians = medians[keep]
            place = np.full(n, -1, dtype=np.int64)
            place[keep] = np.arange(len(ids), dtype=np.int64)
        end = start + count
        first = self.day[start]
        last = self.day[np.maximum(end - 1, 0)] if len(self.day) else first
        latest_from = np.maximum(start, end - LATEST_PURCHASES)

        def paid(lo: IntArray, hi: IntArray) -> IntArray:
            return np.asarray(self.paid_sum[hi] - self.paid_sum[lo], dtype=np.int64)

        # What was taken back by the cut-off from the purchase days of each span: refunds
        # and returns are few, so they are added up one by one rather than run over.
        spans = {"all": paid(start, end), "latest": paid(latest_from, end)}
        spans["repeat"] = paid(np.minimum(start + 1, end), end)
        spans["earlier"] = spans["all"] - spans["latest"]
        taken = {name: np.zeros(len(ids), dtype=np.int64) for name in spans}
        on = self.taken_on <= c
        who = place[self.taken_segment[on]]
        at = self.taken_row[on] - self.starts[self.taken_segment[on]]
        fen = self.taken_fen[on]
        inside = who >= 0
        inside[inside] &= at[inside] < count[who[inside]]
        who, at, fen = who[inside], at[inside], fen[inside]
        latest = at >= count[who] - LATEST_PURCHASES
        np.add.at(taken["all"], who, fen)
        np.add.at(taken["latest"], who[latest], fen[latest])
        np.add.at(taken["repeat"], who[at >= 1], fen[at >= 1])
        taken["earlier"] = taken["all"] - taken["latest"]
        net = {name: spans[name] - taken[name] for name in spans}
        older = count - LATEST_PURCHASES
        with np.errstate(divide="ignore", invalid="ignore"):
            latest_mean = net["latest"] / (end - latest_from)
            earlier_mean = np.where(older > 0, net["earlier"] / np.maximum(older, 1), np.nan)
        return {
            "customer_id": ids,
            "purchase_days": count.astype(np.float64),
            "tenure_days": (c - first).astype(np.float64),
            "days_since_last": (c - last).astype(np.float64),
            "active_span_days": (last - first).astype(np.float64),
            "median_gap_days": medians,
            "recent_purchase_days": (count - earlier).astype(np.float64),
            "earlier_purchase_days": earlier.astype(np.float64),
            "earlier_span_days": (r - first).astype(np.float64),
            "paid_fen": spans["all"].astype(np.float64),
            "refunded_fen": taken["all"].astype(np.float64),
            "net_fen": net["all"].astype(np.float64),
            "repeat_net_fen": net["repeat"].astype(np.float64),
            "latest_mean_fen": np.asarray(latest_mean, dtype=np.float64),
            "earlier_mean_fen": np.asarray(earlier_mean, dtype=np.float64),
        }

    def _days_upto(self, c: int) -> IntArray:
        """Each customer's purchase days on or before day ``c``: a prefix of their run, so
        the rows' test added up over each run (every customer has at least one row)."""
        starts = self.starts[:-1]
        if not len(starts):
            return np.zeros(0, dtype=np.int64)
        if len(self.day) and c >= int(self.day_max):
            return np.diff(self.starts)
        return np.asarray(np.add.reduceat(self.day <= c, starts, dtype=np.int64), dtype=np.int64)

    def _median_gaps(self, c: int, n: int) -> FloatArray:
        """Each customer's median gap between purchase days on or before day ``c`` (NaN with
        fewer than two): the middle of their gaps kept, which stay sorted (module doc)."""
        if len(self.day) and c >= int(self.day_max):  # every gap is kept
            gaps, segments = self.gap_days, self.gap_segment
        else:
            kept = self.gap_day <= c
            gaps, segments = self.gap_days[kept], self.gap_segment[kept]
        per = np.bincount(segments, minlength=n).astype(np.int64)
        begin = np.zeros(n, dtype=np.int64)
        np.cumsum(per[:-1], out=begin[1:])
        some = per > 0
        low = np.where(some, begin + (per - 1) // 2, 0)
        high = np.where(some, begin + per // 2, 0)
        if not len(gaps):
            return np.full(n, np.nan)
        below, above = gaps[low].astype(np.float64), gaps[high].astype(np.float64)
        # DuckDB's median of an even count: the lower middle plus half the distance up.
        return np.where(some, below + (above - below) * 0.5, np.nan)


@contextmanager
def purchase_history(con: Any, *, upto: date, tables: set[str]) -> Iterator[PurchaseHistory]:
    """Read the orders, refunds and returns on or before ``upto`` once (module doc)."""
    # Built by a function of its own, so that its intermediate arrays are freed before the
    # caller works on the history rather than held by this generator's frame.
    yield _read_history(con, upto=upto, tables=tables)


def _read_history(con: Any, *, upto: date, tables: set[str]) -> PurchaseHistory:
    params = {"upto": upto}
    rows = con.sql(_ORDERS_SQL, params=params).to_arrow_table()
    customer = _ints(rows.column("customer_id"))
    day = _epoch_days(rows.column("day"))
    paid = _ints(rows.column("paid_fen"))
    del rows
    # The orders by customer and day (the order within a day does not matter: its orders
    # are added up), then one row per purchase day. The store keeps its orders clustered by
    # customer and day (engine/schema.py, ORDERS_CLUSTER_KEY), so they usually come in that
    # order already: then there is nothing to sort or to gather.
    key = _single_key(customer, day)
    if key is not None:  # one integer per order: one test for the order and one for the days
        if (key[1:] < key[:-1]).any():
            order = np.argsort(key)
            customer, day, paid, key = customer[order], day[order], paid[order], key[order]
            del order
    elif not _in_order(customer, day):
        order = _sort_order(customer, day, stable=False)
        customer, day, paid = customer[order], day[order], paid[order]
        del order
    if len(customer):
        same_day = np.ones(len(customer), dtype=np.bool_)
        if key is not None:
            np.not_equal(key[1:], key[:-1], out=same_day[1:])
        else:
            same_day[1:] = (customer[1:] != customer[:-1]) | (day[1:] != day[:-1])
        del key
        first_orders = np.flatnonzero(same_day)
        paid = np.add.reduceat(paid, first_orders)
        customer, day = customer[first_orders], day[first_orders]
    new = np.ones(len(customer), dtype=np.bool_)
    new[1:] = customer[1:] != customer[:-1]
    first_rows = np.flatnonzero(new)
    ids = customer[first_rows]
    segment = np.cumsum(new, dtype=np.int64)
    segment -= 1
    find = _RowFinder(ids, segment, day)

    refunds = con.sql(_REFUNDS_SQL, params=params).to_arrow_table()
    taken = [
        (
            find.rows(
                _ints(refunds.column("customer_id")), _epoch_days(refunds.column("day")), exact=True
            ),
            _epoch_days(refunds.column("taken_on")),
            _ints(refunds.column("amount_fen")),
        )
    ]
    if "returns" in tables:
        returned = con.sql(_RETURNS_SQL, params=params).to_arrow_table()
        when = _epoch_days(returned.column("day"))
        # A return before the customer's first purchase finds no row and is left out.
        where = find.rows(_ints(returned.column("customer_id")), when, exact=False)
        taken.append((where, when, _ints(returned.column("amount_fen"))))
    taken_row, taken_on, taken_fen = (np.concatenate(part) for part in zip(*taken, strict=True))
    matched = taken_row >= 0
    gap_rows = np.flatnonzero(~new)
    gap_segment = segment[gap_rows]
    gap_day = day[gap_rows]
    gap_rows -= 1  # each gap's earlier purchase day
    gap_days = day[gap_rows]
    np.subtract(gap_day, gap_days, out=gap_days)
    del gap_rows
    gap_segment, gap_days, gap_day = _by_length(gap_segment, gap_days, gap_day)
    # The running total of what was paid, from 0.
    paid_sum = np.zeros(len(paid) + 1, dtype=np.int64)
    np.cumsum(paid, dtype=np.int64, out=paid_sum[1:])
    return PurchaseHistory(
        con=con,
        upto=upto,
        tables=frozenset(tables),
        ids=ids,
        starts=np.asarray(np.append(first_rows, len(customer)), dtype=np.int64),
        segment=segment,
        day=day,
        paid_sum=paid_sum,
        taken_row=taken_row[matched],
        taken_segment=segment[taken_row[matched]],
        taken_on=taken_on[matched],
        taken_fen=taken_fen[matched],
        gap_segment=gap_segment,
        gap_days=gap_days,
        gap_day=gap_day,
        day_max=int(day.max()) if len(day) else 0,
    )


def _by_length(
    segment: IntArray, length: IntArray, day: IntArray
) -> tuple[IntArray, IntArray, IntArray]:
    """The gaps sorted by customer, then length (equal gaps are interchangeable for the
    medians: any order among them). Where the three fit in 63 bits they are packed into one
    integer each and sorted as values, not by an index: NumPy's vectorised sort of plain
    integers takes about half of an argsort's time, and no gather of the three after it."""
    if not len(segment):
        return segment, length, day
    low = int(day.min())
    day_bits = (int(day.max()) - low).bit_length()
    length_bits = int(length.max()).bit_length()
    segment_bits = int(segment.max()).bit_length()
    if min(int(length.min()), int(segment.min())) < 0 or (
        segment_bits + length_bits + day_bits > 63
    ):
        order = _sort_order(segment, length, stable=False)
        return segment[order], length[order], day[order]
    packed = segment << (length_bits + day_bits)
    packed |= length << day_bits
    packed |= day - low
    packed.sort()
    day_mask = (1 << day_bits) - 1
    sorted_day = packed & day_mask
    sorted_day += low
    sorted_length = packed >> day_bits
    sorted_length &= (1 << length_bits) - 1
    packed >>= length_bits + day_bits
    return packed, sorted_length, sorted_day


def _single_key(major: IntArray, minor: IntArray) -> IntArray | None:
    """major · span + (minor − its least) per row, ascending as (major, minor) are, or None
    where it would not fit in 63 bits (or there are no rows)."""
    if not len(major):
        return None
    low, span = int(minor.min()), int(minor.max()) - int(minor.min()) + 1
    if int(major.min()) < 0 or int(major.max()) >= (1 << 62) // span:
        return None
    key = major * span
    key += minor
    if low:
        key -= low
    return key


def _in_order(major: IntArray, minor: IntArray) -> bool:
    """Whether the rows are already by ``major``, then ``minor`` (ties in any order)."""
    if len(major) < 2:
        return True
    after, before = major[1:], major[:-1]
    if not (after >= before).all():
        return False
    same = after == before
    return bool((minor[1:][same] >= minor[:-1][same]).all())


def _sort_order(major: IntArray, minor: IntArray, *, stable: bool = True) -> npt.NDArray[np.intp]:
    """``np.lexsort((minor, major))``: the rows by ``major``, then ``minor``, stably. Done as
    one sort of a single key where it fits in 63 bits: a fraction of the lexsort's cost.
    ``stable=False`` leaves equal (major, minor) rows in any order, for NumPy's faster
    unstable sort, when the caller adds them up anyway."""
    if not len(major):
        return np.arange(0, dtype=np.intp)
    low, span = int(minor.min()), int(minor.max()) - int(minor.min()) + 1
    if int(major.min()) >= 0 and int(major.max()) < (1 << 62) // span:
        key = major * span  # the single key, built in place: major · span + (minor − low)
        key += minor
        if low:
            key -= low
        return np.argsort(key, kind="stable" if stable else None)
    return np.lexsort((minor, major))


def _ints(column: Any) -> IntArray:
    return np.asarray(column.to_numpy(), dtype=np.int64)


class _RowFinder:
    """Finds a (customer, day)'s row among the purchase days sorted by customer and day."""

    def __init__(self, ids: IntArray, segment: IntArray, day: IntArray) -> None:
        self.ids = ids
        self.day = day
        self.origin = int(day.min()) if len(day) else 0
        self.span = int(day.max()) - self.origin + 2 if len(day) else 1
        # One ascending key per row: the customer's place, then the day.
        self.keys = segment * self.span
        self.keys += day
        self.keys -= self.origin

    def rows(self, who: IntArray, when: IntArray, *, exact: bool) -> IntArray:
        """Each (customer, day)'s row: that day's, or with ``exact=False`` the latest
        purchase day's on or before it; -1 where there is none."""
        if not len(self.ids) or not len(who):
            return np.full(len(who), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.ids, who), len(self.ids) - 1)
        known = self.ids[at] == who
        offset = np.clip(when - self.origin, -1, self.span - 1)
        found = np.searchsorted(self.keys, at * self.span + offset, side="right") - 1
        # The row found must be the customer's own (not the previous customer's last).
        ok = known & (found >= 0) & (self.keys[np.maximum(found, 0)] // self.span == at)
        if exact:
            ok &= self.day[np.maximum(found, 0)] == when
        return np.where(ok, found, -1)
