"""The churn feature registry: what the model looks at, how each signal is computed over the
analytics store, and how it reads as a reason.

Two registries:

- ``SOURCES``: SQL over the analytics store (engine/schema.py tables), one row per customer,
  evaluated as of a cut-off day. Each source names the tables it ``requires``; a source whose
  tables are not in the store is skipped, and so are the features built on it (the model
  report lists them as unavailable). Every query sees only what was known at the cut-off:
  orders on or before it and refunds dated on or before it — never ``orders.refunded_fen``,
  which holds refunds as of the extract, i.e. possibly from the future.
- ``FEATURES``: each has a name, the source columns it reads, a ``value`` on the model's
  scale (NaN where it is not defined for a customer, e.g. no usual gap after one purchase),
  a reason code with its numbers and the condition under which the reason is worth saying,
  and the suggested action. Texts live in reasons.py.

The population at a cut-off is every customer with at least one purchase on or before it
(source ``purchases``); other sources are left-joined and fill their own defaults.

Adding a signal when its data arrives (support tickets, surveys, campaign messages): add a
``Source`` whose SQL reads the new analytics table (e.g. ``tickets``: complaints per customer
in the 30 days up to ``$cutoff``), add a ``Feature`` on its columns with a reason code, put
the reason's zh-CN/en template and action in reasons.py, and the model picks it up on the
next run — in stores that have the table. Nothing is registered for data Patron does not
hold yet: a feature that is constant for everyone would only add noise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Columns = Mapping[str, npt.NDArray[Any]]

# The label window and the "recent" window of the frequency trend, in days.
RECENT_DAYS = 90
# A customer needs this many days of history before the recent window for their own
# earlier purchase rate to mean anything.
MIN_BASELINE_DAYS = 90
# How many latest purchase days the spend trend compares with the earlier ones.
LATEST_PURCHASES = 3


@dataclass(frozen=True)
class Source:
    """SQL giving one row per customer as of ``$cutoff`` (a DATE parameter)."""

    name: str
    requires: tuple[str, ...]
    sql: str
    columns: tuple[str, ...]
    # Value for customers the source has no row for (left join); NaN if none given.
    fill: Mapping[str, float] | None = None


_PURCHASES_TEMPLATE = f"""
WITH refunded AS (
    SELECT order_id, sum(amount_fen) AS refunded_fen
    FROM refunds
    WHERE refund_date <= $cutoff
    GROUP BY order_id
),
order_days AS (
    SELECT o.customer_id,
           o.order_date AS day,
           sum(o.paid_fen) AS paid_fen,
           sum(coalesce(r.refunded_fen, 0)) AS refunded_fen
    FROM orders AS o
    LEFT JOIN refunded AS r USING (order_id)
    WHERE o.customer_id IS NOT NULL AND o.order_date <= $cutoff
      AND (o.customer_id % 1000003) * 2654435761 % 1000 < $sample_per_mille
    GROUP BY o.customer_id, o.order_date
),
{{days}},
ranked AS (
    SELECT customer_id, day, paid_fen, refunded_fen,
           paid_fen - refunded_fen AS net_fen,
           day - lag(day) OVER by_day AS gap_days,
           row_number() OVER by_day AS rank_asc,
           -- counted over the same ordering, so one sort serves every window
           count(*) OVER whole - row_number() OVER by_day + 1 AS rank_desc
    FROM days
    WINDOW by_day AS (PARTITION BY customer_id ORDER BY day),
           whole AS (PARTITION BY customer_id ORDER BY day
                     ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
)
SELECT customer_id,
       count(*)::DOUBLE AS purchase_days,
       ($cutoff - min(day))::DOUBLE AS tenure_days,
       ($cutoff - max(day))::DOUBLE AS days_since_last,
       (max(day) - min(day))::DOUBLE AS active_span_days,
       median(gap_days)::DOUBLE AS median_gap_days,
       (count(*) FILTER (WHERE day > $recent_start))::DOUBLE AS recent_purchase_days,
       (count(*) FILTER (WHERE day <= $recent_start))::DOUBLE AS earlier_purchase_days,
       ($recent_start - min(day))::DOUBLE AS earlier_span_days,
       sum(paid_fen)::DOUBLE AS paid_fen,
       sum(refunded_fen)::DOUBLE AS refunded_fen,
       sum(net_fen)::DOUBLE AS net_fen,
       coalesce(sum(net_fen) FILTER (WHERE rank_asc > 1), 0)::DOUBLE AS repeat_net_fen,
       (avg(net_fen) FILTER (WHERE rank_desc <= {LATEST_PURCHASES}))::DOUBLE AS latest_mean_fen,
       (avg(net_fen) FILTER (WHERE rank_desc > {LATEST_PURCHASES}))::DOUBLE AS earlier_mean_fen
FROM ranked
GROUP BY customer_id
ORDER BY customer_id
"""

# A purchase day's net is what was paid less what its orders' refunds took back; a return
# without a known sale is taken from the customer's latest purchase day on or before it
# (the purchase it most plausibly undoes; one before any purchase is left out).
_DAYS_ORDERS_ONLY = "days AS (SELECT * FROM order_days)"
_DAYS_WITH_RETURNS = """unmatched AS (
    SELECT customer_id, return_date AS day, sum(amount_fen) AS amount_fen
    FROM returns
    WHERE order_id IS NULL AND customer_id IS NOT NULL AND return_date <= $cutoff
    GROUP BY customer_id, return_date
),
taken AS (
    SELECT d.customer_id, d.day, sum(u.amount_fen) AS amount_fen
    FROM unmatched AS u
    ASOF JOIN order_days AS d ON u.customer_id = d.customer_id AND u.day >= d.day
    GROUP BY d.customer_id, d.day
),
days AS (
    SELECT d.customer_id, d.day, d.paid_fen,
           d.refunded_fen + coalesce(t.amount_fen, 0) AS refunded_fen
    FROM order_days AS d LEFT JOIN taken AS t USING (customer_id, day)
)"""
_PURCHASES_SQL = _PURCHASES_TEMPLATE.format(days=_DAYS_ORDERS_ONLY)
PURCHASES_WITH_RETURNS_SQL = _PURCHASES_TEMPLATE.format(days=_DAYS_WITH_RETURNS)

SOURCES: dict[str, Source] = {
    "purchases": Source(
        name="purchases",
        requires=("orders", "refunds"),
        sql=_PURCHASES_SQL,
        columns=(
            "purchase_days",
            "tenure_days",
            "days_since_last",
            "active_span_days",
            "median_gap_days",
            "recent_purchase_days",
            "earlier_purchase_days",
            "earlier_span_days",
            "paid_fen",
            "refunded_fen",
            "net_fen",
            "repeat_net_fen",
            "latest_mean_fen",
            "earlier_mean_fen",
        ),
    ),
}


# Service signals (support/signals.py, copied by analytics/service_extract.py): complaints,
# tickets still open, breached service levels and what customers answered in surveys, in
# the RECENT_DAYS up to the cut-off (tickets still open: as of the cut-off).
SOURCES["tickets"] = Source(
    name="tickets",
    requires=("tickets",),
    sql="""
SELECT customer_id,
       (count(*) FILTER (WHERE ticket_type = 'complaint' AND opened_on > $recent_start))::DOUBLE
           AS complaints_recent,
       (count(*) FILTER (WHERE closed_on IS NULL OR closed_on > $cutoff))::DOUBLE
           AS open_tickets,
       (count(*) FILTER (WHERE breached_on > $recent_start AND breached_on <= $cutoff))::DOUBLE
           AS sla_breaches_recent
FROM tickets
WHERE customer_id IS NOT NULL AND opened_on <= $cutoff
  AND (customer_id % 1000003) * 2654435761 % 1000 < $sample_per_mille
GROUP BY customer_id
ORDER BY customer_id
""",
    columns=("complaints_recent", "open_tickets", "sla_breaches_recent"),
    fill={"complaints_recent": 0.0, "open_tickets": 0.0, "sla_breaches_recent": 0.0},
)
SOURCES["surveys"] = Source(
    name="surveys",
    requires=("survey_answers",),
    sql="""
SELECT customer_id,
       (count(*) FILTER (WHERE csat <= 2))::DOUBLE AS low_csat_recent,
       (count(*) FILTER (WHERE nps <= 6))::DOUBLE AS detractor_recent
FROM survey_answers
WHERE customer_id IS NOT NULL AND answered_on > $recent_start AND answered_on <= $cutoff
  AND (customer_id % 1000003) * 2654435761 % 1000 < $sample_per_mille
GROUP BY customer_id
ORDER BY customer_id
""",
    columns=("low_csat_recent", "detractor_recent"),
    fill={"low_csat_recent": 0.0, "detractor_recent": 0.0},
)


def column(c: Columns, name: str) -> FloatArray:
    """A source's column, or zeros when the store lacks its table (the feature is then left
    out of the model; its reason texts are still checked on zeros)."""
    if name in c:
        return np.asarray(c[name], dtype=np.float64)
    return np.zeros(len(c["purchase_days"]), dtype=np.float64)


# ------------------------------------------------------------------- derived quantities
# Each is a plain function of the columns, shared by a feature's value, its condition and
# its numbers, so what the model sees and what the reason says cannot drift apart.


def gap_ratio(c: Columns) -> FloatArray:
    """Days since the last purchase over the customer's own median gap; NaN with one purchase."""
    gap = c["median_gap_days"].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = c["days_since_last"] / gap
    return np.where(np.isfinite(ratio) & (gap > 0), ratio, np.nan)


def usual_recent_purchases(c: Columns) -> FloatArray:
    """Purchase days the customer's own earlier rate predicts for the recent window.

    The earlier rate is repeat purchase days per day between the first purchase and the
    window's start (the first purchase is the start of the clock, not a sign of the rate);
    NaN when that stretch is shorter than MIN_BASELINE_DAYS.
    """
    span = c["earlier_span_days"]
    repeats = np.maximum(c["earlier_purchase_days"] - 1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        usual = repeats / span * RECENT_DAYS
    return np.where(span >= MIN_BASELINE_DAYS, usual, np.nan)


def spend_ratio(c: Columns) -> FloatArray:
    """Mean net spend of the latest purchase days over the earlier ones; NaN unless both
    are positive and there are at least two earlier purchase days."""
    latest, earlier = c["latest_mean_fen"], c["earlier_mean_fen"]
    enough = c["purchase_days"] >= LATEST_PURCHASES + 2
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = latest / earlier
    return np.where(enough & (latest > 0) & (earlier > 0), ratio, np.nan)


def refund_share(c: Columns) -> FloatArray:
    """Refunded over paid, in [0, 1]; 0 when nothing was paid."""
    paid = c["paid_fen"]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = c["refunded_fen"] / paid
    return np.clip(np.where(paid > 0, share, 0.0), 0.0, 1.0)


def _logit(p: FloatArray) -> FloatArray:
    q = np.clip(p, 1e-4, 1 - 1e-4)
    return np.asarray(np.log(q / (1 - q)), dtype=np.float64)


@dataclass(frozen=True)
class Feature:
    """A model input with its reason: what it measures, how, and what to say and do."""

    name: str
    description: str
    source: str
    value: Callable[[Columns], FloatArray]
    reason: str
    action: str
    # When the reason is worth saying (besides the model finding it raises the risk).
    applies: Callable[[Columns], BoolArray]
    numbers: Callable[[Columns], dict[str, FloatArray]]
    # +1 if the reason speaks of a high value (a long gap), −1 of a low one (few purchases):
    # a reason is given only for a customer on that side of the mean, so correlated features
    # with opposite coefficients cannot turn "bought recently" into a reason for risk.
    direction: int = 1


def _frequency_trend(c: Columns) -> FloatArray:
    usual = usual_recent_purchases(c)
    return np.asarray(np.log((c["recent_purchase_days"] + 0.5) / (usual + 0.5)), dtype=np.float64)


def _service_feature(
    name: str, description: str, source: str, col: str, reason: str, action: str
) -> Feature:
    """A count of service events: log(1 + count) for the model, said when there is one."""

    def value(c: Columns) -> FloatArray:
        return np.asarray(np.log1p(column(c, col)), dtype=np.float64)

    def applies(c: Columns) -> BoolArray:
        return np.asarray(column(c, col) >= 1, dtype=np.bool_)

    def numbers(c: Columns) -> dict[str, FloatArray]:
        return {"count": column(c, col)}

    return Feature(name, description, source, value, reason, action, applies, numbers)


FEATURES: tuple[Feature, ...] = (
    Feature(
        name="p_alive",
        description="logit P(alive) from BG/NBD fitted at the cut-off",
        source="bgnbd",
        value=lambda c: _logit(c["p_alive"]),
        reason="low_p_alive",
        action="win_back_coupon",
        applies=lambda c: c["p_alive"] < 0.5,
        numbers=lambda c: {"percent": np.round(100 * c["p_alive"])},
        direction=-1,
    ),
    Feature(
        name="gap_ratio",
        description="log(days since the last purchase / own median gap between purchases)",
        source="purchases",
        value=lambda c: np.log(np.maximum(gap_ratio(c), 1e-3)),
        reason="long_gap",
        action="win_back_coupon",
        applies=lambda c: (np.nan_to_num(gap_ratio(c)) >= 2) & (c["days_since_last"] >= 7),
        numbers=lambda c: {
            "ratio": np.round(gap_ratio(c), 1),
            "days": c["days_since_last"],
            "usual_days": np.round(c["median_gap_days"], 1),
        },
    ),
    Feature(
        name="days_since_last",
        description="log(1 + days since the last purchase)",
        source="purchases",
        value=lambda c: np.log1p(c["days_since_last"]),
        reason="no_recent_purchase",
        action="care_message",
        applies=lambda c: c["days_since_last"] >= 60,
        numbers=lambda c: {"days": c["days_since_last"]},
    ),
    Feature(
        name="frequency_trend",
        description=(
            "log((purchase days in the last 90 + ½) / (what the own earlier rate predicts + ½))"
        ),
        source="purchases",
        value=_frequency_trend,
        reason="frequency_drop",
        action="store_manager_call",
        applies=lambda c: (
            (np.nan_to_num(usual_recent_purchases(c)) >= 1)
            & (c["recent_purchase_days"] <= 0.5 * np.nan_to_num(usual_recent_purchases(c)))
        ),
        numbers=lambda c: {
            "recent": c["recent_purchase_days"],
            "usual": np.round(usual_recent_purchases(c), 1),
        },
        direction=-1,
    ),
    Feature(
        name="spend_trend",
        description="log(mean spend of the latest 3 purchase days / the earlier ones)",
        source="purchases",
        value=lambda c: np.log(spend_ratio(c)),
        reason="spend_drop",
        action="personalised_offer",
        applies=lambda c: np.nan_to_num(spend_ratio(c), nan=1.0) <= 0.7,
        numbers=lambda c: {"percent": np.round(100 * (1 - spend_ratio(c)))},
        direction=-1,
    ),
    Feature(
        name="refund_share",
        description="refunded value / paid value, refunds dated up to the cut-off",
        source="purchases",
        value=refund_share,
        reason="refunds",
        action="service_follow_up",
        applies=lambda c: refund_share(c) >= 0.2,
        numbers=lambda c: {"percent": np.round(100 * refund_share(c))},
    ),
    Feature(
        name="tenure",
        description="log(1 + days since the first purchase)",
        source="purchases",
        value=lambda c: np.log1p(c["tenure_days"]),
        reason="new_customer",
        action="second_purchase_offer",
        applies=lambda c: c["tenure_days"] < 90,
        numbers=lambda c: {"days": c["tenure_days"]},
        direction=-1,
    ),
    Feature(
        name="purchase_days",
        description="log(distinct purchase days up to the cut-off)",
        source="purchases",
        value=lambda c: np.log(c["purchase_days"]),
        reason="single_purchase",
        action="second_purchase_offer",
        applies=lambda c: c["purchase_days"] == 1,
        numbers=lambda c: {},
        direction=-1,
    ),
    *(
        _service_feature(*spec)
        for spec in (
            (
                "complaints",
                "log(1 + complaints in the last 90 days)",
                "tickets",
                "complaints_recent",
                "complaints",
                "service_recovery",
            ),
            (
                "open_tickets",
                "log(1 + service tickets open at the cut-off)",
                "tickets",
                "open_tickets",
                "open_tickets",
                "resolve_ticket",
            ),
            (
                "sla_breaches",
                "log(1 + tickets whose service level was broken, last 90 days)",
                "tickets",
                "sla_breaches_recent",
                "sla_breaches",
                "service_recovery",
            ),
            (
                "low_csat",
                "log(1 + survey answers of CSAT 1-2, last 90 days)",
                "surveys",
                "low_csat_recent",
                "low_csat",
                "service_recovery",
            ),
            (
                "detractor",
                "log(1 + NPS answers of 0-6, last 90 days)",
                "surveys",
                "detractor_recent",
                "detractor",
                "store_manager_call",
            ),
        )
    ),
)

# Sources computed in Python rather than SQL, with the tables their inputs come from.
DERIVED_SOURCES: dict[str, tuple[str, ...]] = {"bgnbd": ("orders", "refunds")}


def store_tables(con: Any) -> set[str]:
    """Names of the tables in the analytics store (main schema)."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()
    return {str(r[0]) for r in rows}


def requirements(source: str) -> tuple[str, ...]:
    if source in SOURCES:
        return SOURCES[source].requires
    return DERIVED_SOURCES[source]


def available_features(tables: set[str]) -> tuple[list[Feature], dict[str, list[str]]]:
    """The features whose sources' tables are all present, and for the others the tables
    they lack (for the model report)."""
    usable: list[Feature] = []
    missing: dict[str, list[str]] = {}
    for feature in FEATURES:
        lacking = [t for t in requirements(feature.source) if t not in tables]
        if lacking:
            missing[feature.name] = lacking
        else:
            usable.append(feature)
    return usable, missing


def in_sample(customer_ids: npt.NDArray[np.int64], per_mille: int) -> BoolArray:
    """The customers a ``sample_per_mille`` sample keeps (the same rule as the SQL, whose
    ``%`` keeps the dividend's sign, as ``np.fmod`` does, for any id)."""
    ids = np.asarray(customer_ids, dtype=np.int64)
    return np.asarray(np.fmod(np.fmod(ids, 1000003) * 2654435761, 1000) < per_mille, dtype=np.bool_)


def compute_columns(
    con: Any, *, cutoff: date, tables: set[str], sample_per_mille: int = 1000
) -> dict[str, npt.NDArray[Any]]:
    """Every available source's columns for the customers with a purchase by ``cutoff``.

    ``sample_per_mille`` < 1000 keeps a fixed pseudo-random sample of customers (a hash of
    the id, so a sample at an earlier cut-off is a subset of the same sample later).
    Returns ``customer_id`` (int64, ascending) and one float array per column.
    """
    params = {
        "cutoff": cutoff,
        "recent_start": cutoff - timedelta(days=RECENT_DAYS),
        "sample_per_mille": int(sample_per_mille),
    }
    base = SOURCES["purchases"]
    sql = PURCHASES_WITH_RETURNS_SQL if "returns" in tables else base.sql
    arrow = con.sql(sql, params=params).to_arrow_table()
    out: dict[str, npt.NDArray[Any]] = {
        "customer_id": arrow.column("customer_id").to_numpy().astype(np.int64)
    }
    for name in base.columns:
        out[name] = arrow.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
    _join_other_sources(con, out, params=params, tables=tables)
    return out


def _join_other_sources(
    con: Any, out: dict[str, npt.NDArray[Any]], *, params: dict[str, Any], tables: set[str]
) -> None:
    """Add the columns of every available source but ``purchases`` to ``out`` (left join on
    its ascending ``customer_id``, each source's defaults where it has no row)."""
    base = SOURCES["purchases"]
    ids = out["customer_id"]
    for source in SOURCES.values():
        if source is base or any(t not in tables for t in source.requires):
            continue
        extra = con.sql(source.sql, params=params).to_arrow_table()
        their_ids = extra.column("customer_id").to_numpy().astype(np.int64)
        pos = np.searchsorted(ids, their_ids)
        pos_ok = (pos < len(ids)) & (ids[np.minimum(pos, len(ids) - 1)] == their_ids)
        for name in source.columns:
            default = (source.fill or {}).get(name, np.nan)
            column = np.full(len(ids), default, dtype=np.float64)
            values = extra.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
            column[pos[pos_ok]] = values[pos_ok]
            out[name] = column
