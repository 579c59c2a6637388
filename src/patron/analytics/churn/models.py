"""Churn risk kept in the operational database: one row per customer per run, the early-warning
alerts raised when a customer crosses into high risk, and each run's model report."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    Float,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.clock import utcnow
from patron.core.models import Base, BigId, IdPk, UTCDateTime

# The event a journey listens for when a customer crosses into high risk.
CHURN_RISK_HIGH_EVENT = "customer.churn_risk_high"


class CustomerRisk(Base):
    """A customer's churn risk, P(alive), value and reasons as of one analytics run."""

    __tablename__ = "customer_risk"
    __table_args__ = (
        UniqueConstraint("run_id", "customer_id"),
        Index("ix_customer_risk_customer_id_as_of", "customer_id", "as_of"),
        Index("ix_customer_risk_run_id_band_value", "run_id", "band", "value_at_stake_fen"),
    )

    id: Mapped[IdPk]
    # No foreign keys, as customer_score: checked once per run by the write-back.
    run_id: Mapped[int] = mapped_column(BigId)
    customer_id: Mapped[int] = mapped_column(BigId)
    as_of: Mapped[date] = mapped_column(Date)
    churn_risk: Mapped[float] = mapped_column(Float)
    p_alive: Mapped[float] = mapped_column(Float)
    expected_purchases_90d: Mapped[float] = mapped_column(Float, default=0.0)
    clv_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    value_at_stake_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    band: Mapped[str] = mapped_column(String(8))  # low, medium, high
    # [{"code": "long_gap", "numbers": {"ratio": 3, ...}, "action": "win_back_coupon"}, ...]
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class RiskAlert(Base):
    """Early warning: the customer crossed into high risk in this run (an event for journeys)."""

    __tablename__ = "risk_alert"
    __table_args__ = (
        UniqueConstraint("run_id", "customer_id"),
        Index("ix_risk_alert_run_id_value", "run_id", "value_at_stake_fen"),
        Index("ix_risk_alert_customer_id_created_at", "customer_id", "created_at"),
    )

    id: Mapped[IdPk]
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    run_id: Mapped[int] = mapped_column(BigId, ForeignKey("analytics_run.id"))
    as_of: Mapped[date] = mapped_column(Date)
    event: Mapped[str] = mapped_column(String(64), default=CHURN_RISK_HIGH_EVENT)
    churn_risk: Mapped[float] = mapped_column(Float)
    # None when the customer was not scored in the previous run (e.g. new since then).
    previous_band: Mapped[str | None] = mapped_column(String(8))
    value_at_stake_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChurnModelReport(Base):
    """What the churn step of a run did: mode, features, training, holdout figures, fits."""

    __tablename__ = "churn_model_report"

    id: Mapped[IdPk]
    run_id: Mapped[int] = mapped_column(BigId, ForeignKey("analytics_run.id"), unique=True)
    as_of: Mapped[date] = mapped_column(Date)
    mode: Mapped[str] = mapped_column(String(16))  # model, fallback
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
