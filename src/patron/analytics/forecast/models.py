"""Sales forecasts kept in the operational database by each analytics run: daily net sales
by store and category with intervals, and the backtest that says how far to trust them."""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.models import Base, BigId, IdPk


class SalesForecast(Base):
    """One store's one category on one future day: the median forecast of net sales and its
    80 % and 95 % intervals, in fen."""

    __tablename__ = "sales_forecast"
    __table_args__ = (
        UniqueConstraint("run_id", "store_id", "category", "day"),
        Index("ix_sales_forecast_run_id_day", "run_id", "day"),
    )

    id: Mapped[IdPk]
    run_id: Mapped[int] = mapped_column(BigId, ForeignKey("analytics_run.id"))
    store_id: Mapped[int] = mapped_column(BigId, ForeignKey("store.id"))
    category: Mapped[str] = mapped_column(String(255))
    day: Mapped[date] = mapped_column(Date)
    forecast_fen: Mapped[int] = mapped_column(BigInteger)
    lower_80_fen: Mapped[int] = mapped_column(BigInteger)
    upper_80_fen: Mapped[int] = mapped_column(BigInteger)
    lower_95_fen: Mapped[int] = mapped_column(BigInteger)
    upper_95_fen: Mapped[int] = mapped_column(BigInteger)
    model: Mapped[str] = mapped_column(String(32))
    # The day's holiday flags are estimated: its year's arrangement was not yet announced.
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)


class ForecastBacktest(Base):
    """How the model did on the last ``days`` days held out, beside seasonal naive."""

    __tablename__ = "forecast_backtest"
    __table_args__ = (UniqueConstraint("run_id", "store_id", "category"),)

    id: Mapped[IdPk]
    run_id: Mapped[int] = mapped_column(BigId, ForeignKey("analytics_run.id"))
    store_id: Mapped[int] = mapped_column(BigId, ForeignKey("store.id"))
    category: Mapped[str] = mapped_column(String(255))
    model: Mapped[str] = mapped_column(String(32))
    days: Mapped[int] = mapped_column(Integer)
    mase: Mapped[float | None] = mapped_column(Float)
    smape: Mapped[float] = mapped_column(Float)
    mase_naive: Mapped[float | None] = mapped_column(Float)
    smape_naive: Mapped[float] = mapped_column(Float)
    coverage_80: Mapped[float] = mapped_column(Float)
    actual_fen: Mapped[int] = mapped_column(BigInteger)
    forecast_fen: Mapped[int] = mapped_column(BigInteger)
