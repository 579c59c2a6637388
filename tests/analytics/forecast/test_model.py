"""The forecast and its backtest on series whose pattern is known."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from patron.analytics.forecast.model import (
    backtest,
    forecast_series,
    mase,
    seasonal_naive,
    smape,
)

START = date(2024, 11, 1)


def _weekly_shop(days: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    weekday = np.array([(START + timedelta(days=i)).weekday() for i in range(days)])
    level = np.array([0.86, 0.84, 0.88, 0.92, 1.08, 1.36, 1.30])[weekday] * 2000
    return level * rng.lognormal(0, 0.15, size=days)


def test_the_metrics_on_hand_computed_numbers() -> None:
    history = np.array([1, 2, 3, 4, 5, 6, 7, 3, 4, 5, 6, 7, 8, 9], dtype=float)
    # Week-on-week changes are all 2: the scale is 2.
    assert mase(np.array([10.0, 10.0]), np.array([8.0, 12.0]), history) == pytest.approx(1.0)
    assert smape(np.array([100.0, 0.0]), np.array([50.0, 0.0])) == pytest.approx((2 * 50 / 150) / 2)
    assert mase(np.array([1.0]), np.array([1.0]), np.ones(14)) is None


def test_a_weekly_pattern_is_forecast_with_intervals_that_hold_the_median() -> None:
    history = _weekly_shop(400)
    forecast = forecast_series(history, START, 56)
    assert forecast.model == "regression_arma"
    assert len(forecast.days) == 56 and forecast.days[0] == START + timedelta(days=400)
    assert (forecast.lower_95 <= forecast.lower_80).all()
    assert (forecast.lower_80 <= forecast.median).all() and (
        forecast.median <= forecast.upper_80
    ).all()
    assert (forecast.upper_80 <= forecast.upper_95).all() and (forecast.lower_95 >= 0).all()
    saturday = [i for i, d in enumerate(forecast.days) if d.weekday() == 5]
    tuesday = [i for i, d in enumerate(forecast.days) if d.weekday() == 1]
    assert forecast.median[saturday].mean() > 1.4 * forecast.median[tuesday].mean()


def test_the_backtest_beats_seasonal_naive_on_a_noisy_weekly_series() -> None:
    figures = backtest(_weekly_shop(400), START, 56)
    print(figures)
    assert figures["mase"] < figures["mase_naive"]
    assert figures["smape"] < figures["smape_naive"]
    assert 0.6 <= figures["coverage_80"] <= 1.0


def test_short_or_intermittent_series_fall_back_to_seasonal_naive() -> None:
    short = forecast_series(np.full(30, 100.0), START, 14)
    assert short.model == "seasonal_naive"
    sparse_sales = np.zeros(200)
    sparse_sales[::14] = 500.0
    assert forecast_series(sparse_sales, START, 14).model == "seasonal_naive"
    naive = seasonal_naive(np.arange(14, dtype=float), START, 10)
    assert naive.median.tolist() == [7, 8, 9, 10, 11, 12, 13, 7, 8, 9]


def test_fits_run_on_one_blas_thread_inside_the_context() -> None:
    from threadpoolctl import threadpool_info

    from patron.analytics.forecast.model import one_thread_per_fit

    with one_thread_per_fit():
        blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
        assert blas and all(pool["num_threads"] == 1 for pool in blas)
        # NumPy's own BLAS, the one the fits use, is among those limited.
        assert any("numpy" in pool["filepath"] for pool in blas)
        forecast = forecast_series(_weekly_shop(200), START, 14)
    assert forecast.model == "regression_arma"
