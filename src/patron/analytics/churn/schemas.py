"""Churn risk, alerts and model reports, out."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from patron.analytics.churn.reasons import LANGUAGES, Reason, render_action, render_reason
from patron.customers.schemas import CustomerRead


class ReasonRead(BaseModel):
    """A reason with its numbers and its text and action in zh-CN and English."""

    code: str
    numbers: dict[str, float | int]
    action: str
    text: dict[str, str]
    action_text: dict[str, str]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReasonRead:
        reason = Reason.from_json(data)
        return cls(
            code=reason.code,
            numbers=dict(reason.numbers),
            action=reason.action,
            text={lang: render_reason(reason.code, reason.numbers, lang) for lang in LANGUAGES},
            action_text={
                lang: render_action(reason.action, lang) if reason.action else ""
                for lang in LANGUAGES
            },
        )


class CustomerRiskRead(BaseModel):
    run_id: int
    customer_id: int
    as_of: date
    churn_risk: float
    p_alive: float
    expected_purchases_90d: float
    clv_fen: int
    value_at_stake_fen: int
    band: str
    reasons: list[ReasonRead]


class RiskAlertRead(BaseModel):
    run_id: int
    customer_id: int
    as_of: date
    event: str
    churn_risk: float
    previous_band: str | None
    value_at_stake_fen: int
    reasons: list[ReasonRead]
    created_at: datetime


class AtRiskItem(BaseModel):
    alert: RiskAlertRead
    customer: CustomerRead


class AtRiskPage(BaseModel):
    """Customers who crossed into high risk in a run, most value at stake first."""

    run_id: int
    as_of: date
    page: int
    page_size: int
    total: int
    items: list[AtRiskItem]


class ChurnModelReportRead(BaseModel):
    run_id: int
    as_of: date
    mode: str
    report: dict[str, Any]
    created_at: datetime


class RiskRecorded(BaseModel):
    """What ``record_risk`` wrote."""

    run_id: int
    previous_run_id: int | None
    customers: int
    alerts: int
