"""The analytics pipeline and its results: run it, then read scores, summaries and the kept
cohorts, KPIs and migration.

A run is a job, not a request: :func:`run_analytics` takes the Database and commits in its
own transactions (the run row first, so a failure is recorded; the scores and the final
status together, so a run's scores are all there or none). Everything else takes a Session
and never commits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import pyarrow as pa
from sqlalchemy import Select, Table, delete, func, insert, select, update
from sqlalchemy.orm import Session

from patron.analytics import nightly
from patron.analytics import store as analytics_store
from patron.analytics.engine import (
    NO_SEGMENT,
    SEGMENTS,
    STAGES,
    AnalyticsParams,
    AnalyticsParamsError,
    Tables,
    cohorts,
    customer_scores,
    group_name,
    kpis,
    segment_migration,
)
from patron.analytics.extract import ExtractResult, extract
from patron.analytics.models import AnalyticsRun, CustomerScore, RunStatus
from patron.analytics.nightly import NightlyResults
from patron.analytics.schemas import (
    AnalyticsRunRead,
    CustomerScoreRead,
    GroupSummary,
    ResultRows,
    RunSummary,
    ScoredCustomer,
    ScoredCustomerPage,
)
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import Forbidden, InvalidInput, NotFound
from patron.core.money import currency_symbol
from patron.core.settings import get_settings
from patron.core.spreadsheets import safe_row, safe_sheet_title
from patron.customers import service as customers

if TYPE_CHECKING:  # churn scoring pulls in scikit-learn: imported when a run needs it
    from patron.analytics.churn.scoring import ChurnResult

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
KPI_RESULTS = {
    "day": "kpis_day",
    "store": "kpis_store",
    "channel": "kpis_channel",
    "category": "kpis_category",
    "country": "kpis_country",
    "province": "kpis_province",
    "city": "kpis_city",
    "payment_method": "kpis_payment_method",
    "cashier": "kpis_cashier",
}
_WRITE_CHUNK = 5000
_SCORE_COLUMNS = [c.name for c in CustomerScore.__table__.columns if c.name not in ("id", "run_id")]


class RunNotFound(NotFound):
    code = "analytics_run_not_found"


class ChainWideFigures(Forbidden):
    """A store-bound role asked for figures over every store that cannot be narrowed to
    theirs (cohorts, segment migration, KPIs by day, channel or category, the churn model
    report): the console does not show them such figures, nor does the API."""

    code = "chain_wide_figures"


def _refuse_chain_wide(store_ids: frozenset[int] | None, what: str) -> None:
    if store_ids is not None:
        raise ChainWideFigures(f"{what} cover every store; your role sees its own stores only")


class NoAnalyticsRun(NotFound):
    """No run has succeeded yet, so there is nothing to read."""

    code = "no_analytics_run"


@dataclass
class RunProgress:
    """Seconds and rows per step, as the run goes."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    extract: ExtractResult | None = None


StepCallback = Callable[[str], None]


def store_path() -> Path:
    return get_settings().resolved_analytics_store


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
        session.execute(delete(CustomerScore).where(CustomerScore.run_id.in_(doomed)))
        session.execute(delete(CustomerRisk).where(CustomerRisk.run_id.in_(doomed)))
        session.execute(
            delete(CustomerRecommendation).where(CustomerRecommendation.run_id.in_(doomed))
        )
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
    with _step(progress, "kpis", on_step) as rows:
        for by, name in KPI_RESULTS.items():
            out[name] = kpis(tables, params, by).to_pyarrow()  # type: ignore[arg-type]
            rows.append(out[name].num_rows)
    with _step(progress, "migration", on_step) as rows:
        out["migration"] = segment_migration(tables, params).to_pyarrow()
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
    """One customer_score row per scored customer, in bulk.

    PostgreSQL takes the rows through COPY; SQLite through one executemany straight to the
    driver (dates as the ISO text SQLAlchemy stores); both in the session's transaction.
    """
    missing = [c for c in _SCORE_COLUMNS if c not in scores.column_names]
    if missing:
        raise RuntimeError(f"the scores lack columns {missing}")
    connection = session.connection()
    columns = ["run_id", *_SCORE_COLUMNS]
    raw: Any = connection.connection.dbapi_connection  # psycopg's or sqlite3's own
    written = 0
    if connection.dialect.name == "postgresql" and raw is not None:
        with raw.cursor() as cursor:
            copy_sql = f"COPY customer_score ({', '.join(columns)}) FROM STDIN"
            with cursor.copy(copy_sql) as copy:
                for batch in scores.select(_SCORE_COLUMNS).to_batches(_WRITE_CHUNK):
                    for row in zip(*(c.to_pylist() for c in batch.columns), strict=True):
                        copy.write_row((run_id, *row))
                        written += 1
        return written
    if connection.dialect.name == "sqlite" and raw is not None:
        marks = ", ".join("?" * len(columns))
        sql = f"INSERT INTO customer_score ({', '.join(columns)}) VALUES ({marks})"
        cursor = raw.cursor()
        try:
            for batch in scores.select(_SCORE_COLUMNS).to_batches(_WRITE_CHUNK):
                values = [
                    [v.isoformat() if isinstance(v, date) else v for v in c.to_pylist()]
                    for c in batch.columns
                ]
                rows = [(run_id, *row) for row in zip(*values, strict=True)]
                cursor.executemany(sql, rows)
                written += len(rows)
        finally:
            cursor.close()
        return written
    statement = insert(cast(Table, CustomerScore.__table__))
    for batch in scores.select(_SCORE_COLUMNS).to_batches(_WRITE_CHUNK):
        dicts = batch.to_pylist()
        for item in dicts:
            item["run_id"] = run_id
        if dicts:
            connection.execute(statement, dicts)
            written += len(dicts)
    return written


# ------------------------------------------------------------------------------ reading


def _run_read(run: AnalyticsRun) -> AnalyticsRunRead:
    return AnalyticsRunRead.model_validate(run)


def list_runs(*, session: Session, limit: int = 20, offset: int = 0) -> list[AnalyticsRunRead]:
    rows = session.scalars(
        select(AnalyticsRun).order_by(AnalyticsRun.id.desc()).limit(limit).offset(offset)
    )
    return [_run_read(r) for r in rows]


def get_run(*, session: Session, run_id: int) -> AnalyticsRunRead | None:
    run = session.get(AnalyticsRun, run_id)
    return _run_read(run) if run else None


def get_run_or_raise(*, session: Session, run_id: int) -> AnalyticsRunRead:
    run = get_run(session=session, run_id=run_id)
    if run is None:
        raise RunNotFound(f"no analytics run {run_id}", run_id=run_id)
    return run


def latest_run(*, session: Session) -> AnalyticsRunRead | None:
    """The latest run that succeeded (the one whose scores are current), or None."""
    run = session.scalar(
        select(AnalyticsRun)
        .where(AnalyticsRun.status == RunStatus.SUCCEEDED)
        .order_by(AnalyticsRun.id.desc())
        .limit(1)
    )
    return _run_read(run) if run else None


def _succeeded_run(session: Session, run_id: int | None) -> AnalyticsRunRead:
    """The run asked for (it must have succeeded), or the latest successful one."""
    if run_id is None:
        run = latest_run(session=session)
        if run is None:
            raise NoAnalyticsRun("no analytics run has finished yet; run `patron analytics run`")
        return run
    run = get_run_or_raise(session=session, run_id=run_id)
    if run.status != RunStatus.SUCCEEDED:
        raise InvalidInput("run_id", f"run {run_id} is {run.status}, not succeeded")
    if run.scores_pruned_at is not None:
        raise InvalidInput(
            "run_id",
            f"run {run_id}'s customer rows were deleted by the history's retention; each "
            "month's last run and the recent ones are kept",
        )
    return run


def scores_for_customer(
    *, session: Session, customer_id: int, store_ids: frozenset[int] | None = None
) -> list[CustomerScoreRead]:
    """The customer's scores, newest run first: their history."""
    customers.check_customer_in_scope(session=session, customer_id=customer_id, store_ids=store_ids)
    rows = session.scalars(
        select(CustomerScore)
        .where(CustomerScore.customer_id == customer_id)
        .order_by(CustomerScore.as_of.desc(), CustomerScore.run_id.desc())
    )
    return [CustomerScoreRead.model_validate(r) for r in rows]


def _summary(
    session: Session,
    *,
    run_id: int | None,
    column: Any,
    names: dict[str, tuple[str, str]],
    store_ids: frozenset[int] | None,
) -> RunSummary:
    run = _succeeded_run(session, run_id)
    query: Select[Any] = (
        select(column, func.count(), func.coalesce(func.sum(CustomerScore.monetary_fen), 0))
        .where(CustomerScore.run_id == run.id)
        .group_by(column)
    )
    if store_ids is not None:
        query = query.where(
            CustomerScore.customer_id.in_(customers.customer_ids_in_stores(store_ids))
        )
    found = {code: (int(n), int(m)) for code, n, m in session.execute(query)}
    groups = [
        GroupSummary(
            code=code,
            name=label[1],
            customers=found.get(code, (0, 0))[0],
            monetary_fen=found.get(code, (0, 0))[1],
        )
        for code, label in names.items()
    ]
    if None in found:
        groups.append(
            GroupSummary(
                code=None,
                name=NO_SEGMENT[1],
                customers=found[None][0],
                monetary_fen=found[None][1],
            )
        )
    return RunSummary(run_id=run.id, as_of=run.as_of, groups=groups)


def segment_summary(
    *, session: Session, run_id: int | None = None, store_ids: frozenset[int] | None = None
) -> RunSummary:
    """Customers and their window spend per value segment (all eight, zeros included)."""
    return _summary(
        session, run_id=run_id, column=CustomerScore.segment, names=SEGMENTS, store_ids=store_ids
    )


def stage_summary(
    *, session: Session, run_id: int | None = None, store_ids: frozenset[int] | None = None
) -> RunSummary:
    """Customers and their window spend per lifecycle stage."""
    return _summary(
        session, run_id=run_id, column=CustomerScore.stage, names=STAGES, store_ids=store_ids
    )


def list_customers_by(
    *,
    session: Session,
    segment: str | None = None,
    stage: str | None = None,
    run_id: int | None = None,
    limit: int = 50,
    cursor: str | None = None,
    store_ids: frozenset[int] | None = None,
) -> ScoredCustomerPage:
    """Customers of one segment or stage in a run, by customer id, a page at a time."""
    _check_group(segment, stage)
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit", "must be between 1 and 1000")
    run = _succeeded_run(session, run_id)
    query = (
        select(CustomerScore)
        .where(CustomerScore.run_id == run.id)
        .order_by(CustomerScore.customer_id)
        .limit(limit + 1)
    )
    if segment is not None:
        query = query.where(CustomerScore.segment == segment)
    else:
        query = query.where(CustomerScore.stage == stage)
    if cursor:
        try:
            after = int(cursor)
        except ValueError:
            raise InvalidInput("cursor", "not a cursor this API gave out") from None
        query = query.where(CustomerScore.customer_id > after)
    if store_ids is not None:
        query = query.where(
            CustomerScore.customer_id.in_(customers.customer_ids_in_stores(store_ids))
        )
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    known = customers.get_customers(session=session, customer_ids=[r.customer_id for r in rows])
    items = [
        ScoredCustomer(score=CustomerScoreRead.model_validate(row), customer=known[row.customer_id])
        for row in rows
        if row.customer_id in known  # always: scores point at customers by foreign key
    ]
    return ScoredCustomerPage(
        run_id=run.id,
        items=items,
        next_cursor=str(rows[-1].customer_id) if more and rows else None,
    )


def _check_group(segment: str | None, stage: str | None) -> None:
    """Exactly one known value segment or lifecycle stage."""
    if (segment is None) == (stage is None):
        raise InvalidInput("segment", "give exactly one of segment or stage")
    if segment is not None and segment not in SEGMENTS:
        raise InvalidInput("segment", f"must be one of {', '.join(SEGMENTS)}")
    if stage is not None and stage not in STAGES:
        raise InvalidInput("stage", f"must be one of {', '.join(STAGES)}")


def audience_customer_ids(
    *,
    session: Session,
    segment: str | None = None,
    stage: str | None = None,
    run_id: int | None = None,
    store_ids: frozenset[int] | None = None,
) -> tuple[int, list[int]]:
    """The run and the ids of every customer in one segment or stage of it (the latest
    successful run by default): the audience for a coupon or a campaign."""
    if (segment is None) == (stage is None):
        raise InvalidInput("segment", "give exactly one of segment or stage")
    if segment is not None and segment not in SEGMENTS:
        raise InvalidInput("segment", f"must be one of {', '.join(SEGMENTS)}")
    if stage is not None and stage not in STAGES:
        raise InvalidInput("stage", f"must be one of {', '.join(STAGES)}")
    run = _succeeded_run(session, run_id)
    query = select(CustomerScore.customer_id).where(CustomerScore.run_id == run.id)
    if segment is not None:
        query = query.where(CustomerScore.segment == segment)
    else:
        query = query.where(CustomerScore.stage == stage)
    if store_ids is not None:
        query = query.where(
            CustomerScore.customer_id.in_(customers.customer_ids_in_stores(store_ids))
        )
    return run.id, list(session.scalars(query.order_by(CustomerScore.customer_id)))


def read_result(
    *, session: Session, name: str, run_id: int | None = None, path: Path | None = None
) -> ResultRows:
    """A kept result (``cohorts``, ``migration``, ``kpis_day`` …) of a run (default latest)."""
    if name not in analytics_store.RESULT_TABLES:
        raise InvalidInput("name", f"must be one of {', '.join(analytics_store.RESULT_TABLES)}")
    run = _succeeded_run(session, run_id)
    rows = analytics_store.read_result(path or store_path(), name, run_id=run.id)
    return ResultRows(run_id=run.id, as_of=run.as_of, name=name, rows=rows or [])


def read_cohorts(
    *, session: Session, run_id: int | None = None, store_ids: frozenset[int] | None = None
) -> ResultRows:
    """The run's cohorts; refused (ChainWideFigures) to a caller bound to ``store_ids``."""
    _refuse_chain_wide(store_ids, "cohorts")
    return read_result(session=session, name="cohorts", run_id=run_id)


def read_kpis(
    *,
    session: Session,
    by: str = "day",
    run_id: int | None = None,
    store_ids: frozenset[int] | None = None,
) -> ResultRows:
    """The run's KPIs by day, store, channel or category. A caller bound to ``store_ids``
    gets its stores' rows by store, and is refused the rest, which add up every store."""
    if by not in KPI_RESULTS:
        raise InvalidInput("by", f"must be one of {', '.join(KPI_RESULTS)}")
    if by != "store":
        _refuse_chain_wide(store_ids, f"KPIs by {by}")
    result = read_result(session=session, name=KPI_RESULTS[by], run_id=run_id)
    if store_ids is not None:
        rows = [r for r in result.rows if r.get("store_id") in store_ids]
        result = result.model_copy(update={"rows": rows})
    return result


def read_migration(
    *, session: Session, run_id: int | None = None, store_ids: frozenset[int] | None = None
) -> ResultRows:
    """The run's segment migration; refused to a caller bound to ``store_ids``."""
    _refuse_chain_wide(store_ids, "segment migration figures")
    return read_result(session=session, name="migration", run_id=run_id)


EXPORT_MAX_ROWS = 100_000
ExportLanguage = Literal["zh", "en"]
# The workbook's columns: (Chinese header, English header). Written for people: names of
# segments and stages, money in yuan; the codes follow at the end for other programs.
_EXPORT_COLUMNS = (
    ("客户编号", "Customer ID"),
    ("姓名", "Name"),
    ("所属门店", "Home store"),
    ("价值分群", "Value segment"),
    ("生命周期阶段", "Lifecycle stage"),
    ("距最近购买（天）", "Days since last purchase"),
    ("购买次数", "Purchases"),
    ("消费金额（{symbol}）", "Spend ({code})"),
    ("R 分", "R score"),
    ("F 分", "F score"),
    ("M 分", "M score"),
    ("首次购买", "First purchase"),
    ("最近购买", "Last purchase"),
    ("分群代码", "Segment code"),
    ("阶段代码", "Stage code"),
)


def export_customers_by(
    *,
    session: Session,
    actor: Actor,
    segment: str | None = None,
    stage: str | None = None,
    run_id: int | None = None,
    max_rows: int = EXPORT_MAX_ROWS,
    store_ids: frozenset[int] | None = None,
    language: ExportLanguage = "zh",
) -> bytes:
    """An Excel workbook of one segment's or stage's customers, masked as the API shows
    them, headed and named in ``language``; the export is recorded in the audit log with
    its size."""
    from io import BytesIO

    import openpyxl
    from openpyxl.cell import WriteOnlyCell

    from patron.audit.service import record_audit
    from patron.customers.masking import mask_customer

    if not 1 <= max_rows <= EXPORT_MAX_ROWS:
        raise InvalidInput("max_rows", f"must be between 1 and {EXPORT_MAX_ROWS}")
    if language not in ("zh", "en"):
        raise InvalidInput("language", "must be zh or en")
    _check_group(segment, stage)  # before the name becomes a sheet title
    english = language == "en"
    pick = 1 if english else 0
    book = openpyxl.Workbook(write_only=True)
    if segment:
        title = group_name(SEGMENTS, segment, english=english)
    else:
        title = group_name(STAGES, stage, english=english) if stage else "customers"
    sheet = book.create_sheet(title=safe_sheet_title(title, "customers"))
    currency = get_settings().currency
    symbol = "元" if currency == "CNY" else currency_symbol(currency).strip()
    sheet.append([column[pick].format(symbol=symbol, code=currency) for column in _EXPORT_COLUMNS])
    cursor: str | None = None
    written = 0
    run_used: int | None = run_id
    while written < max_rows:
        page = list_customers_by(
            session=session,
            segment=segment,
            stage=stage,
            run_id=run_id,
            limit=min(500, max_rows - written),
            cursor=cursor,
            store_ids=store_ids,
        )
        run_used = page.run_id
        for item in page.items:
            shown = mask_customer(item.customer)
            s = item.score
            spend = WriteOnlyCell(sheet, value=Decimal(s.monetary_fen) / 100)
            spend.number_format = "#,##0.00"
            # Names and codes are written as text even when they look like a formula.
            row: list[Any] = safe_row([
                s.customer_id,
                shown.name or "",
                shown.home_store_code or "",
                group_name(SEGMENTS, s.segment, english=english),
                group_name(STAGES, s.stage, english=english),
                s.recency_days,
                s.frequency,
                spend,
                s.r_score,
                s.f_score,
                s.m_score,
                s.first_order_date,
                s.last_order_date,
                s.segment or "",
                s.stage,
            ])  # fmt: skip
            sheet.append(row)
            written += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    record_audit(
        session=session,
        actor=actor,
        action="customer.export",
        target_kind="analytics_run",
        target_id=run_used,
        details={
            "segment": segment,
            "stage": stage,
            "rows": written,
            "format": "xlsx",
            "stores": sorted(store_ids) if store_ids is not None else None,
        },
    )
    out = BytesIO()
    book.save(out)
    return out.getvalue()
