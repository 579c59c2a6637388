"""Monthly first-purchase cohorts: who came back in each later month, and what they spent."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from patron.analytics.engine._params import AnalyticsParams, Tables
from patron.analytics.engine._scores import counted_orders


def cohorts(tables: Tables, params: AnalyticsParams) -> ir.Table:
    o = counted_orders(tables, params.as_of)
    # Months as one integer (year × 12 + month - 1): differences are then plain subtraction.
    o = o.mutate(month_index=o.order_date.year() * 12 + o.order_date.month() - 1)
    active = o.group_by("customer_id", "month_index").aggregate(revenue_fen=o.net_fen.sum())
    # The first month by a group-by joined back: cheaper than a window over every customer.
    first = active.group_by("customer_id").aggregate(first_index=active.month_index.min())
    active = active.join(first, "customer_id")
    cells = active.group_by(
        "first_index", months_since=(active.month_index - active.first_index).cast("int64")
    ).aggregate(
        customers=active.customer_id.count().cast("int64"),
        revenue_fen=active.revenue_fen.sum().cast("int64"),
    )
    # Every cohort member bought in month 0, so the cohort's size is its largest month.
    size = cells.customers.max().over(group_by=cells.first_index)
    return cells.mutate(
        cohort_month=ibis.date(cells.first_index // 12, cells.first_index % 12 + 1, 1),
        cohort_size=size.cast("int64"),
    ).select(
        "cohort_month",
        "months_since",
        "cohort_size",
        "customers",
        retention=cells.customers.cast("float64") / size.cast("float64"),
        revenue_fen="revenue_fen",
    )
