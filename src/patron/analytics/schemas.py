"""Analytics runs, customer scores and run results, in and out."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from patron.core.schemas import Schema
from patron.customers.schemas import CustomerRead

EngineName = Literal["duckdb", "spark"]


class AnalyticsRunCreate(Schema):
    """Start a run: the business day it describes (default today), the engine, a full
    rebuild of the analytics store."""

    as_of: date | None = None
    engine: EngineName = "duckdb"
    full: bool = False


class RunStep(BaseModel):
    step: str
    seconds: float
    rows: int | None = None


class AnalyticsRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    as_of: date
    engine: str
    status: str
    trigger: str
    params: dict[str, Any]
    steps: list[RunStep]
    customers_scored: int
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    scores_pruned_at: datetime | None = None


class CustomerScoreRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    run_id: int
    customer_id: int
    as_of: date
    recency_days: int | None
    frequency: int
    monetary_fen: int
    r_score: int | None
    f_score: int | None
    m_score: int | None
    segment: str | None
    stage: str
    first_order_date: date | None
    last_order_date: date | None


class GroupSummary(BaseModel):
    """Customers in one value segment or lifecycle stage, and what they spent in the window.

    ``code`` is None for customers without a purchase in the RFM window (no segment)."""

    code: str | None
    name: str
    customers: int
    monetary_fen: int


def _shop_currency() -> str:
    from patron.core.settings import get_settings

    return get_settings().currency


def _shop_currency_symbol() -> str:
    from patron.core.money import currency_symbol

    return currency_symbol(_shop_currency())


class RunSummary(BaseModel):
    run_id: int
    as_of: date
    groups: list[GroupSummary]
    currency: str = Field(
        default_factory=_shop_currency, description="ISO 4217 code of the *_fen amounts"
    )
    currency_symbol: str = Field(default_factory=_shop_currency_symbol)


class ScoredCustomer(BaseModel):
    score: CustomerScoreRead
    customer: CustomerRead


class ScoredCustomerPage(BaseModel):
    run_id: int
    items: list[ScoredCustomer]
    next_cursor: str | None = None


class ResultRows(BaseModel):
    """One kept result of a run (cohorts, KPIs, migration) as rows of the definition's
    columns."""

    run_id: int
    as_of: date
    name: str
    rows: list[dict[str, Any]]
