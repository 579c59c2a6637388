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


RecommendationReason = Literal["due", "repeat", "similar", "rule", "popular"]


class RecommendedItem(BaseModel):
    """One item of a member's next-basket list: ``reason`` says why — ``due`` (a repeat
    item whose own repurchase time has come), ``repeat`` (bought before, not yet due),
    ``similar`` (bought by similar members), ``rule`` (bought with what they buy),
    ``popular`` (the shop's best sellers, to fill the list)."""

    rank: int
    sku: str
    name: str | None  # None: a SKU the catalogue does not know
    score: float
    reason: RecommendationReason
    due_on: date | None


class CustomerRecommendations(BaseModel):
    """A member's list from the latest nightly run that recommended to them (empty with
    ``run_id`` None when none has)."""

    customer_id: int
    run_id: int | None
    as_of: date | None
    items: list[RecommendedItem]


class BoughtTogetherItem(BaseModel):
    """A rule {sku} ⇒ {consequent}: in what share of baskets both are (support), how often
    the consequent is in a basket holding the SKU (confidence), and how many times more
    often than in any basket (lift)."""

    sku: str
    name: str | None
    baskets: int
    support: float
    confidence: float
    lift: float


class BoughtTogetherRead(BaseModel):
    """What is bought with one product, in one store's baskets (``store_code``) or the
    chain's (None), from the latest nightly run that mined rules."""

    sku: str
    name: str
    store_code: str | None
    run_id: int | None
    as_of: date | None
    items: list[BoughtTogetherItem]
