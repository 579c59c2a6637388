"""Daily sales forecasts with prediction intervals, and their backtest against seasonal naive.

The model, per series (one store's one category): a regression with ARMA errors on
``log(1 + net sales in yuan)`` — day-of-week effects, the Chinese holiday regressors
(chinese_days.py) and a linear trend in the regression by least squares, ARMA(1, 1) on its
residuals by exact maximum likelihood (the innovations algorithm; every series of a run
fitted together from the Hannan–Rissanen estimate and a few fixed starts), forecast for
every series of a run in one pass (arma.py: the Kalman filter's figures in closed form,
which the tests hold to ``SARIMAX``'s), on one BLAS thread (``one_thread_per_fit``);
bench/forecast.py measures the cost per series. The forecast's
median and its 80 % and 95 % intervals come from the model's Gaussian intervals on the log
scale, mapped back (``exp − 1``, floored at 0), so they are never negative and widen with
the level. Day-of-week as regressors rather than a seasonal ARIMA keeps the state small and
lets the holiday effects sit on top of the weekly pattern.

A series with fewer than ``MIN_HISTORY_DAYS`` days, sales on fewer than half of its last
``MIN_HISTORY_DAYS`` days (intermittent demand, which a Gaussian model on the log scale
misreads), or whose fit fails, is forecast by seasonal naive instead (each day = the same weekday of the
last week), with intervals from the quantiles of its own past weekly errors; the row says
which model made it.

Backtest: the last ``horizon`` days of history are held out, both models are fitted on the
days before and forecast them; MASE (mean absolute error over the in-sample mean absolute
error of the 7-day seasonal naive) and sMAPE (mean of 2|F − A| / (|F| + |A|), 0 where both
are 0) are reported for each, per series and overall.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from patron.analytics.forecast.chinese_days import day_flags, days_between

FloatArray = npt.NDArray[np.float64]
SEASON = 7
MIN_HISTORY_DAYS = 8 * 7
Z80, Z95 = 1.2815515655446004, 1.959963984540054


@dataclass(frozen=True, eq=False)
class SeriesForecast:
    """A forecast of one series: per day the median and the 80 % / 95 % bounds (yuan)."""

    days: tuple[date, ...]
    median: FloatArray
    lower_80: FloatArray
    upper_80: FloatArray
    lower_95: FloatArray
    upper_95: FloatArray
    model: str
    provisional_years: tuple[int, ...] = field(default=())


def _calendar(first_day: date, days: int) -> FloatArray:
    """The regressors of ``days`` consecutive days from ``first_day``: six weekday dummies
    (Monday is the base) and the holiday flags (the trend is added per series)."""
    span = days_between(first_day, first_day + timedelta(days=days - 1))
    weekday = np.array([d.weekday() for d in span])
    dummies = np.column_stack([(weekday == k).astype(np.float64) for k in range(1, 7)])
    return np.column_stack([dummies, day_flags(span).matrix()]).astype(np.float64)


def _design(calendar: FloatArray, offset: int, days: int, trend_from: int) -> FloatArray:
    """Rows ``offset`` … ``offset + days − 1`` of ``calendar`` with the trend in years since
    the series' first day, ``trend_from`` days before the first row."""
    trend = (np.arange(days, dtype=np.float64) + trend_from) / 365.25
    return np.column_stack([calendar[offset : offset + days], trend])


def seasonal_naive(history: FloatArray, first_day: date, horizon: int) -> SeriesForecast:
    """Each future day is the same weekday of the last week; intervals from the quantiles of
    the history's own week-on-week changes."""
    last_week = history[-SEASON:] if len(history) >= SEASON else np.resize(history, SEASON)
    steps = np.arange(horizon)
    median = np.maximum(last_week[steps % SEASON], 0.0)
    errors = history[SEASON:] - history[:-SEASON] if len(history) > SEASON else np.zeros(1)
    # h weeks ahead the error is a sum of h weekly changes: widen by √h.
    weeks = (steps // SEASON + 1).astype(np.float64)
    bounds: dict[str, FloatArray] = {}
    for name, q in (("80", 0.10), ("95", 0.025)):
        low, high = np.quantile(errors, [q, 1 - q]) if len(errors) else (0.0, 0.0)
        bounds[f"lower_{name}"] = np.maximum(median + low * np.sqrt(weeks), 0.0)
        bounds[f"upper_{name}"] = np.maximum(median + high * np.sqrt(weeks), median)
    days = tuple(first_day + timedelta(days=int(i)) for i in steps)
    return SeriesForecast(
        days=days,
        median=median,
        lower_80=bounds["lower_80"],
        upper_80=bounds["upper_80"],
        lower_95=bounds["lower_95"],
        upper_95=bounds["upper_95"],
        model="seasonal_naive",
    )


def _usable(history: FloatArray) -> bool:
    """Long enough, and sold on at least half of its last ``MIN_HISTORY_DAYS`` days."""
    recent = history[-MIN_HISTORY_DAYS:]
    return len(history) >= MIN_HISTORY_DAYS and bool((recent > 0).mean() >= 0.5)


def forecast_many(
    histories: list[FloatArray], first_days: list[date], horizon: int
) -> list[SeriesForecast]:
    """``forecast_series`` for each history (yuan per day, consecutive days from its first
    day), the regression models fitted together (arma.py): the same forecasts, one NumPy
    pass over all the series instead of one fit each."""
    from patron.analytics.forecast.arma import fit_arma11

    out: list[SeriesForecast | None] = [None] * len(histories)
    fitted: list[int] = []
    for i, history in enumerate(histories):
        if _usable(history):
            fitted.append(i)
        else:
            out[i] = seasonal_naive(history, first_days[i] + timedelta(days=len(history)), horizon)
    if fitted:
        origin = min(first_days[i] for i in fitted)
        end = max(first_days[i] + timedelta(days=len(histories[i]) + horizon) for i in fitted)
        calendar = _calendar(origin, (end - origin).days)
        flags = day_flags(days_between(origin, end - timedelta(days=1)))
        guessed = set(flags.provisional_years)
        residuals, regressions = [], []
        for i in fitted:
            n, offset = len(histories[i]), (first_days[i] - origin).days
            x_past = _design(calendar, offset, n, 0)
            x_future = _design(calendar, offset + n, horizon, n)
            # A regressor never seen in the history (no Spring Festival in a short series)
            # cannot be estimated: it is left out, and its days forecast as ordinary days.
            seen = x_past.std(axis=0) > 0
            seen[-1] = True
            y = np.log1p(np.maximum(histories[i], 0.0))
            # Two stages: the regression by least squares, then ARMA(1, 1) on its
            # residuals — the same forecast to within the regression's own sampling error
            # (a few hundred days pin its coefficients down).
            design = np.column_stack([np.ones(n), x_past[:, seen]])
            coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
            residuals.append(y - design @ coefficients)
            regressions.append(
                np.column_stack([np.ones(horizon), x_future[:, seen]]) @ coefficients
            )
        with np.errstate(all="ignore"):
            arma_mean, variance = fit_arma11(residuals).forecast(horizon)
        for row, i in enumerate(fitted):
            first_future = first_days[i] + timedelta(days=len(histories[i]))
            mean = regressions[row] + arma_mean[row]
            sd = np.sqrt(variance[row])
            if not (np.isfinite(mean).all() and np.isfinite(sd).all()):
                # A failed fit: seasonal naive instead (module doc).
                out[i] = seasonal_naive(histories[i], first_future, horizon)
                continue
            offset = (first_future - origin).days
            days = flags.days[offset : offset + horizon]
            out[i] = SeriesForecast(
                days=days,
                median=_back(mean),
                lower_80=_back(mean - Z80 * sd),
                upper_80=_back(mean + Z80 * sd),
                lower_95=_back(mean - Z95 * sd),
                upper_95=_back(mean + Z95 * sd),
                model="regression_arma",
                provisional_years=tuple(sorted({d.year for d in days} & guessed)),
            )
    return [forecast for forecast in out if forecast is not None]


def _back(v: FloatArray) -> FloatArray:
    return np.maximum(np.expm1(np.minimum(v, 50.0)), 0.0)


def one_thread_per_fit() -> Any:
    """A context in which BLAS runs on one thread: the fits work on small arrays, where
    BLAS threads cost far more than they give, and on a busy machine their spinning made
    one fit take seconds of wall time instead of milliseconds. The fits use NumPy's own
    BLAS alone (arma.py), loaded with NumPy, which threadpoolctl then limits."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def forecast_series(history: FloatArray, first_history_day: date, horizon: int) -> SeriesForecast:
    """The regression model where the series allows it, else seasonal naive (module doc)."""
    return forecast_many([history], [first_history_day], horizon)[0]


def mase(actual: FloatArray, forecast: FloatArray, history: FloatArray) -> float | None:
    """Mean absolute error over the in-sample 7-day seasonal naive's; None when the history
    is too short or flat to scale by."""
    if len(history) <= SEASON:
        return None
    scale = float(np.mean(np.abs(history[SEASON:] - history[:-SEASON])))
    if scale <= 0:
        return None
    return float(np.mean(np.abs(actual - forecast)) / scale)


def smape(actual: FloatArray, forecast: FloatArray) -> float:
    """Mean of 2|F − A| / (|F| + |A|), a day where both are 0 counting 0; in [0, 2]."""
    denominator = np.abs(actual) + np.abs(forecast)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(denominator > 0, 2 * np.abs(forecast - actual) / denominator, 0.0)
    return float(np.mean(terms))


def backtest(history: FloatArray, first_history_day: date, horizon: int) -> dict[str, Any]:
    """Hold out the last ``horizon`` days; the forecast's and seasonal naive's MASE and
    sMAPE on them (module doc). Empty when the history is too short to hold out."""
    return forecast_and_backtest([history], [first_history_day], horizon)[1][0]


def forecast_and_backtest(
    histories: list[FloatArray],
    first_days: list[date],
    horizon: int,
    *,
    with_backtest: bool = True,
) -> tuple[list[SeriesForecast], list[dict[str, Any]]]:
    """Each history's forecast (``forecast_series``) and backtest (``backtest``; an empty
    dict without ``with_backtest``), every model fitted in one pass (``forecast_many``)."""
    held = [
        i
        for i, history in enumerate(histories)
        if with_backtest and len(history) >= horizon + MIN_HISTORY_DAYS
    ]
    trains = [histories[i][:-horizon] for i in held]
    found = forecast_many(
        [*histories, *trains], [*first_days, *(first_days[i] for i in held)], horizon
    )
    forecasts, ours = found[: len(histories)], found[len(histories) :]
    backtests: list[dict[str, Any]] = [{} for _ in histories]
    for i, train, forecast in zip(held, trains, ours, strict=True):
        actual = histories[i][-horizon:]
        naive = seasonal_naive(train, first_days[i] + timedelta(days=len(train)), horizon)
        inside_80 = (actual >= forecast.lower_80) & (actual <= forecast.upper_80)
        backtests[i] = {
            "model": forecast.model,
            "mase": mase(actual, forecast.median, train),
            "smape": smape(actual, forecast.median),
            "mase_naive": mase(actual, naive.median, train),
            "smape_naive": smape(actual, naive.median),
            "coverage_80": float(inside_80.mean()),
            "actual_total": float(actual.sum()),
            "forecast_total": float(forecast.median.sum()),
            "naive_total": float(naive.median.sum()),
        }
    return forecasts, backtests
