"""Fits recover the parameters of the process that generated the data.

Stated tolerance: every parameter within 4 of the fit's own standard errors (from the
inverse observed information) *and* within 15 % of the truth; the standard errors are
themselves checked to be small (under 6 % of the value for BG/NBD, 10 % for Pareto/NBD,
whose s and β trade off), so neither bound is vacuous. Seeds are fixed.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from patron.analytics.clv import (
    fit_bgnbd,
    fit_gamma_gamma,
    fit_paretonbd,
    holdout_report,
    summarise_transactions,
)
from patron.analytics.clv.simulate import simulate_bgnbd_histories, simulate_bgnbd_transactions


def _assert_recovered(
    fitted: dict[str, float],
    errors: dict[str, float],
    truth: dict[str, float],
    widest: float = 0.06,
) -> None:
    for name, true in truth.items():
        assert errors[name] < widest * true, f"{name}: standard error {errors[name]:.3g} too wide"
        assert abs(fitted[name] - true) <= 4 * errors[name], (name, fitted[name], errors[name])
        assert fitted[name] == pytest.approx(true, rel=0.15), name


def test_bgnbd_fit_recovers_the_parameters_of_simulated_customers() -> None:
    truth = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
    ages = np.random.default_rng(11).uniform(26, 78, 40_000)
    histories = simulate_bgnbd_histories(customers=40_000, age=ages, seed=11, **truth)
    fit = fit_bgnbd(histories.frequency, histories.recency, histories.age)
    assert fit.converged
    errors = fit.standard_errors()
    assert errors is not None
    _assert_recovered(fit.model.parameters(), errors, truth)


def _simulate_paretonbd(
    rng: np.random.Generator, n: int, r: float, alpha: float, s: float, beta: float, age: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact Pareto/NBD draws: x ~ Poisson(λ·min(τ, T)), t_x = max of x uniform times."""
    rate = rng.gamma(r, 1 / alpha, n)
    lifetime = rng.exponential(1 / rng.gamma(s, 1 / beta, n))
    active = np.minimum(lifetime, age)
    x = rng.poisson(rate * active).astype(np.float64)
    t_x = np.where(x > 0, active * rng.random(n) ** (1 / np.maximum(x, 1)), 0.0)
    return x, t_x, np.full(n, age)


def test_paretonbd_fit_recovers_the_parameters_of_simulated_customers() -> None:
    truth = {"r": 0.6, "alpha": 8.0, "s": 0.7, "beta": 10.0}
    rng = np.random.default_rng(5)
    x, t_x, t_age = _simulate_paretonbd(rng, 30_000, age=52.0, **truth)
    # Whole-day recency, as from real dates: exact for the fit and far fewer distinct rows.
    t_x = np.floor(t_x * 7) / 7
    fit = fit_paretonbd(x, t_x, t_age)
    assert fit.converged
    errors = fit.standard_errors()
    assert errors is not None
    _assert_recovered(fit.model.parameters(), errors, truth, widest=0.10)


def test_a_simulated_shop_round_trips_through_summary_fit_and_holdout() -> None:
    # Daily purchases of 20,000 customers acquired over 2024; calibration to mid-2025.
    transactions = simulate_bgnbd_transactions(
        customers=20_000,
        r=0.5,
        alpha=60.0,  # per day: mean 1 purchase every 120 days while active
        a=0.7,
        b=3.0,
        p=6.0,
        q=4.0,
        gamma=30.0,  # mean spend pγ/(q−1) = 60 yuan = 6,000 fen
        first_day=date(2024, 1, 1),
        acquisition_days=366,
        last_day=date(2025, 12, 31),
        unit="days",
        seed=3,
    )
    summary = summarise_transactions(
        customer_ids=transactions.customer_ids,
        purchased_on=transactions.purchased_on,
        spend=transactions.spend,
        calibration_end=date(2025, 6, 30),
        holdout_end=date(2025, 12, 31),
        unit="days",
    )
    assert len(summary) == 20_000
    purchases = fit_bgnbd(summary.frequency, summary.recency, summary.age, unit="days")
    assert purchases.model.r == pytest.approx(0.5, rel=0.15)
    assert purchases.model.alpha == pytest.approx(60.0, rel=0.15)
    report = holdout_report(purchases.model, summary)
    assert report.relative_error is not None
    assert abs(report.relative_error) < 0.05  # the right model forecasts its own holdout
    spend = fit_gamma_gamma(summary.frequency, summary.monetary)
    # Spend comes back in fen: the population mean is about 6,000 fen.
    assert spend.model.population_mean == pytest.approx(6000, rel=0.1)
    assert spend.model.p == pytest.approx(6.0, rel=0.2)
