"""Analytics results kept in the operational database, so pages, the API and journeys read
them without running analytics: one row per run, one score row per customer per run."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.clock import utcnow
from patron.core.models import Base, BigId, IdPk, UTCDateTime


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class AnalyticsRun(Base):
    """One run of the analytics pipeline: what it described (as_of), how, and how long each
    step took."""

    __tablename__ = "analytics_run"
    __table_args__ = (Index("ix_analytics_run_status_as_of", "status", "as_of"),)

    id: Mapped[IdPk]
    as_of: Mapped[date] = mapped_column(Date)
    engine: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.RUNNING)
    trigger: Mapped[str] = mapped_column(String(16), default="manual")  # manual, nightly
    # The definitions' parameters (window, monetary, thresholds, lifecycle settings).
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # [{"step": "extract", "seconds": 1.2, "rows": 1000}, ...]
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    customers_scored: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When its per-customer rows (scores, churn risk) were deleted by the history's retention
    # (PATRON_ANALYTICS_KEEP_DAYS); the run itself, its steps and its report stay.
    scores_pruned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CustomerScore(Base):
    """A customer's RFM scores, value segment and lifecycle stage as of one run."""

    __tablename__ = "customer_score"
    __table_args__ = (
        UniqueConstraint("run_id", "customer_id"),
        Index("ix_customer_score_customer_id_as_of", "customer_id", "as_of"),
        Index("ix_customer_score_run_id_segment", "run_id", "segment"),
        Index("ix_customer_score_run_id_stage", "run_id", "stage"),
    )

    id: Mapped[IdPk]
    # Ids without foreign keys: a run writes a million rows, and the write-back checks its
    # customer ids once in SQL instead of a lookup per row (docs/operations.md).
    run_id: Mapped[int] = mapped_column(BigId)
    customer_id: Mapped[int] = mapped_column(BigId)
    as_of: Mapped[date] = mapped_column(Date)
    # None for a customer with no purchase in the window.
    recency_days: Mapped[int | None] = mapped_column(Integer)
    frequency: Mapped[int] = mapped_column(Integer, default=0)
    monetary_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    r_score: Mapped[int | None] = mapped_column(SmallInteger)
    f_score: Mapped[int | None] = mapped_column(SmallInteger)
    m_score: Mapped[int | None] = mapped_column(SmallInteger)
    segment: Mapped[str | None] = mapped_column(String(32))
    stage: Mapped[str] = mapped_column(String(16))
    first_order_date: Mapped[date | None] = mapped_column(Date)
    last_order_date: Mapped[date | None] = mapped_column(Date)
