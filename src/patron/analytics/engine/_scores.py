"""RFM, value segments and lifecycle stages per customer: one pass over the counted orders."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir

from patron.analytics.engine._params import AnalyticsParams, Tables

SCORE_COLUMNS = (
    "customer_id",
    "as_of",
    "recency_days",
    "frequency",
    "monetary_fen",
    "r_score",
    "f_score",
    "m_score",
    "segment",
    "stage",
    "first_order_date",
    "last_order_date",
)


def counted_orders(tables: Tables, as_of: date) -> ir.Table:
    """Members' orders with positive net dated up to ``as_of``: the purchases."""
    o = tables.orders
    return o.filter(o.customer_id.notnull(), o.net_fen > 0, o.order_date <= as_of).select(
        "customer_id", "order_id", "order_date", "net_fen"
    )


def _days_before(as_of: date, days: int) -> date:
    """The last day *outside* "within the last ``days`` days": ``d > this`` is inside."""
    return as_of - timedelta(days=days)


def _summary(tables: Tables, params: AnalyticsParams, *, lifecycle: bool) -> ir.Table:
    """Per buyer-ever: the RFM window's figures and, if asked, what the stages need. One
    group-by over the counted orders, without DISTINCT (the costly part on a chain's data)."""
    as_of = params.as_of
    o = counted_orders(tables, as_of)
    if params.window_days is None:
        in_window = o.order_date <= as_of  # all counted orders, as a column
    else:
        in_window = o.order_date > _days_before(as_of, params.window_days)
    metrics: dict[str, ir.Value] = {
        "frequency": in_window.sum().cast("int64"),
        "total_fen": o.net_fen.sum(where=in_window).fill_null(0).cast("int64"),
        "last_order_date": o.order_date.max(),
    }
    if lifecycle:
        won_back_from = _days_before(as_of, params.won_back_days)
        metrics |= {
            "first_order_date": o.order_date.min(),
            "orders_ever": o.count().cast("int64"),
            "loyal_count": (o.order_date > _days_before(as_of, params.loyal_days))
            .sum()
            .cast("int64"),
            # won_back_days <= lapsed_days, so a silence longer than lapsed_days can only end
            # at the first purchase inside the won-back window.
            "first_recent_date": o.order_date.min(where=o.order_date > won_back_from),
            "last_earlier_date": o.order_date.max(where=o.order_date <= won_back_from),
        }
    summary = o.group_by("customer_id").aggregate(**metrics)
    # Returns without a known sale lower the spend of the window they fall in.
    r = tables.returns_or_empty()
    r = r.filter(r.order_id.isnull(), r.customer_id.notnull(), r.return_date <= as_of)
    if params.window_days is not None:
        r = r.filter(r.return_date > _days_before(as_of, params.window_days))
    taken = r.group_by("customer_id").aggregate(taken_fen=r.amount_fen.sum())
    summary = summary.left_join(taken, summary.customer_id == taken.customer_id).drop(
        "customer_id_right"
    )
    return summary.mutate(
        total_fen=(summary.total_fen - summary.taken_fen.fill_null(0)).cast("int64")
    ).drop("taken_fen")


def _score(rank: ir.IntegerValue, n: ir.IntegerValue) -> ir.IntegerValue:
    """Quintile 1–5 from the number of buyers strictly worse (``rank``) among ``n``."""
    return ibis.ifelse(n > 1, ibis.least(5, 1 + (5 * rank) // (n - 1)), 1).cast("int64")


def _grades(buyers: ir.Table, column: str, *, better: str, fixed: int | None) -> ir.Table:
    """Per distinct value of ``column`` among ``buyers``: its score and whether it is on the
    good side of the split (at ``fixed``, or at the buyers' mean when None).

    Ranking the distinct values (a few hundred for R and F) and joining back is cheaper than
    sorting every buyer, and gives equal values equal scores by construction."""
    value = buyers[column]
    hist = buyers.group_by(value.name("value")).aggregate(k=buyers.count())
    whole = ibis.window()
    n = hist.k.sum().over(whole)
    order = hist.value if better == "high" else ibis.desc(hist.value)
    worse = hist.k.cumsum(order_by=order) - hist.k  # buyers strictly worse than this value
    if fixed is None:  # mean, compared exactly: x >= Σx / n  ⇔  x·n >= Σx
        total = (hist.value * hist.k).sum().over(whole)
        good = hist.value * n >= total if better == "high" else hist.value * n <= total
    else:
        good = hist.value >= fixed if better == "high" else hist.value <= fixed
    return hist.select(
        value=hist.value,
        **{f"{column}_score": _score(worse, n), f"{column}_good": good},
    )


def _rfm(base: ir.Table, params: AnalyticsParams) -> ir.Table:
    """Add recency, monetary, the three scores and the segment to a per-customer table with
    ``frequency``, ``total_fen`` and ``last_order_date`` (nulls for non-buyers)."""
    as_of = ibis.literal(params.as_of, type="date")
    frequency = base.frequency.fill_null(0)
    buyer = frequency > 0
    total = base.total_fen.fill_null(0)
    if params.monetary == "total":
        monetary = total
    else:  # average per counted order, rounded half up (net of a counted order is > 0)
        monetary = ibis.ifelse(buyer, (total + frequency // 2) // frequency, 0)
    base = base.mutate(
        recency_days=ibis.ifelse(buyer, as_of.delta(base.last_order_date, unit="day"), None),
        frequency=frequency.cast("int64"),
        monetary_fen=monetary.cast("int64"),
    )
    buyers = base.filter(base.frequency > 0)
    fixed = params.split == "fixed"
    specs = [
        ("recency_days", "low", params.fixed_recency_days),
        ("frequency", "high", params.fixed_frequency),
        ("monetary_fen", "high", params.fixed_monetary_fen),
    ]
    for column, better, threshold in specs:
        grades = _grades(buyers, column, better=better, fixed=threshold if fixed else None)
        # Non-buyers (no recency, frequency and monetary 0) take no buyer's grade.
        on = (base[column] == grades.value) & (base.frequency > 0)
        base = base.left_join(grades, on).drop("value")
    near, f_high, m_high = base.recency_days_good, base.frequency_good, base.monetary_fen_good
    grade = ibis.ifelse(m_high, "important_", "general_")
    kind = ibis.ifelse(
        near, ibis.ifelse(f_high, "value", "develop"), ibis.ifelse(f_high, "keep", "retain")
    )
    return base.mutate(
        r_score=base.recency_days_score,
        f_score=base.frequency_score,
        m_score=base.monetary_fen_score,
        segment=ibis.ifelse(base.frequency > 0, grade.concat(kind), ibis.null("string")),
    ).drop(
        "recency_days_score",
        "frequency_score",
        "monetary_fen_score",
        "recency_days_good",
        "frequency_good",
        "monetary_fen_good",
    )


def _stage(t: ir.Table, params: AnalyticsParams) -> ir.StringValue:
    """The lifecycle stage code; see ``customer_scores``'s docstring for the rules."""
    as_of = ibis.literal(params.as_of, type="date")
    silent = as_of.delta(t.last_order_date, unit="day")
    span = t.last_order_date.delta(t.first_order_date, unit="day")
    gaps = t.orders_ever - 1  # the usual gap is span / gaps
    # silent > max(factor × span / gaps, floor), without dividing: exact on every engine.
    at_risk = (silent > params.at_risk_min_days) & (
        (gaps == 0) | (silent * gaps > span * float(params.at_risk_factor))
    )
    returned = t.first_recent_date.delta(t.last_earlier_date, unit="day") > params.lapsed_days
    since_first = as_of.delta(t.first_order_date, unit="day")
    return ibis.cases(
        (t.first_order_date.isnull(), "prospect"),
        (silent > params.lapsed_days, "lapsed"),
        (at_risk, "at_risk"),
        (returned.fill_null(False), "won_back"),
        (since_first < params.new_days, "new"),
        (t.loyal_count >= params.loyal_orders, "loyal"),
        else_="active",
    )


def _known_customers(tables: Tables, per_buyer: ir.Table, as_of: date) -> ir.Table:
    """Every customer signed up by ``as_of`` or with a purchase by then, with ``per_buyer``'s
    columns (null for those who never bought, frequency and monetary then 0)."""
    c = tables.customers
    joined = c.select("customer_id", "signup_date").left_join(
        per_buyer, c.customer_id == per_buyer.customer_id
    )
    joined = joined.drop("customer_id_right")
    joined = joined.filter((joined.signup_date <= as_of) | joined.last_order_date.notnull())
    return joined.mutate(
        frequency=joined.frequency.fill_null(0), monetary_fen=joined.monetary_fen.fill_null(0)
    ).drop("signup_date")


def customer_scores(tables: Tables, params: AnalyticsParams) -> ir.Table:
    # Scores on the buyers-ever first (fewer rows to join the grades to), then everyone.
    scored = _rfm(_summary(tables, params, lifecycle=True), params)
    known = _known_customers(tables, scored, params.as_of)
    return known.mutate(
        as_of=ibis.literal(params.as_of, type="date"),
        stage=_stage(known, params),
    ).select(*SCORE_COLUMNS)


def segments(tables: Tables, params: AnalyticsParams, *, as_of: date) -> ir.Table:
    """customer_id and segment on ``as_of`` (the other parameters from ``params``) for the
    customers known on ``as_of``."""
    shifted = replace(params, as_of=as_of)
    scored = _rfm(_summary(tables, shifted, lifecycle=False), shifted)
    return _known_customers(tables, scored, as_of).select("customer_id", "segment")
