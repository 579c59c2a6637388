"""Reading a run's results: the runs, a customer's scores, summaries by segment and stage,
scored customers, audiences, and the kept cohorts, KPIs and migration.

Every function takes a Session and never commits. A caller bound to ``store_ids`` reads
its stores' customers, and is refused figures that add up every store (ChainWideFigures).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from patron.analytics import store as analytics_store
from patron.analytics.engine import (
    NO_SEGMENT,
    SEGMENTS,
    STAGES,
)
from patron.analytics.models import AnalyticsRun, CustomerScore, RunStatus
from patron.analytics.schemas import (
    AnalyticsRunRead,
    CustomerScoreRead,
    GroupSummary,
    ResultRows,
    RunSummary,
    ScoredCustomer,
    ScoredCustomerPage,
)
from patron.core.errors import Forbidden, InvalidInput, NotFound
from patron.core.settings import get_settings
from patron.customers import service as customers

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


def store_path() -> Path:
    return get_settings().resolved_analytics_store


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
    check_group(segment, stage)
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


def check_group(segment: str | None, stage: str | None) -> None:
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
    check_group(segment, stage)
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
