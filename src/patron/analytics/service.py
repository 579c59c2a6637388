"""The analytics pipeline and its results: run it, then read scores, summaries and the kept
cohorts, KPIs and migration, or export a run's customers.

The run (:mod:`~patron.analytics.runs`) is a job that commits in its own transactions;
reads (:mod:`~patron.analytics.reads`) and exports (:mod:`~patron.analytics.exports`) take
a Session and never commit. This module gathers what the pages, the API, the command line
and other domains call.
"""

from __future__ import annotations

from patron.analytics.exports import EXPORT_MAX_ROWS, ExportLanguage, export_customers_by
from patron.analytics.reads import (
    KPI_RESULTS,
    ChainWideFigures,
    NoAnalyticsRun,
    RunNotFound,
    audience_customer_ids,
    get_run,
    get_run_or_raise,
    latest_run,
    list_customers_by,
    list_runs,
    read_cohorts,
    read_kpis,
    read_migration,
    read_result,
    scores_for_customer,
    segment_summary,
    stage_summary,
    store_path,
)
from patron.analytics.runs import (
    ENGINES,
    STEPS,
    RunProgress,
    StepCallback,
    compute_results,
    data_ends_on,
    default_as_of,
    prune_score_history,
    run_analytics,
)

__all__ = [
    "ENGINES",
    "EXPORT_MAX_ROWS",
    "KPI_RESULTS",
    "STEPS",
    "ChainWideFigures",
    "ExportLanguage",
    "NoAnalyticsRun",
    "RunNotFound",
    "RunProgress",
    "StepCallback",
    "audience_customer_ids",
    "compute_results",
    "data_ends_on",
    "default_as_of",
    "export_customers_by",
    "get_run",
    "get_run_or_raise",
    "latest_run",
    "list_customers_by",
    "list_runs",
    "prune_score_history",
    "read_cohorts",
    "read_kpis",
    "read_migration",
    "read_result",
    "run_analytics",
    "scores_for_customer",
    "segment_summary",
    "stage_summary",
    "store_path",
]
