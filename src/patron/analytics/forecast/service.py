"""Sales forecasts: daily net sales by store and category for the next weeks, computed on the
analytics store and kept in the operational database with their backtest.

``forecast_sales`` is the pipeline step (tables in, a ``ForecastResult`` out);
``record_forecast`` writes it in the caller's transaction; the readers serve the dashboard
and the API. Services take a Session and never commit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from patron.analytics.engine import Tables
from patron.analytics.forecast.models import ForecastBacktest, SalesForecast
from patron.core.errors import InvalidInput, NotFound

HORIZON_DAYS = 56
HISTORY_DAYS = 730
# A series with no sale in this many days before as_of is not forecast (a closed store, a
# category no longer sold).
ACTIVE_DAYS = 28
NO_CATEGORY = "(none)"
_WRITE_CHUNK = 5000


class NoForecast(NotFound):
    """No analytics run has recorded a sales forecast yet."""

    code = "no_sales_forecast"


def daily_sales(tables: Tables, *, start: date, end: date) -> Any:
    """Net sales (fen) per store, top-level category and business day in ``[start, end]``:
    the lines' net of orders with a positive net; days without sales are absent."""
    orders = tables.orders
    kept = orders.filter(
        (orders.net_fen > 0) & (orders.order_date >= start) & (orders.order_date <= end)
    ).select("order_id", "store_id", "order_date")
    lines = tables.order_lines.join(kept, "order_id")
    category = lines.category.strip()
    lines = lines.mutate(category=(category == "").ifelse(NO_CATEGORY, category))
    return lines.group_by(["store_id", "category", "order_date"]).aggregate(
        net_fen=lines.net_fen.sum()
    )


@dataclass(frozen=True, eq=False)
class ForecastResult:
    as_of: date
    rows: list[dict[str, Any]]
    backtests: list[dict[str, Any]]
    report: dict[str, Any] = field(default_factory=dict)


def forecast_sales(
    tables: Tables,
    *,
    as_of: date,
    horizon_days: int = HORIZON_DAYS,
    history_days: int = HISTORY_DAYS,
    with_backtest: bool = True,
    store_ids: frozenset[int] | None = None,
) -> ForecastResult:
    """Forecast each active (store, category) series ``horizon_days`` days after ``as_of``
    from up to ``history_days`` days of history, and backtest it (model.py)."""
    from patron.analytics.forecast.model import forecast_and_backtest, one_thread_per_fit

    if not 7 <= horizon_days <= 366:
        raise InvalidInput("horizon_days", "must be between 7 and 366", value=horizon_days)
    if history_days < 28:
        raise InvalidInput("history_days", "must be at least 28", value=history_days)
    started = time.perf_counter()
    start = as_of - timedelta(days=history_days - 1)
    sales = daily_sales(tables, start=start, end=as_of).to_pyarrow()
    series: dict[tuple[int, str], dict[date, int]] = {}
    for store_id, category, day, net in zip(
        sales.column("store_id").to_pylist(),
        sales.column("category").to_pylist(),
        sales.column("order_date").to_pylist(),
        sales.column("net_fen").to_pylist(),
        strict=True,
    ):
        if store_ids is not None and store_id not in store_ids:
            continue
        series.setdefault((int(store_id), str(category)), {})[day] = int(net)
    rows: list[dict[str, Any]] = []
    backtests: list[dict[str, Any]] = []
    models: dict[str, int] = {}
    provisional: set[int] = set()
    active_from = as_of - timedelta(days=ACTIVE_DAYS - 1)
    keys: list[tuple[int, str]] = []
    histories: list[np.ndarray] = []
    firsts: list[date] = []
    for key, by_day in sorted(series.items()):
        if max(by_day) < active_from:
            continue
        first = min(by_day)
        history = np.zeros((as_of - first).days + 1)
        for day, net in by_day.items():
            history[(day - first).days] = net / 100.0
        keys.append(key)
        histories.append(history)
        firsts.append(first)
    with one_thread_per_fit():
        forecasts, figures_of = forecast_and_backtest(
            histories, firsts, horizon_days, with_backtest=with_backtest
        )
    for (store_id, category), forecast, figures in zip(keys, forecasts, figures_of, strict=True):
        models[forecast.model] = models.get(forecast.model, 0) + 1
        provisional.update(forecast.provisional_years)
        for i, day in enumerate(forecast.days):
            rows.append(
                {
                    "store_id": store_id,
                    "category": category,
                    "day": day,
                    "forecast_fen": _fen(forecast.median[i]),
                    "lower_80_fen": _fen(forecast.lower_80[i]),
                    "upper_80_fen": _fen(forecast.upper_80[i]),
                    "lower_95_fen": _fen(forecast.lower_95[i]),
                    "upper_95_fen": _fen(forecast.upper_95[i]),
                    "model": forecast.model,
                    "provisional": day.year in forecast.provisional_years,
                }
            )
        if figures:
            backtests.append(
                {
                    "store_id": store_id,
                    "category": category,
                    "model": figures["model"],
                    "days": horizon_days,
                    "mase": figures["mase"],
                    "smape": figures["smape"],
                    "mase_naive": figures["mase_naive"],
                    "smape_naive": figures["smape_naive"],
                    "coverage_80": figures["coverage_80"],
                    "actual_fen": _fen(figures["actual_total"]),
                    "forecast_fen": _fen(figures["forecast_total"]),
                }
            )
    report = {
        "as_of": as_of.isoformat(),
        "horizon_days": horizon_days,
        "series": sum(models.values()),
        "models": models,
        "provisional_years": sorted(provisional),
        "backtest": summarise_backtests(backtests),
        "seconds": round(time.perf_counter() - started, 3),
    }
    return ForecastResult(as_of=as_of, rows=rows, backtests=backtests, report=report)


def _fen(yuan: float) -> int:
    """Yuan to fen, half up (the forecast is a float; what is kept is money)."""
    return int(np.floor(float(yuan) * 100 + 0.5))


def summarise_backtests(backtests: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over the series of MASE and sMAPE, the model's beside seasonal naive's, and how
    many series the model beat seasonal naive on (by MASE)."""
    scaled = [b for b in backtests if b["mase"] is not None and b["mase_naive"] is not None]
    if not backtests:
        return {"series": 0}
    return {
        "series": len(backtests),
        "mase": float(np.mean([b["mase"] for b in scaled])) if scaled else None,
        "mase_naive": float(np.mean([b["mase_naive"] for b in scaled])) if scaled else None,
        "smape": float(np.mean([b["smape"] for b in backtests])),
        "smape_naive": float(np.mean([b["smape_naive"] for b in backtests])),
        "coverage_80": float(np.mean([b["coverage_80"] for b in backtests])),
        "better_than_naive": sum(1 for b in scaled if b["mase"] < b["mase_naive"]),
    }


def record_forecast(*, session: Session, run_id: int, result: ForecastResult) -> int:
    """Write a run's forecast rows and backtest rows; returns the forecast rows written."""
    rows = [{"run_id": run_id, **row} for row in result.rows]
    for start in range(0, len(rows), _WRITE_CHUNK):
        session.execute(insert(SalesForecast), rows[start : start + _WRITE_CHUNK])
    if result.backtests:
        session.execute(
            insert(ForecastBacktest), [{"run_id": run_id, **b} for b in result.backtests]
        )
    return len(rows)


@dataclass(frozen=True)
class ForecastDay:
    day: date
    forecast_fen: int
    lower_80_fen: int
    upper_80_fen: int
    lower_95_fen: int
    upper_95_fen: int
    provisional: bool


def _latest_forecast_run(session: Session) -> int:
    from patron.analytics.models import AnalyticsRun, RunStatus

    found = session.scalar(
        select(func.max(SalesForecast.run_id))
        .join(AnalyticsRun, AnalyticsRun.id == SalesForecast.run_id)
        .where(AnalyticsRun.status == RunStatus.SUCCEEDED)
    )
    if found is None:
        raise NoForecast("no analytics run has recorded a sales forecast yet")
    return int(found)


def forecast_totals(
    *,
    session: Session,
    run_id: int | None = None,
    store_ids: frozenset[int] | None = None,
    category: str | None = None,
) -> tuple[int, list[ForecastDay]]:
    """(run, days): the forecast summed over the stores in scope (and one category, if
    given), day by day. Summing the bounds of several series overstates the spread of the
    total (their errors are not perfectly correlated); the dashboard says so."""
    run = run_id if run_id is not None else _latest_forecast_run(session)
    query = (
        select(
            SalesForecast.day,
            func.sum(SalesForecast.forecast_fen),
            func.sum(SalesForecast.lower_80_fen),
            func.sum(SalesForecast.upper_80_fen),
            func.sum(SalesForecast.lower_95_fen),
            func.sum(SalesForecast.upper_95_fen),
            func.max(func.cast(SalesForecast.provisional, type_=_int_type())),
        )
        .where(SalesForecast.run_id == run)
        .group_by(SalesForecast.day)
        .order_by(SalesForecast.day)
    )
    if store_ids is not None:
        query = query.where(SalesForecast.store_id.in_(sorted(store_ids)))
    if category is not None:
        query = query.where(SalesForecast.category == category)
    days = [
        ForecastDay(
            day=row[0],
            forecast_fen=int(row[1]),
            lower_80_fen=int(row[2]),
            upper_80_fen=int(row[3]),
            lower_95_fen=int(row[4]),
            upper_95_fen=int(row[5]),
            provisional=bool(row[6]),
        )
        for row in session.execute(query)
    ]
    return run, days


def _int_type() -> Any:
    from sqlalchemy import Integer

    return Integer()


def backtest_rows(
    *, session: Session, run_id: int | None = None, store_ids: frozenset[int] | None = None
) -> tuple[int, list[dict[str, Any]]]:
    """(run, rows): the run's backtest per series, store and category order."""
    run = run_id if run_id is not None else _latest_forecast_run(session)
    query = (
        select(ForecastBacktest)
        .where(ForecastBacktest.run_id == run)
        .order_by(ForecastBacktest.store_id, ForecastBacktest.category)
    )
    if store_ids is not None:
        query = query.where(ForecastBacktest.store_id.in_(sorted(store_ids)))
    rows = [
        {
            "store_id": b.store_id,
            "category": b.category,
            "model": b.model,
            "days": b.days,
            "mase": b.mase,
            "smape": b.smape,
            "mase_naive": b.mase_naive,
            "smape_naive": b.smape_naive,
            "coverage_80": b.coverage_80,
            "actual_fen": b.actual_fen,
            "forecast_fen": b.forecast_fen,
        }
        for b in session.scalars(query)
    ]
    return run, rows
