"""Value-segment migration: last month's closing segments against today's."""

from __future__ import annotations

from datetime import date, timedelta

import ibis.expr.types as ir

from patron.analytics.engine._params import AnalyticsParams, Tables
from patron.analytics.engine._scores import segments


def previous_month_end(as_of: date) -> date:
    """The last day of the month before ``as_of``'s month."""
    return as_of.replace(day=1) - timedelta(days=1)


def segment_migration(
    tables: Tables, params: AnalyticsParams, *, now: ir.Table | None = None
) -> ir.Table:
    if now is None:
        now = segments(tables, params, as_of=params.as_of)
    before = segments(tables, params, as_of=previous_month_end(params.as_of))
    # Everyone known at the month end is known today too, so a left join keeps everyone.
    pairs = now.left_join(before, now.customer_id == before.customer_id).select(
        from_segment=before.segment, to_segment=now.segment
    )
    return pairs.group_by("from_segment", "to_segment").aggregate(
        customers=pairs.count().cast("int64")
    )
