"""Daily sales forecasts with prediction intervals, and their backtest against seasonal naive.

The library: statsmodels (``SARIMAX``), maintained and installable beside the project's
pandas 3. statsforecast was the first choice, but its current release requires pandas < 3,
which Patron cannot pin together with it.

The model, per series (one store's one category): a regression with ARMA errors on
``log(1 + net sales in yuan)`` — day-of-week effects, the Chinese holiday regressors
(chinese_days.py) and a linear trend in the regression by least squares, ARMA(1, 1) on its
residuals by maximum likelihood started from the Hannan–Rissanen estimate (statsmodels),
forecast by statsmodels' Kalman filter. A series costs about a tenth of a second of CPU,
forecast and backtest, on one BLAS thread (``one_thread_per_fit``); bench/forecast.py
measures it. The forecast's median and its 80 % and 95 % intervals come from the
model's Gaussian intervals on the log scale, mapped back (``exp − 1``, floored at 0), so
they are never negative and widen with the level. Day-of-week as regressors rather than a
seasonal ARIMA keeps the state small (a fit takes a fraction of a second) and lets the
holiday effects sit on top of the weekly pattern.

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

import warnings
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from patron.analytics.forecast.chinese_days import day_flags, days_between

FloatArray = npt.NDArray[np.float64]
SEASON = 7
MIN_HISTORY_DAYS = 8 * 7
# L-BFGS iterations per fit: a handful of ARMA and regression parameters settle well before.
MAX_ITERATIONS = 50
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


def _design(days: list[date], start: date) -> FloatArray:
    """Regressors: six weekday dummies (Monday is the base), the holiday flags, a trend in
    years since ``start``."""
    weekday = np.array([d.weekday() for d in days])
    dummies = np.column_stack([(weekday == k).astype(np.float64) for k in range(1, 7)])
    flags = day_flags(days).matrix()
    trend = np.array([(d - start).days / 365.25 for d in days]).reshape(-1, 1)
    design = np.column_stack([dummies, flags, trend])
    return np.asarray(design, dtype=np.float64)


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


def regression_forecast(
    history: FloatArray, first_history_day: date, horizon: int
) -> SeriesForecast:
    """The module doc's model on ``history`` (yuan per day, consecutive days from
    ``first_history_day``), ``horizon`` days ahead. Raises on a failed fit."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    n = len(history)
    past = days_between(first_history_day, first_history_day + timedelta(days=n - 1))
    future = [past[-1] + timedelta(days=i + 1) for i in range(horizon)]
    x_past = _design(past, first_history_day)
    x_future = _design(future, first_history_day)
    # A regressor never seen in the history (no Spring Festival in a short series) cannot be
    # estimated: it is left out, and its days forecast as ordinary days.
    seen = x_past.std(axis=0) > 0
    seen[-1] = True
    y = np.log1p(np.maximum(history, 0.0))
    # Two stages: the regression by least squares, then ARMA(1, 1) on its residuals — three
    # parameters for the optimiser instead of twenty, with the same forecast to within the
    # regression's own sampling error (a few hundred days pin its coefficients down).
    design = np.column_stack([np.ones(n), x_past[:, seen]])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    residuals = y - design @ coefficients
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        params = _arma_parameters(residuals)
        filtered = SARIMAX(residuals, order=(1, 0, 1), trend="n").filter(params)
        prediction = filtered.get_forecast(horizon)
    future_design = np.column_stack([np.ones(horizon), x_future[:, seen]])
    regression = future_design @ coefficients
    mean = regression + np.asarray(prediction.predicted_mean, dtype=np.float64)
    sd = np.sqrt(np.asarray(prediction.var_pred_mean, dtype=np.float64))
    if not (np.isfinite(mean).all() and np.isfinite(sd).all()):
        raise ArithmeticError("the fit gave a non-finite forecast")

    def back(v: FloatArray) -> FloatArray:
        return np.maximum(np.expm1(np.minimum(v, 50.0)), 0.0)

    flags = day_flags(future)
    return SeriesForecast(
        days=tuple(future),
        median=back(mean),
        lower_80=back(mean - Z80 * sd),
        upper_80=back(mean + Z80 * sd),
        lower_95=back(mean - Z95 * sd),
        upper_95=back(mean + Z95 * sd),
        model="regression_arma",
        provisional_years=flags.provisional_years,
    )


def _arma_parameters(residuals: FloatArray) -> FloatArray:
    """(φ, θ, σ²) of ARMA(1, 1) on the regression's residuals: maximum likelihood (L-BFGS on
    the Kalman filter's likelihood), started from the Hannan–Rissanen estimate (a long
    autoregression's residuals standing in for the innovations, then one least squares),
    which leaves the optimiser a few steps; statsmodels' own start when that estimate is not
    stationary and invertible. Hannan–Rissanen alone costs half as much but backtested a
    little worse on the demo (bench/forecast.py)."""
    from statsmodels.tsa.arima.estimators.hannan_rissanen import hannan_rissanen
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    found, _ = hannan_rissanen(residuals, ar_order=1, ma_order=1, demean=False)
    start = np.array([found.ar_params[0], found.ma_params[0], found.sigma2], dtype=np.float64)
    usable = np.isfinite(start).all() and abs(start[0]) < 1 and abs(start[1]) < 1 and start[2] > 0
    model = SARIMAX(
        residuals,
        order=(1, 0, 1),
        trend="n",
        enforce_stationarity=True,
        enforce_invertibility=True,
    )
    fitted = model.fit(start_params=start if usable else None, disp=False, maxiter=MAX_ITERATIONS)
    return np.asarray(fitted.params, dtype=np.float64)


def one_thread_per_fit() -> Any:
    """A context in which BLAS runs on one thread: each fit works on matrices of a few
    hundred cells, where BLAS threads cost far more than they give, and on a busy machine
    their spinning made one fit take seconds of wall time instead of milliseconds. The
    libraries are loaded first, as threadpoolctl limits only the BLAS already loaded."""
    import statsmodels.tsa.arima.estimators.hannan_rissanen
    import statsmodels.tsa.statespace.sarimax  # noqa: F401
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def forecast_series(history: FloatArray, first_history_day: date, horizon: int) -> SeriesForecast:
    """The regression model where the series allows it, else seasonal naive (module doc)."""
    first_future = first_history_day + timedelta(days=len(history))
    recent = history[-MIN_HISTORY_DAYS:]
    if len(history) < MIN_HISTORY_DAYS or (recent > 0).mean() < 0.5:
        return seasonal_naive(history, first_future, horizon)
    try:
        return regression_forecast(history, first_history_day, horizon)
    except (ArithmeticError, ValueError, np.linalg.LinAlgError):
        return seasonal_naive(history, first_future, horizon)


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
    if len(history) < horizon + MIN_HISTORY_DAYS:
        return {}
    train, actual = history[:-horizon], history[-horizon:]
    first_future = first_history_day + timedelta(days=len(train))
    ours = forecast_series(train, first_history_day, horizon)
    naive = seasonal_naive(train, first_future, horizon)
    inside_80 = (actual >= ours.lower_80) & (actual <= ours.upper_80)
    return {
        "model": ours.model,
        "mase": mase(actual, ours.median, train),
        "smape": smape(actual, ours.median),
        "mase_naive": mase(actual, naive.median, train),
        "smape_naive": smape(actual, naive.median),
        "coverage_80": float(inside_80.mean()),
        "actual_total": float(actual.sum()),
        "forecast_total": float(ours.median.sum()),
        "naive_total": float(naive.median.sum()),
    }
