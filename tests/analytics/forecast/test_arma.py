"""The ARMA(1, 1) forecasts from one pass over many series, held to statsmodels' Kalman
filter, and the batched forecast held to the one-series forecast."""

from __future__ import annotations

import warnings
from datetime import date, timedelta

import numpy as np
import pytest

from patron.analytics.forecast.arma import fit_arma11
from patron.analytics.forecast.model import (
    backtest,
    forecast_and_backtest,
    forecast_many,
    forecast_series,
)

START = date(2024, 11, 1)


def _arma(n: int, phi: float, theta: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 0.3, size=n + 1)
    out = np.zeros(n)
    for t in range(1, n):
        out[t] = phi * out[t - 1] + noise[t + 1] + theta * noise[t]
    return out


def test_the_forecasts_are_the_kalman_filters_at_the_fitted_parameters() -> None:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    series = [_arma(400, 0.6, 0.3, 1), _arma(250, -0.4, 0.5, 2), _arma(90, 0.95, -0.7, 3)]
    fits = fit_arma11(series)
    mean, variance = fits.forecast(30)
    for i, residuals in enumerate(series):
        params = np.array([fits.phi[i], fits.theta[i], fits.sigma2[i]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = SARIMAX(residuals, order=(1, 0, 1), trend="n")
            # The filter's shortcut once its covariance has settled off: the exact figures
            # (with it on they differ in the eighth digit).
            model.ssm.tolerance = 0
            prediction = model.filter(params).get_forecast(30)
        assert mean[i] == pytest.approx(np.asarray(prediction.predicted_mean), abs=1e-12)
        assert variance[i] == pytest.approx(np.asarray(prediction.var_pred_mean), rel=1e-12)


def _shop(days: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    weekday = np.array([(START + timedelta(days=i)).weekday() for i in range(days)])
    level = np.array([0.86, 0.84, 0.88, 0.92, 1.08, 1.36, 1.30])[weekday] * 2000
    return level * rng.lognormal(0, 0.15, size=days)


def test_series_forecast_together_are_forecast_as_each_alone() -> None:
    # Different lengths and first days, a short one and an intermittent one among them.
    sparse = np.zeros(200)
    sparse[::14] = 500.0
    histories = [_shop(400, 1), _shop(300, 2)[120:], np.full(30, 100.0), sparse, _shop(130, 4)]
    firsts = [START, START + timedelta(days=120), START, START, START + timedelta(days=9)]
    together = forecast_many(histories, firsts, 28)
    assert [f.model for f in together] == [
        "regression_arma",
        "regression_arma",
        "seasonal_naive",
        "seasonal_naive",
        "regression_arma",
    ]
    for history, first, batched in zip(histories, firsts, together, strict=True):
        alone = forecast_series(history, first, 28)
        assert batched.days == alone.days
        assert batched.days[0] == first + timedelta(days=len(history))
        for name in ("median", "lower_80", "upper_80", "lower_95", "upper_95"):
            assert getattr(batched, name) == pytest.approx(getattr(alone, name), rel=1e-9)
    forecasts, backtests = forecast_and_backtest(histories, firsts, 28)
    assert [f.model for f in forecasts] == [f.model for f in together]
    assert backtests[2] == {} and backtests[0] == pytest.approx(
        backtest(histories[0], firsts[0], 28)
    )
    _, none = forecast_and_backtest(histories, firsts, 28, with_backtest=False)
    assert none == [{}] * len(histories)


def test_the_fit_finds_the_optimum_sarimax_finds() -> None:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    series = [_arma(500, 0.6, 0.3, 5), _arma(300, -0.5, 0.2, 6)]
    fits = fit_arma11(series)
    for i, residuals in enumerate(series):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = SARIMAX(residuals, order=(1, 0, 1), trend="n").fit(disp=False).params
        found = [fits.phi[i], fits.theta[i], fits.sigma2[i]]
        assert found == pytest.approx(list(expected), abs=2e-3)


def test_a_failed_fit_is_forecast_by_seasonal_naive(monkeypatch: pytest.MonkeyPatch) -> None:
    from patron.analytics.forecast import arma

    def fail(*args: object) -> np.ndarray:
        raise ValueError("no fit")

    monkeypatch.setattr(arma, "_mle", fail)
    forecasts = forecast_many([_shop(200, 7), _shop(200, 8)], [START, START], 14)
    assert [f.model for f in forecasts] == ["seasonal_naive", "seasonal_naive"]


def test_one_failed_fit_leaves_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    from patron.analytics.forecast import arma

    fit = arma._mle
    alone = forecast_series(_shop(200, 8), START, 14)

    def first_fails(*args: object) -> np.ndarray:
        fitted = fit(*args)  # type: ignore[arg-type]
        fitted[0] = np.nan
        return fitted

    monkeypatch.setattr(arma, "_mle", first_fails)
    forecasts = forecast_many([_shop(200, 7), _shop(200, 8)], [START, START], 14)
    assert [f.model for f in forecasts] == ["seasonal_naive", "regression_arma"]
    assert forecasts[1].median == pytest.approx(alone.median, rel=1e-9)


def test_the_likelihood_is_statsmodels_at_its_optimal_variance() -> None:
    from statsmodels.tsa.innovations.arma_innovations import arma_loglike

    from patron.analytics.forecast import arma

    series = [_arma(300, 0.7, -0.2, 9), _arma(300, -0.3, 0.6, 10), _arma(300, 0.0, 0.0, 11)]
    points = [(0.7, -0.2), (-0.95, 0.99), (0.999, -0.5)]
    y = np.column_stack(series)
    for phi, theta in points:
        u = np.array([[phi, theta]] * 3) / np.sqrt(1 - np.array([[phi, theta]] * 3) ** 2)
        found, sigma2 = arma._minus_loglike(u, y)
        for j, s in enumerate(series):
            expected = -arma_loglike(s, [phi], [theta], sigma2[j]) / len(s)
            assert found[j] == pytest.approx(expected, rel=1e-12)
            # σ² is the likelihood's optimum for this φ and θ.
            for scale in (0.99, 1.01):
                assert -arma_loglike(s, [phi], [theta], sigma2[j] * scale) / len(s) > found[j]


def test_the_hannan_rissanen_start_is_statsmodels() -> None:
    from statsmodels.tsa.arima.estimators.hannan_rissanen import hannan_rissanen

    from patron.analytics.forecast import arma

    series = [_arma(400, 0.6, 0.3, 1), _arma(250, -0.4, 0.5, 2), _arma(400, 0.9, -0.7, 3)]
    phi, theta = arma._hannan_rissanen(series)
    for i, s in enumerate(series):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found, _ = hannan_rissanen(s, ar_order=1, ma_order=1, demean=False)
        assert phi[i] == pytest.approx(found.ar_params[0], abs=1e-10)
        assert theta[i] == pytest.approx(found.ma_params[0], abs=1e-10)


def test_the_fit_is_never_worse_than_lbfgs_from_hannan_rissanen() -> None:
    """The optimum is at least as high as statsmodels' L-BFGS-B from the Hannan–Rissanen
    estimate (the fit this one replaced) finds, on series near the ridge φ ≈ −θ."""
    from scipy.optimize import fmin_l_bfgs_b
    from statsmodels.tsa.arima.estimators.hannan_rissanen import hannan_rissanen
    from statsmodels.tsa.innovations.arma_innovations import arma_loglike

    rng = np.random.default_rng(12)
    series = [_arma(365, 0.6, 0.3, 20)]
    # A slowly drifting level under noise: optima towards the ends of the ridge.
    series += [np.cumsum(rng.normal(0, 0.02, 365)) + rng.normal(0, 0.3, 365) for _ in range(4)]
    series = [s - s.mean() for s in series]
    fits = fit_arma11(series)
    for i, s in enumerate(series):
        n = len(s)

        def minus(x: np.ndarray, s: np.ndarray = s, n: int = n) -> float:
            phi, theta = x[:2] / np.sqrt(1 + x[:2] ** 2)
            return -float(arma_loglike(s, phi[None], theta[None], x[2] ** 2)) / n

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found, _ = hannan_rissanen(s, ar_order=1, ma_order=1, demean=False)
            start = np.array([found.ar_params[0], found.ma_params[0]])
            if not (np.abs(start) < 1).all():
                start = np.zeros(2)
            x0 = np.array([*(start / np.sqrt(1 - start**2)), np.sqrt(found.sigma2)])
            _, f_lbfgs, _ = fmin_l_bfgs_b(
                minus, x0, approx_grad=True, m=12, pgtol=1e-8, factr=1e2, maxiter=50
            )
            ours = -arma_loglike(s, [fits.phi[i]], [fits.theta[i]], fits.sigma2[i]) / n
        assert ours <= f_lbfgs + 1e-9
