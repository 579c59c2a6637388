"""Sales KPIs over the KPI period by day, store, channel or product category."""

from __future__ import annotations

from datetime import timedelta

import ibis
import ibis.expr.types as ir

from patron.analytics.engine._params import AnalyticsParams, AnalyticsParamsError, Tables
from patron.analytics.engine._scores import counted_orders

_KEYS = {
    "day": ("order_date",),
    "store": ("store_id",),
    "channel": ("channel",),
    "category": ("category",),
    # order attributes an export carried (null for orders that said nothing)
    "country": ("country",),
    "province": ("province",),
    "city": ("city",),
    "payment_method": ("payment_method",),
    "cashier": ("cashier",),
}
ATTRIBUTES = ("country", "province", "city", "payment_method", "cashier")


def kpis(tables: Tables, params: AnalyticsParams, by: str) -> ir.Table:
    if by not in _KEYS:
        raise AnalyticsParamsError("by", by, f"must be one of {tuple(_KEYS)}")
    keys = list(_KEYS[by])
    period_start = params.as_of - timedelta(days=params.kpi_days)  # exclusive
    o = tables.orders
    o = o.filter(o.order_date > period_start, o.order_date <= params.as_of)
    back = tables.returns_or_empty()
    back = back.filter(back.return_date > period_start, back.return_date <= params.as_of)

    first = (
        counted_orders(tables, params.as_of)
        .group_by("customer_id")
        .aggregate(first_order_date=lambda t: t.order_date.min())
    )
    # Net sales as the orders domain defines them: what the orders of the period were paid,
    # less what went back in the period (a refund on its own day, whenever the sale was).
    if by == "category":
        lines = tables.order_lines
        sold = lines.join(o, lines.order_id == o.order_id).select(
            "category",
            order_id=o.order_id,
            customer_id=o.customer_id,
            money_fen=lines.amount_fen,
            counts=(o.net_fen > 0) & (lines.net_fen > 0),
        )
        taken = back.select(
            "category",
            order_id=back.order_id,
            customer_id=back.customer_id,
            money_fen=-back.amount_fen,
            counts=ibis.literal(False),
        )
    else:
        sold = o.select(
            "order_id",
            "customer_id",
            "order_date",
            "store_id",
            "channel",
            money_fen=o.paid_fen,
            counts=o.net_fen > 0,
        )
        taken = back.select(
            order_id=back.order_id,
            customer_id=back.customer_id,
            order_date=back.return_date,
            store_id=back.store_id,
            channel=back.channel,
            money_fen=-back.amount_fen,
            counts=ibis.literal(False),
        )
    facts = sold.union(taken)
    if by in ATTRIBUTES:
        said = tables.attributes_or_empty().select("order_id", by)
        facts = facts.left_join(said, facts.order_id == said.order_id).drop("order_id_right")
    facts = facts.left_join(first, facts.customer_id == first.customer_id).drop("customer_id_right")
    facts = facts.mutate(is_new=(facts.first_order_date > period_start).fill_null(False))
    # An order counts once: in each category it has a line in, or once per row elsewhere.
    orders = facts.order_id.nunique(where=facts.counts) if by == "category" else facts.counts.sum()

    member = facts.customer_id.notnull()
    totals = facts.group_by(keys).aggregate(
        net_sales_fen=facts.money_fen.sum().cast("int64"),
        orders=orders.cast("int64"),
        member_sales_fen=facts.money_fen.sum(where=member).fill_null(0).cast("int64"),
        new_customer_sales_fen=facts.money_fen.sum(where=member & facts.is_new)
        .fill_null(0)
        .cast("int64"),
        returning_customer_sales_fen=facts.money_fen.sum(where=member & ~facts.is_new)
        .fill_null(0)
        .cast("int64"),
    )

    bought = facts.filter(facts.counts, member)
    per_buyer = bought.group_by([*keys, "customer_id"]).aggregate(
        n=bought.order_id.nunique() if by == "category" else bought.count()
    )
    repeat = per_buyer.group_by(keys).aggregate(
        buyers=per_buyer.count().cast("int64"),
        repeaters=(per_buyer.n >= 2).sum().cast("int64"),
    )
    t = totals.left_join(repeat, [totals[k] == repeat[k] for k in keys]).drop(
        *[f"{k}_right" for k in keys]
    )
    buyers = t.buyers.fill_null(0)
    t = t.mutate(
        average_order_value_fen=ibis.ifelse(
            t.orders > 0, (t.net_sales_fen + t.orders // 2) // t.orders, ibis.null("int64")
        ).cast("int64"),
        buyers=buyers.cast("int64"),
        repeat_rate=ibis.ifelse(
            buyers > 0,
            t.repeaters.cast("float64") / buyers.cast("float64"),
            ibis.null("float64"),
        ),
        member_share=ibis.ifelse(
            t.net_sales_fen != 0,
            t.member_sales_fen.cast("float64") / t.net_sales_fen.cast("float64"),
            ibis.null("float64"),
        ),
    )
    metrics = [
        "net_sales_fen",
        "orders",
        "average_order_value_fen",
        "buyers",
        "repeat_rate",
        "member_sales_fen",
        "member_share",
        "new_customer_sales_fen",
        "returning_customer_sales_fen",
    ]
    if by == "store":
        s = tables.stores
        return t.left_join(s, t.store_id == s.store_id).select(
            t.store_id,
            s.code.name("store_code"),
            s.name.name("store_name"),
            *[t[m] for m in metrics],
        )
    return t.select(*keys, *metrics)
