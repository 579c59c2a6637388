"""Sales KPIs over the KPI period by day, store, channel or product category."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

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


def first_orders(tables: Tables, as_of: date) -> ir.Table:
    """(customer_id, first_order_date): each member's first counted order up to ``as_of``."""
    return (
        counted_orders(tables, as_of)
        .group_by("customer_id")
        .aggregate(first_order_date=lambda t: t.order_date.min())
    )


def period_facts(
    tables: Tables, params: AnalyticsParams, *, by_line: bool, first: ir.Table | None = None
) -> ir.Table:
    """The KPI period's sales and returns, a row per order (per order line with ``by_line``)
    and per return, with ``is_new``: the member's first counted order ever is in the period.
    ``first`` is ``first_orders`` (or a table holding it)."""
    period_start = params.as_of - timedelta(days=params.kpi_days)  # exclusive
    o = tables.orders
    o = o.filter(o.order_date > period_start, o.order_date <= params.as_of)
    back = tables.returns_or_empty()
    back = back.filter(back.return_date > period_start, back.return_date <= params.as_of)
    if first is None:
        first = first_orders(tables, params.as_of)
    # Net sales as the orders domain defines them: what the orders of the period were paid,
    # less what went back in the period (a refund on its own day, whenever the sale was).
    if by_line:
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
    facts = facts.left_join(first, facts.customer_id == first.customer_id).drop("customer_id_right")
    return facts.mutate(is_new=(facts.first_order_date > period_start).fill_null(False))


@dataclass(frozen=True)
class KpiFacts:
    """What every KPI table reads: ``orders`` (``period_facts`` by order) and ``lines`` (by
    order line)."""

    orders: ir.Table
    lines: ir.Table


@contextmanager
def shared_facts(tables: Tables, params: AnalyticsParams) -> Iterator[KpiFacts]:
    """The KPI tables' inputs, read once for all of them: on DuckDB the members' first orders
    and the period's orders are kept in temporary tables while the block runs (each KPI
    table otherwise grouped every counted order again); elsewhere the plain expressions."""
    first = first_orders(tables, params.as_of)
    if not tables.on_duckdb():
        yield KpiFacts(
            orders=period_facts(tables, params, by_line=False, first=first),
            lines=period_facts(tables, params, by_line=True, first=first),
        )
        return
    backend = tables.orders._find_backend(use_default=True)
    names: list[str] = []

    def kept(expr: ir.Table) -> ir.Table:
        name = ibis.util.gen_name("kpi_facts")
        table = backend.create_table(name, expr, temp=True)
        names.append(name)
        return table

    try:
        first = kept(first)
        yield KpiFacts(
            orders=kept(period_facts(tables, params, by_line=False, first=first)),
            lines=period_facts(tables, params, by_line=True, first=first),
        )
    finally:
        for name in names:
            backend.raw_sql(f'DROP TABLE IF EXISTS temp.main."{name}"')


def kpis(
    tables: Tables, params: AnalyticsParams, by: str, *, shared: KpiFacts | None = None
) -> ir.Table:
    if by not in _KEYS:
        raise AnalyticsParamsError("by", by, f"must be one of {tuple(_KEYS)}")
    keys = list(_KEYS[by])
    if shared is None:
        facts = period_facts(tables, params, by_line=by == "category")
    else:
        facts = shared.lines if by == "category" else shared.orders
    if by in ATTRIBUTES:
        said = tables.attributes_or_empty().select("order_id", by)
        facts = facts.left_join(said, facts.order_id == said.order_id).drop("order_id_right")
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
