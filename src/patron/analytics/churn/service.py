"""Churn risk in the operational database: record a run's scores and early warnings, read the
at-risk list, a customer's risk history and the model report.

Early warning: a customer *crosses into high risk* in a run when their band there is high
and in the previous run it was not (medium, low, or not scored at all — e.g. their first
purchase came after it). Each crossing is one ``risk_alert`` row with event
``customer.churn_risk_high`` for journeys to pick up. A run with no previous run sets the
baseline and raises none: otherwise the first run would "warn" about every customer who
has been gone for years. Recording the same data again raises none either, since nobody
crosses a line they were already over.

Services take a Session and never commit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, insert, or_, select
from sqlalchemy.orm import Session, aliased

from patron import events
from patron.analytics.churn.models import (
    CHURN_RISK_HIGH_EVENT,
    ChurnModelReport,
    CustomerRisk,
    RiskAlert,
)
from patron.analytics.churn.schemas import (
    AtRiskItem,
    AtRiskPage,
    ChurnModelReportRead,
    CustomerRiskRead,
    ReasonRead,
    RiskAlertRead,
    RiskRecorded,
)
from patron.analytics.models import AnalyticsRun, RunStatus
from patron.analytics.service import ChainWideFigures
from patron.core import bulk
from patron.core.clock import utcnow
from patron.core.errors import InvalidInput, NotFound
from patron.customers import service as customers
from patron.customers.schemas import CustomerRead

if TYPE_CHECKING:  # scoring pulls in scikit-learn; pages reading risk need none of it
    from patron.analytics.churn.result import ChurnResult

_WRITE_CHUNK = 5000
MAX_PAGE_SIZE = 500


class NoRiskScores(NotFound):
    """No analytics run has recorded churn risk yet."""

    code = "no_risk_scores"


def _risk_high(alert: dict[str, Any]) -> events.DomainEvent:
    """The ``customer.churn_risk_high`` event of an alert (docs/events.md)."""
    keys = ("run_id", "churn_risk", "previous_band", "value_at_stake_fen")
    properties = {k: alert[k] for k in keys}
    key = f"{CHURN_RISK_HIGH_EVENT}:{alert['run_id']}:{alert['customer_id']}"
    return events.DomainEvent(CHURN_RISK_HIGH_EVENT, alert["customer_id"], None, properties, key)


def record_risk(
    *,
    session: Session,
    run_id: int,
    result: ChurnResult,
    previous_run_id: int | None,
) -> RiskRecorded:
    """Write one customer_risk row per scored customer, the run's model report, and a
    risk_alert for each customer who crossed into high risk since ``previous_run_id``.

    Recording a run twice is refused (the rows of a run are written once, with its report).
    """
    if session.get(AnalyticsRun, run_id) is None:
        raise InvalidInput("run_id", f"no analytics run {run_id}")
    if previous_run_id is not None and previous_run_id == run_id:
        raise InvalidInput("previous_run_id", "must be an earlier run than run_id")
    already = session.scalar(select(ChurnModelReport.id).where(ChurnModelReport.run_id == run_id))
    if already is not None:
        raise InvalidInput("run_id", f"run {run_id} has already recorded churn risk")

    import numpy as np  # here, not at import: pages reading risk need neither
    import pyarrow as pa

    frame = result.customers
    ids = frame["customer_id"].to_numpy(dtype=np.int64)
    bands = frame["risk_band"].to_numpy(dtype=object)
    # The rows go from Arrow, reasons as their JSON text (core/bulk.py: COPY on PostgreSQL,
    # executemany elsewhere): no Python object per row and value.
    reasons = result.reasons_json_text()
    rows = pa.table(
        {
            "run_id": pa.array(np.full(len(ids), run_id, dtype=np.int64)),
            "customer_id": pa.array(ids),
            "as_of": pa.array([result.as_of], type=pa.date32()).take(
                pa.array(np.zeros(len(ids), dtype=np.int64))
            ),
            "churn_risk": pa.array(frame["churn_risk"].to_numpy(dtype=np.float64)),
            "p_alive": pa.array(frame["p_alive"].to_numpy(dtype=np.float64)),
            "expected_purchases_90d": pa.array(
                frame["expected_purchases_90d"].to_numpy(dtype=np.float64)
            ),
            "clv_fen": pa.array(frame["clv_fen"].to_numpy(dtype=np.int64)),
            "value_at_stake_fen": pa.array(frame["value_at_stake_fen"].to_numpy(dtype=np.int64)),
            "band": pa.array(bands.astype(str), type=pa.string()),
            "reasons": reasons,
        }
    )
    # The customers checked before any row goes in; on PostgreSQL the run's rows then fill a
    # partition of their own (migration 0033, docs/operations.md), indexed once when attached.
    table = CustomerRisk.__tablename__
    ids_column = rows.column("customer_id")
    bulk.check_values_known(session, ids_column, "customer", table=table, run_id=run_id)
    bulk.insert_arrow_partition(session, table, rows, key="run_id", value=run_id, serial="id")

    alerts = 0
    if previous_run_id is not None:
        # Who crossed, with their band in the previous run, found by the database among the
        # rows just written: only the crossings come back, not a million bands.
        now_row, before_row = aliased(CustomerRisk), aliased(CustomerRisk)
        found = session.execute(
            select(now_row.customer_id, before_row.band)
            .outerjoin(
                before_row,
                (before_row.run_id == previous_run_id)
                & (before_row.customer_id == now_row.customer_id),
            )
            .where(
                now_row.run_id == run_id,
                now_row.band == "high",
                or_(before_row.band.is_(None), before_row.band != "high"),
            )
        ).all()
        previous = {int(customer_id): band for customer_id, band in found}
        at = np.flatnonzero(
            np.isin(ids, np.fromiter(previous, dtype=np.int64, count=len(previous)))
        )
        risk = frame["churn_risk"].to_numpy(dtype=np.float64)
        stake = frame["value_at_stake_fen"].to_numpy(dtype=np.int64)
        texts = reasons.take(pa.array(at)).to_pylist()
        now = utcnow()
        crossed = [
            {
                "customer_id": int(ids[i]),
                "run_id": run_id,
                "as_of": result.as_of,
                "event": CHURN_RISK_HIGH_EVENT,
                "churn_risk": float(risk[i]),
                "previous_band": previous[int(ids[i])],
                "value_at_stake_fen": int(stake[i]),
                "reasons": json.loads(text),
                "created_at": now,
            }
            for i, text in zip(at.tolist(), texts, strict=True)
        ]
        for start in range(0, len(crossed), _WRITE_CHUNK):
            session.execute(insert(RiskAlert), crossed[start : start + _WRITE_CHUNK])
        events.publish_many(session, [_risk_high(row) for row in crossed])
        alerts = len(crossed)

    session.add(
        ChurnModelReport(
            run_id=run_id,
            as_of=result.as_of,
            mode=str(result.report.get("mode", "")),
            report={**result.report, "alerts": alerts, "previous_run_id": previous_run_id},
            created_at=utcnow(),
        )
    )
    session.flush()
    return RiskRecorded(
        run_id=run_id, previous_run_id=previous_run_id, customers=len(ids), alerts=alerts
    )


def previous_risk_run(*, session: Session, before_run_id: int) -> int | None:
    """The latest run before ``before_run_id`` that recorded churn risk and did not fail:
    the ``previous_run_id`` the pipeline passes to ``record_risk``."""
    found = session.scalar(
        select(ChurnModelReport.run_id)
        .join(AnalyticsRun, AnalyticsRun.id == ChurnModelReport.run_id)
        .where(ChurnModelReport.run_id < before_run_id, AnalyticsRun.status != RunStatus.FAILED)
        .order_by(ChurnModelReport.run_id.desc())
        .limit(1)
    )
    return int(found) if found is not None else None


def _risk_run(session: Session, run_id: int | None) -> ChurnModelReport:
    query = select(ChurnModelReport).join(AnalyticsRun, AnalyticsRun.id == ChurnModelReport.run_id)
    if run_id is not None:
        report = session.scalar(query.where(ChurnModelReport.run_id == run_id))
        if report is None:
            raise NoRiskScores(f"run {run_id} has recorded no churn risk", run_id=run_id)
        return report
    report = session.scalar(
        query.where(AnalyticsRun.status != RunStatus.FAILED)
        .order_by(ChurnModelReport.run_id.desc())
        .limit(1)
    )
    if report is None:
        raise NoRiskScores("no analytics run has recorded churn risk yet")
    return report


def _alert_read(alert: RiskAlert) -> RiskAlertRead:
    return RiskAlertRead(
        run_id=alert.run_id,
        customer_id=alert.customer_id,
        as_of=alert.as_of,
        event=alert.event,
        churn_risk=alert.churn_risk,
        previous_band=alert.previous_band,
        value_at_stake_fen=alert.value_at_stake_fen,
        reasons=[ReasonRead.from_json(r) for r in alert.reasons or []],
        created_at=alert.created_at,
    )


def at_risk_list(
    *,
    session: Session,
    run_id: int | None = None,
    page: int = 1,
    page_size: int = 50,
    store_ids: frozenset[int] | None = None,
) -> AtRiskPage:
    """The customers who crossed into high risk in a run (default: the latest), most value at
    stake first, with their reasons; ``store_ids`` limits it to those stores' customers."""
    if page < 1:
        raise InvalidInput("page", "must be 1 or more")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput("page_size", f"must be between 1 and {MAX_PAGE_SIZE}")
    run = _risk_run(session, run_id)
    where = [RiskAlert.run_id == run.run_id]
    if store_ids is not None:
        where.append(RiskAlert.customer_id.in_(customers.customer_ids_in_stores(store_ids)))
    total = int(session.scalar(select(func.count()).select_from(RiskAlert).where(*where)) or 0)
    alerts = session.scalars(
        select(RiskAlert)
        .where(*where)
        .order_by(RiskAlert.value_at_stake_fen.desc(), RiskAlert.customer_id)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    known = customers.get_customers(session=session, customer_ids=[a.customer_id for a in alerts])
    items = [
        AtRiskItem(alert=_alert_read(alert), customer=known[alert.customer_id])
        for alert in alerts
        if alert.customer_id in known  # always: alerts point at customers by foreign key
    ]
    return AtRiskPage(
        run_id=run.run_id,
        as_of=run.as_of,
        page=page,
        page_size=page_size,
        total=total,
        items=items,
    )


def risk_for_customer(
    *, session: Session, customer_id: int, store_ids: frozenset[int] | None = None
) -> list[CustomerRiskRead]:
    """The customer's churn risk in every run that scored them, newest first."""
    customers.check_customer_in_scope(session=session, customer_id=customer_id, store_ids=store_ids)
    rows = session.scalars(
        select(CustomerRisk)
        .where(CustomerRisk.customer_id == customer_id)
        .order_by(CustomerRisk.as_of.desc(), CustomerRisk.run_id.desc())
    )
    return [
        CustomerRiskRead(
            run_id=r.run_id,
            customer_id=r.customer_id,
            as_of=r.as_of,
            churn_risk=r.churn_risk,
            p_alive=r.p_alive,
            expected_purchases_90d=r.expected_purchases_90d,
            clv_fen=r.clv_fen,
            value_at_stake_fen=r.value_at_stake_fen,
            band=r.band,
            reasons=[ReasonRead.from_json(x) for x in r.reasons or []],
        )
        for r in rows
    ]


def get_model_report(
    *, session: Session, run_id: int | None = None, store_ids: frozenset[int] | None = None
) -> ChurnModelReportRead:
    """The churn model report of a run (default: the latest that recorded one). It is about
    every store's customers: a caller bound to ``store_ids`` is refused (ChainWideFigures)."""
    if store_ids is not None:
        raise ChainWideFigures(
            "the churn model report covers every store; your role sees its own stores only"
        )
    report = _risk_run(session, run_id)
    return ChurnModelReportRead(
        run_id=report.run_id,
        as_of=report.as_of,
        mode=report.mode,
        report=report.report,
        created_at=report.created_at,
    )


# ----------------------------------------------------------------------- value in a run

# Upper edges (exclusive) of the CLV buckets, in fen: ¥0.01, ¥50, ¥100 … ¥10,000, then more.
CLV_EDGES_FEN = (1, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000)


@dataclass(frozen=True, slots=True)
class ClvBucket:
    low_fen: int  # inclusive; 0 is the "no value" bucket
    high_fen: int | None  # exclusive; None: no upper edge
    customers: int


def clv_distribution(
    *, session: Session, run_id: int, store_ids: frozenset[int] | None = None
) -> list[ClvBucket]:
    """Customers per 12-month CLV bucket in a run's churn scores, counted in SQL."""
    whens = [(CustomerRisk.clv_fen < CLV_EDGES_FEN[0], 0)]
    whens += [
        (CustomerRisk.clv_fen < high, n + 1)
        for n, high in enumerate(CLV_EDGES_FEN[1:])
    ]  # fmt: skip
    bucket = case(*whens, else_=len(CLV_EDGES_FEN)).label("bucket")
    query = (
        select(bucket, func.count())
        .where(CustomerRisk.run_id == run_id)
        .group_by(bucket)
        .order_by(bucket)
    )
    if store_ids is not None:
        query = query.where(
            CustomerRisk.customer_id.in_(customers.customer_ids_in_stores(store_ids))
        )
    found = {int(b): int(n) for b, n in session.execute(query)}
    edges = (0, *CLV_EDGES_FEN)
    return [
        ClvBucket(
            low_fen=edges[i],
            high_fen=edges[i + 1] if i + 1 < len(edges) else None,
            customers=found.get(i, 0),
        )
        for i in range(len(edges))
    ]


def band_sizes(
    *, session: Session, run_id: int, store_ids: frozenset[int] | None = None
) -> dict[str, int]:
    """Customers per risk band in a run, within ``store_ids`` (None: every store): what a
    store-bound role sees of the bands, the model report being chain-wide."""
    query = (
        select(CustomerRisk.band, func.count())
        .where(CustomerRisk.run_id == run_id)
        .group_by(CustomerRisk.band)
    )
    if store_ids is not None:
        query = query.where(
            CustomerRisk.customer_id.in_(customers.customer_ids_in_stores(store_ids))
        )
    return {str(band): int(n) for band, n in session.execute(query)}


@dataclass(frozen=True, slots=True)
class ValuedCustomer:
    customer: CustomerRead  # as stored: the caller masks it for display
    clv_fen: int
    churn_risk: float
    band: str
    p_alive: float
    value_at_stake_fen: int


def top_customers_by_value(
    *,
    session: Session,
    run_id: int,
    limit: int = 50,
    store_ids: frozenset[int] | None = None,
) -> list[ValuedCustomer]:
    """The customers with the highest predicted 12-month CLV in a run's churn scores."""
    query = (
        select(CustomerRisk)
        .where(CustomerRisk.run_id == run_id)
        .order_by(CustomerRisk.clv_fen.desc(), CustomerRisk.customer_id)
        .limit(limit)
    )
    if store_ids is not None:
        query = query.where(
            CustomerRisk.customer_id.in_(customers.customer_ids_in_stores(store_ids))
        )
    rows = list(session.scalars(query))
    known = customers.get_customers(session=session, customer_ids=[r.customer_id for r in rows])
    return [
        ValuedCustomer(
            customer=known[row.customer_id],
            clv_fen=row.clv_fen,
            churn_risk=row.churn_risk,
            band=row.band,
            p_alive=row.p_alive,
            value_at_stake_fen=row.value_at_stake_fen,
        )
        for row in rows
        if row.customer_id in known  # always: risk rows point at customers by foreign key
    ]


def alerts_after(
    *, session: Session, after_id: int, limit: int = 1_000
) -> list[tuple[int, int, str, datetime]]:
    """(id, customer id, event, created at) of the early warnings with an id above
    ``after_id``, in id order: what journeys act on (docs/journeys.md)."""
    rows = session.execute(
        select(RiskAlert.id, RiskAlert.customer_id, RiskAlert.event, RiskAlert.created_at)
        .where(RiskAlert.id > after_id)
        .order_by(RiskAlert.id)
        .limit(limit)
    )
    return [(int(i), int(c), str(e), at) for i, c, e, at in rows]
