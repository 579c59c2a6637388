"""Patron's analytics definitions, written once in Ibis so they run on DuckDB and on Spark.

Each function takes the analytics store's tables (``Tables``, see ``schema.py``) and the
run's parameters (``AnalyticsParams``) and returns an unexecuted Ibis table; the caller
materialises it (``to_pyarrow``, ``create_table``) on whatever backend the tables live on.

Shared rules:
- only orders with ``order_date <= as_of`` are read (a run for a past day gives that day's
  answer); the business day is ``order_date`` as computed by the extract, never
  ``ordered_at``;
- "net" is ``net_fen`` (paid less refunds, as of the extract); a **counted order** is a
  member's order with ``net_fen > 0`` (an order refunded in full is not a purchase);
- anonymous orders (``customer_id`` null) count in KPIs only;
- a return without a known sale (``returns`` with no order) lowers its customer's spend in
  the RFM window, and the KPIs of its day;
- "within the last N days" means ``as_of - N < order_date <= as_of``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Literal

import ibis

from patron.analytics.engine import _cohorts, _kpis, _migration, _scores
from patron.analytics.engine._kpis import KpiFacts
from patron.analytics.engine._params import (
    NO_SEGMENT,
    SEGMENTS,
    STAGES,
    AnalyticsParams,
    AnalyticsParamsError,
    Tables,
    TablesError,
    group_name,
)

__all__ = [
    "KPI_DIMENSIONS",
    "NO_SEGMENT",
    "SEGMENTS",
    "STAGES",
    "AnalyticsParams",
    "AnalyticsParamsError",
    "KpiFacts",
    "Tables",
    "TablesError",
    "cohorts",
    "customer_scores",
    "group_name",
    "kpis",
    "segment_migration",
    "shared_kpi_facts",
]

KpiDimension = Literal[
    "day", "store", "channel", "category", "country", "province", "city", "payment_method",
    "cashier",
]  # fmt: skip
KPI_DIMENSIONS: tuple[KpiDimension, ...] = (
    "day",
    "store",
    "channel",
    "category",
    "country",
    "province",
    "city",
    "payment_method",
    "cashier",
)


def customer_scores(tables: Tables, params: AnalyticsParams) -> ibis.Table:
    """One row per customer known on ``as_of``, with exactly the ``customer_score`` columns:

    customer_id (int64), as_of (date), recency_days (int64, null without a purchase in the
    window), frequency (int64), monetary_fen (int64), r_score, f_score, m_score (int64 1–5,
    null without a purchase in the window), segment (string code of ``SEGMENTS`` or null),
    stage (string code of ``STAGES``, never null), first_order_date, last_order_date (date,
    over all counted orders up to ``as_of``; null for prospects).

    A customer is known on ``as_of`` when ``signup_date <= as_of`` or they have a counted order
    dated up to ``as_of``.

    RFM, over the counted orders in the window: recency is ``as_of`` minus the last purchase
    day, frequency the number of counted orders, monetary the total net fen or the average
    net fen per counted order (``params.monetary``). Scores are quintiles among the window's
    buyers by rank, so equal values always score the same: with ``rank`` the number of buyers
    strictly worse and ``n`` the buyers, ``score = min(5, 1 + 5 × rank // (n - 1))`` (1 when
    ``n`` is 1). The worst value scores 1, the best 5; for R, fewer days is better.

    Segment: R near/far × F high/low × M high/low, each split at the buyers' mean or at the
    fixed values (``params.split``); near R is ``recency_days <= split`` (mean compared
    exactly, as ``recency × n <= Σ recency``), high F ``frequency >= split``, high M
    ``monetary_fen >= split``. Important = high M; value/develop = near R, keep/retain = far R;
    value/keep = high F, develop/retain = low F.

    Stage, the first that applies, over counted orders of all history up to ``as_of``:
    1. prospect — no counted order (never bought, or every order refunded in full);
    2. lapsed — silent more than ``lapsed_days``;
    3. at_risk — silent more than ``max(at_risk_factor × usual gap, at_risk_min_days)``,
       the usual gap being ``(last - first) / (counted orders - 1)`` over all history (two
       orders on one day shorten it: counting distinct days would cost a DISTINCT over
       every order), and only the floor for a one-order customer;
    4. won_back — a purchase within ``won_back_days`` followed a silence of more than
       ``lapsed_days``;
    5. new — first purchase within ``new_days``;
    6. loyal — at least ``loyal_orders`` counted orders within ``loyal_days``;
    7. active — everyone else who bought.
    """
    return _scores.customer_scores(tables, params)


def cohorts(tables: Tables, params: AnalyticsParams) -> ibis.Table:
    """Monthly first-purchase cohorts, one row per cohort and month with activity:

    cohort_month (date, first day of the month of the customer's first counted order),
    months_since (int64, 0 for the cohort month itself), cohort_size (int64, customers in the
    cohort), customers (int64, of them with a counted order in that month), retention
    (float64, customers / cohort_size), revenue_fen (int64, the cohort's net sales that month).

    All history up to ``as_of`` (the month of ``as_of`` is partial).
    """
    return _cohorts.cohorts(tables, params)


def kpis(
    tables: Tables, params: AnalyticsParams, by: KpiDimension, *, shared: KpiFacts | None = None
) -> ibis.Table:
    """Sales KPIs over the last ``kpi_days`` days, one row per value of ``by``.

    Key columns: ``order_date`` (day); ``store_id``, ``store_code``, ``store_name`` (store);
    ``channel``; ``category`` (from the order lines; an order counts in every category it has
    a line with positive net in); ``country``, ``province``, ``city``, ``payment_method``,
    ``cashier`` (what an import said of the order, ``order_attributes``; null when nothing).
    Then:
    net_sales_fen (int64: net sales as ``patron.orders.sales`` defines them, what the period's
    orders were paid less what went back in the period, by the day, store and channel it went
    back in: ``returns``), orders (int64, orders with positive net), average_order_value_fen
    (int64 rounded half up, null without orders), buyers (int64, members with an order),
    repeat_rate (float64, share of those buyers with ≥ 2 orders in the group over the
    period, null without buyers), member_sales_fen (int64, orders with a customer),
    member_share (float64, member_sales / net_sales, null when net sales are 0),
    new_customer_sales_fen and returning_customer_sales_fen (int64; a member is new when their
    first counted order ever is in the period, returning when it is before).
    Any other ``by`` raises ``AnalyticsParamsError`` naming it.

    ``shared``: what ``shared_kpi_facts`` yields, for the same tables and params (the same
    rows, read once for every ``by``).
    """
    return _kpis.kpis(tables, params, by, shared=shared)


def shared_kpi_facts(tables: Tables, params: AnalyticsParams) -> AbstractContextManager[KpiFacts]:
    """A block in which ``kpis(..., shared=facts)`` reads the period's orders and the
    members' first orders once for every dimension (on DuckDB, temporary tables dropped when
    the block ends; elsewhere the same expressions as without)."""
    return _kpis.shared_facts(tables, params)


def segment_migration(
    tables: Tables, params: AnalyticsParams, *, now: ibis.Table | None = None
) -> ibis.Table:
    """How customers moved between value segments from the last day of the previous month to
    ``as_of``: from_segment, to_segment (string codes of ``SEGMENTS``, null for no purchase in
    that window), customers (int64). One row per pair that occurs, over the customers known
    on ``as_of``; both sides use ``params`` with only the as-of day changed.

    ``now``: today's side when the caller holds it already, customer_id and segment of
    ``customer_scores(tables, params)`` (the same segments; computed again without it).
    """
    return _migration.segment_migration(tables, params, now=now)
