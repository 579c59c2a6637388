"""Analytics on per-customer summaries: RFM, lifecycle, cohorts, lifetime value, churn.

What other domains and the jobs call is exported here, imported on first use: the pipeline
pulls in the engines (Ibis, DuckDB, numpy), and ``patron.metadata`` imports this package's
tables without wanting them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from patron.analytics.event_archive import (
        archived_events_of,
        erase_archived_behaviour,
        store_archived_events,
    )
    from patron.analytics.reads import audience_customer_ids
    from patron.analytics.runs import run_analytics
    from patron.analytics.standings import (
        customer_standings,
        reading_store,
        refresh_extract,
        writing_store,
    )
    from patron.analytics.store import AnalyticsBusy, AnalyticsStoreUnavailable

_EXPORTS = {
    "AnalyticsBusy": "patron.analytics.store",
    "AnalyticsStoreUnavailable": "patron.analytics.store",
    "archived_events_of": "patron.analytics.event_archive",
    "erase_archived_behaviour": "patron.analytics.event_archive",
    "store_archived_events": "patron.analytics.event_archive",
    "audience_customer_ids": "patron.analytics.reads",
    "run_analytics": "patron.analytics.runs",
    "customer_standings": "patron.analytics.standings",
    "reading_store": "patron.analytics.standings",
    "refresh_extract": "patron.analytics.standings",
    "writing_store": "patron.analytics.standings",
}

__all__ = [
    "AnalyticsBusy",
    "AnalyticsStoreUnavailable",
    "archived_events_of",
    "audience_customer_ids",
    "customer_standings",
    "erase_archived_behaviour",
    "reading_store",
    "refresh_extract",
    "run_analytics",
    "store_archived_events",
    "writing_store",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'patron.analytics' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
