"""The analytics pipeline's run: extract, compute on DuckDB (or Spark), write the scores back.

A run is a job, not a request: :func:`run_analytics` takes the Database and commits in its
own transactions (the run row first, so a failure is recorded; the scores and the final
status together, so a run's scores are all there or none).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from patron.analytics import nightly
from patron.analytics import store as analytics_store
from patron.analytics.engine import (
    AnalyticsParams,
    AnalyticsParamsError,
    Tables,
    cohorts,
    customer_scores,
    kpis,
    segment_migration,
    shared_kpi_facts,
)
from patron.analytics.extract import ExtractResult, extract
from patron.analytics.models import AnalyticsRun, CustomerScore, RunStatus
from patron.analytics.nightly import NightlyResults
from patron.analytics.reads import KPI_RESULTS, get_run_or_raise, store_path
from patron.analytics.schemas import (
    AnalyticsRunRead,
)
from patron.core.bulk import check_values_known, drop_partitions, insert_arrow_partition
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.core.settings import get_settings

if TYPE_CHECKING:  # churn scoring pulls in scikit-learn: imported when a run needs it
    from patron.analytics.churn.result import ChurnResult


log = logging.getLogger(__name__)

ENGINES = ("duckdb", "spark")
STEPS = (
    "extract",
    "scores",
    "cohorts",
    "kpis",
    "migration",
    "churn",
    "baskets",
    "recommend",
    "forecast",
    "write-back",
)

_SCORE_COLUMNS = [c.name for c in CustomerScore.__table__.columns if c.name not in ("id", "run_id")]


@dataclass
class RunProgress:
    """Seconds and rows per step, as the run goes."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    extract: ExtractResult | None = None


StepCallback = Callable[[str], None]


def _validate(
    as_of: date | None,
    engine: str,
    params: dict[str, Any] | None,
    data_ends_on: date | None = None,
) -> AnalyticsParams:
    if engine not in ENGINES:
        raise InvalidInput("engine", f"must be one of {', '.join(ENGINES)}", engine=engine)
    settings = get_settings()
    today = utcnow().astimezone(settings.zone).date()
    if as_of is None:
        as_of = default_as_of(
            today=today,
            data_ends_on=data_ends_on,
            window_days=(params or {}).get("window_days", AnalyticsParams.window_days),
        )
    if as_of > today:
        raise InvalidInput("as_of", f"is after today ({today.isoformat()})", as_of=str(as_of))
    try:
        return AnalyticsParams(as_of=as_of, **(params or {}))
    except AnalyticsParamsError as exc:
        raise InvalidInput(f"params.{exc.field}", exc.reason, value=exc.value) from None
    except TypeError as exc:
        raise InvalidInput("params", str(exc)) from None


def default_as_of(*, today: date, data_ends_on: date | None, window_days: int | None) -> date:
    """The day a run describes when none is given: today, or the last day with a sale when
    that is older than the RFM window (a shop that imported last year's data sees its
    customers as they were then, not all "without a purchase in the window")."""
    if data_ends_on is None or window_days is None:
        return today
    if data_ends_on <= today - timedelta(days=window_days):
        return data_ends_on
    return today


def data_ends_on(*, session: Session) -> date | None:
    """The last business day with a sale, in the shop's zone (None before the first)."""
    from patron.orders import service as orders

    return orders.latest_sale_day(session=session, zone=get_settings().zone)


def run_analytics(
    *,
    db: Database,
    as_of: date | None = None,
    engine: str = "duckdb",
    full: bool = False,
    trigger: str = "manual",
    params: dict[str, Any] | None = None,
    on_step: StepCallback | None = None,
    path: Path | None = None,
    spark_master: str | None = None,
) -> AnalyticsRunRead:
    """Extract, run the definitions, keep the results, write the scores back.

    With ``engine="spark"`` the definitions run on ``spark_master`` (the ``spark_master``
    setting when None; see analytics/spark.py).

    Raises AnalyticsBusy at once if another run holds the store; a run that fails is
    recorded as failed with its error, and the error is raised again.
    """
    ends = db.read(lambda s: data_ends_on(session=s)) if as_of is None else None
    analytics_params = _validate(as_of, engine, params, ends)
    if spark_master is not None:
        if engine != "spark":
            raise InvalidInput(
                "spark_master", "only goes with engine spark", engine=engine, value=spark_master
            )
        from patron.analytics.spark import check_master

        spark_master = check_master(spark_master)
    if as_of is None and analytics_params.as_of != utcnow().astimezone(get_settings().zone).date():
        log.info("the data ends on %s: the run describes that day", analytics_params.as_of)
    target = path or store_path()
    with analytics_store.run_lock(target):
        run_id = db.write(
            lambda s: _start_run(s, params=analytics_params, engine=engine, trigger=trigger)
        )
        progress = RunProgress()
        try:
            scores, churn, nightly = _compute(
                db=db,
                path=target,
                run_id=run_id,
                params=analytics_params,
                engine=engine,
                full=full,
                progress=progress,
                on_step=on_step,
                spark_master=spark_master,
            )
            with _step(progress, "write-back", on_step) as rows:
                written = db.write(
                    lambda s: _write_back(
                        s, run_id=run_id, scores=scores, churn=churn, nightly=nightly
                    )
                )
                rows.append(written)
            db.write(lambda s: _finish(s, run_id, progress=progress, scored=written))
        except BaseException as exc:
            log.exception("analytics run %s failed", run_id)
            message = f"{type(exc).__name__}: {exc}"[:4000]
            db.write(lambda s: _fail(s, run_id, progress=progress, error=message))
            raise
    keep_days = get_settings().analytics_keep_days
    if keep_days is not None:
        try:
            pruned = db.write(lambda s: prune_score_history(session=s, keep_days=keep_days))
            log.info("analytics history: %s old runs' rows deleted", pruned)
        except Exception:  # the run succeeded; its history is pruned after the next one
            log.exception("pruning the analytics history failed")
    return db.read(lambda s: get_run_or_raise(session=s, run_id=run_id))


def prune_score_history(*, session: Session, keep_days: int, today: date | None = None) -> int:
    """Delete the per-customer rows (scores, churn risk) of succeeded runs as of more than
    ``keep_days`` days before ``today``, except the last run of each month (the history
    kept month by month) and the latest run (what every page reads). The runs stay, marked
    ``scores_pruned_at``. Returns the number of runs pruned."""
    from patron.analytics.churn.models import CustomerRisk
    from patron.analytics.recommend.models import CustomerRecommendation

    if keep_days < 1:
        raise InvalidInput("keep_days", "must be at least 1")
    today = today or utcnow().astimezone(get_settings().zone).date()
    runs = session.execute(
        select(AnalyticsRun.id, AnalyticsRun.as_of)
        .where(AnalyticsRun.status == RunStatus.SUCCEEDED, AnalyticsRun.scores_pruned_at.is_(None))
        .order_by(AnalyticsRun.id)
    ).all()
    if not runs:
        return 0
    kept = {runs[-1].id}
    month_last: dict[tuple[int, int], tuple[date, int]] = {}
    for run_id, as_of in runs:  # the month's latest as_of; of two on that day, the later run
        key = (as_of.year, as_of.month)
        month_last[key] = max(month_last.get(key, (as_of, run_id)), (as_of, run_id))
    kept |= {run_id for _, run_id in month_last.values()}
    cutoff = today - timedelta(days=keep_days)
    doomed = [r.id for r in runs if r.as_of < cutoff and r.id not in kept]
    if doomed:
        # On PostgreSQL a run's rows in each table are a partition, dropped whole; what is
        # left (rows from before the partitions, SQLite's tables) is deleted.
        for model in (CustomerScore, CustomerRisk, CustomerRecommendation):
            drop_partitions(session, model.__tablename__, doomed)
            session.execute(delete(model).where(model.run_id.in_(doomed)))
        session.execute(
            update(AnalyticsRun)
            .where(AnalyticsRun.id.in_(doomed))
            .values(scores_pruned_at=utcnow())
        )
    return len(doomed)


def _start_run(session: Session, *, params: AnalyticsParams, engine: str, trigger: str) -> int:
    run = AnalyticsRun(
        as_of=params.as_of,
        engine=engine,
        status=RunStatus.RUNNING,
        trigger=trigger,
        params=params.to_json(),
        steps=[],
        customers_scored=0,
        started_at=utcnow(),
    )
    session.add(run)
    session.flush()
    return run.id


def _finish(session: Session, run_id: int, *, progress: RunProgress, scored: int) -> None:
    session.execute(
        update(AnalyticsRun)
        .where(AnalyticsRun.id == run_id)
        .values(
            status=RunStatus.SUCCEEDED,
            steps=progress.steps,
            customers_scored=scored,
            finished_at=utcnow(),
        )
    )


def _fail(session: Session, run_id: int, *, progress: RunProgress, error: str) -> None:
    session.execute(
        update(AnalyticsRun)
        .where(AnalyticsRun.id == run_id)
        .values(status=RunStatus.FAILED, steps=progress.steps, error=error, finished_at=utcnow())
    )


@contextmanager
def _step(progress: RunProgress, name: str, on_step: StepCallback | None) -> Iterator[list[int]]:
    """Time one step; the body may append its row count."""
    if on_step is not None:
        on_step(name)
    rows: list[int] = []
    started = time.perf_counter()
    yield rows
    entry: dict[str, Any] = {"step": name, "seconds": round(time.perf_counter() - started, 3)}
    if rows:
        entry["rows"] = int(sum(rows))
    progress.steps.append(entry)


def _compute(
    *,
    db: Database,
    path: Path,
    run_id: int,
    params: AnalyticsParams,
    engine: str,
    full: bool,
    progress: RunProgress,
    on_step: StepCallback | None,
    spark_master: str | None = None,
) -> tuple[pa.Table, ChurnResult, NightlyResults]:
    """Extract and run the definitions; keep cohorts, KPIs and migration in the store; score
    churn risk and lifetime value, mine basket rules, recommend and forecast (on the store's
    DuckDB, whichever engine ran the rest)."""
    zone = get_settings().timezone
    with analytics_store.connect(path) as duck:
        with _step(progress, "extract", on_step) as rows:
            progress.extract = extract(db=db, duck=duck, timezone=zone, full=full)
            rows.append(progress.extract.rows_moved)
        if engine == "spark":
            from patron.analytics.spark import store_on_spark

            tables = store_on_spark(duck, path, spark_master)
        else:
            import ibis

            tables = Tables.from_backend(ibis.duckdb.from_connection(duck))
        results = compute_results(tables, params, progress=progress, on_step=on_step)
        for name, table in results.items():
            if name != "scores":
                analytics_store.save_result(
                    duck, name, run_id=run_id, as_of=params.as_of, result=table
                )
        with _step(progress, "churn", on_step) as rows:
            from patron.analytics.churn.scoring import score_churn

            churn = score_churn(duck, as_of=params.as_of)
            rows.append(len(churn.customers))
        on_duck = nightly.store_tables(duck)
        found = NightlyResults()
        with _step(progress, "baskets", on_step) as rows:
            found.baskets = nightly.baskets(on_duck, as_of=params.as_of)
            rows.append(len(found.baskets.rows))
        with _step(progress, "recommend", on_step) as rows:
            found.recommendations = nightly.recommendations(
                on_duck, as_of=params.as_of, shelf_life_days=nightly.shelf_lives(db)
            )
            rows.append(found.recommendations.count)
        with _step(progress, "forecast", on_step) as rows:
            found.forecast = nightly.forecast(on_duck, as_of=params.as_of)
            rows.append(len(found.forecast.rows))
    return results["scores"], churn, found


def compute_results(
    tables: Tables,
    params: AnalyticsParams,
    *,
    progress: RunProgress | None = None,
    on_step: StepCallback | None = None,
) -> dict[str, pa.Table]:
    """Every definition on ``tables``, materialised as Arrow: scores, cohorts, the four KPI
    tables and the segment migration. The same call for DuckDB and Spark."""
    progress = progress or RunProgress()
    out: dict[str, pa.Table] = {}
    with _step(progress, "scores", on_step) as rows:
        out["scores"] = customer_scores(tables, params).to_pyarrow()
        rows.append(out["scores"].num_rows)
    with _step(progress, "cohorts", on_step) as rows:
        out["cohorts"] = cohorts(tables, params).to_pyarrow()
        rows.append(out["cohorts"].num_rows)
    with _step(progress, "kpis", on_step) as rows, shared_kpi_facts(tables, params) as shared:
        for by, name in KPI_RESULTS.items():
            out[name] = kpis(tables, params, by, shared=shared).to_pyarrow()  # type: ignore[arg-type]
            rows.append(out[name].num_rows)
    with _step(progress, "migration", on_step) as rows:
        # Today's side of the migration is the scores' segment, the same definition: on
        # DuckDB it is read from the scores in memory rather than computed again.
        now = None
        if tables.on_duckdb():
            import ibis

            now = ibis.memtable(out["scores"].select(["customer_id", "segment"]))
        out["migration"] = segment_migration(tables, params, now=now).to_pyarrow()
        rows.append(out["migration"].num_rows)
    return out


def _write_back(
    session: Session,
    *,
    run_id: int,
    scores: pa.Table,
    churn: ChurnResult | None = None,
    nightly: NightlyResults | None = None,
) -> int:
    """The scores and, when given, the churn risk with its alerts (against the previous run
    that recorded risk), the basket rules, recommendations and forecast, in the caller's
    one transaction."""
    written = _write_scores(session, run_id=run_id, scores=scores)
    if nightly is not None:
        from patron.analytics.nightly import record_nightly

        record_nightly(session, run_id=run_id, results=nightly)
    if churn is not None:
        from patron.analytics.churn.service import previous_risk_run, record_risk

        record_risk(
            session=session,
            run_id=run_id,
            result=churn,
            previous_run_id=previous_risk_run(session=session, before_run_id=run_id),
        )
    return written


def _write_scores(session: Session, *, run_id: int, scores: pa.Table) -> int:
    """One customer_score row per scored customer, in bulk (core/bulk.py: COPY on
    PostgreSQL, executemany on SQLite), in the session's transaction."""
    missing = [c for c in _SCORE_COLUMNS if c not in scores.column_names]
    if missing:
        raise RuntimeError(f"the scores lack columns {missing}")
    # In customer order: the ids are given in it, and where the rows go in through the
    # table's indexes (SQLite, a second write into a run) the unique key's and the
    # customer's index grow at their ends instead of taking a million scattered insertions
    # (PostgreSQL took 40 % less time for a million rows; docs/operations.md).
    rows = scores.select(_SCORE_COLUMNS).sort_by("customer_id")
    rows = rows.add_column(0, "run_id", pa.array(np.full(rows.num_rows, run_id, dtype=np.int64)))
    # The table has no foreign keys (a lookup per row was half the write-back's time): the
    # run and the customers are checked here, once, before any row goes in.
    if session.get(AnalyticsRun, run_id) is None:
        raise InvalidInput("run_id", f"no analytics run {run_id}")
    check_values_known(
        session, rows.column("customer_id"), "customer", table="customer_score", run_id=run_id
    )
    # On PostgreSQL the run's rows fill a partition of their own (migration 0033,
    # docs/operations.md), each index built once when it is attached. Their ids go in
    # customer order; the rows are stored by segment, whose index, of a few distinct
    # values, was the dearest to sort.
    return insert_arrow_partition(
        session,
        "customer_score",
        rows,
        key="run_id",
        value=run_id,
        serial="id",
        laid_out_by=("segment",),
    )
