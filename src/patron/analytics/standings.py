"""What other domains read of the analytics results in bulk, and a way to bring the store's
extracted tables up to date without running the definitions (audiences count on them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.analytics import store as analytics_store
from patron.analytics.churn.models import CustomerRisk
from patron.analytics.extract import ExtractResult, extract
from patron.analytics.models import AnalyticsRun, CustomerScore, RunStatus
from patron.core.db import Database
from patron.core.settings import get_settings

StandingRow = tuple[int, str | None, str | None, int | None, str | None]


def store_path() -> Path:
    return get_settings().resolved_analytics_store


def customer_standings(*, session: Session) -> tuple[datetime | None, list[StandingRow]]:
    """(customer id, value segment, lifecycle stage, lifetime value in fen, churn band) of
    the latest successful run, with when it finished; ([], None) before the first."""
    run = session.execute(
        select(AnalyticsRun.id, AnalyticsRun.finished_at)
        .where(AnalyticsRun.status == RunStatus.SUCCEEDED)
        .order_by(AnalyticsRun.id.desc())
        .limit(1)
    ).first()
    if run is None:
        return None, []
    risk = (
        select(CustomerRisk.customer_id, CustomerRisk.clv_fen, CustomerRisk.band)
        .where(CustomerRisk.run_id == run[0])
        .subquery()
    )
    rows = session.execute(
        select(
            CustomerScore.customer_id,
            CustomerScore.segment,
            CustomerScore.stage,
            risk.c.clv_fen,
            risk.c.band,
        )
        .outerjoin(risk, risk.c.customer_id == CustomerScore.customer_id)
        .where(CustomerScore.run_id == run[0])
    ).all()
    return run[1], [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


@contextmanager
def writing_store(path: Path | None = None) -> Iterator[Any]:
    """The store opened for writing under its run lock (AnalyticsBusy while a run holds it)."""
    target = path or store_path()
    with analytics_store.run_lock(target), analytics_store.connect(target) as duck:
        yield duck


@contextmanager
def reading_store(path: Path | None = None) -> Iterator[Any]:
    """The store opened briefly to read (waits a moment for a run in another process)."""
    with analytics_store.connect(path or store_path()) as duck:
        yield duck


def refresh_extract(*, db: Database, duck: Any) -> ExtractResult:
    """Bring the extracted tables up to date (by watermark; quick when little changed)."""
    return extract(db=db, duck=duck, timezone=get_settings().timezone)
