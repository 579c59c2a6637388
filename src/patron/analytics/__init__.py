"""Analytics on per-customer summaries: RFM, lifecycle, cohorts, lifetime value, churn.

What other domains and the jobs call is exported here, imported on first use: the pipeline
pulls in the engines (Ibis, DuckDB, numpy), and ``patron.metadata`` imports this package's
tables without wanting them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from patron.analytics.reads import audience_customer_ids
    from patron.analytics.runs import run_analytics
    from patron.analytics.standings import (
        customer_standings,
        reading_store,
        refresh_extract,
        writing_store,
    )
    from patron.analytics.store import AnalyticsBusy

_EXPORTS = {
    "AnalyticsBusy": "patron.analytics.store",
    "audience_customer_ids": "patron.analytics.reads",
    "run_analytics": "patron.analytics.runs",
    "customer_standings": "patron.analytics.standings",
    "reading_store": "patron.analytics.standings",
    "refresh_extract": "patron.analytics.standings",
    "writing_store": "patron.analytics.standings",
}

__all__ = [
    "AnalyticsBusy",
    "audience_customer_ids",
    "customer_standings",
    "reading_store",
    "refresh_extract",
    "run_analytics",
    "writing_store",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'patron.analytics' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
