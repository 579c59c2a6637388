"""Awkward shops get a clear message and a sound fallback — never a crash, NaN or negative value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from patron.analytics.clv import (
    BgNbd,
    FitResult,
    GammaGamma,
    ModelFitError,
    customer_lifetime_value,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_paretonbd,
)
from patron.analytics.clv._fitting import maximise
from patron.analytics.clv.simulate import simulate_bgnbd_histories
from patron.core.errors import InvalidInput

PURCHASE_FITS: list[Callable[..., FitResult[Any]]] = [fit_bgnbd, fit_paretonbd]


def _assert_sound(
    fit: FitResult[Any],
    spend: FitResult[GammaGamma],
    x: np.ndarray,
    t_x: np.ndarray,
    t_age: np.ndarray,
    m: np.ndarray,
) -> None:
    assert np.isfinite(list(fit.model.parameters().values())).all()
    assert np.isfinite(fit.log_likelihood)
    alive = fit.model.p_alive(x, t_x, t_age)
    assert np.isfinite(alive).all() and (alive >= 0).all() and (alive <= 1).all()
    expected = fit.model.expected_purchases(52, x, t_x, t_age)
    assert np.isfinite(expected).all() and (expected >= 0).all()
    value = customer_lifetime_value(
        fit, spend, frequency=x, recency=t_x, age=t_age, monetary=m, horizon_months=12
    )
    for array in (value.value, value.lower, value.upper, value.expected_spend):
        assert np.isfinite(array).all() and (array >= 0).all()
    assert (value.lower <= value.value).all() and (value.value <= value.upper).all()


def _histories(customers: int, age: Any, seed: int) -> tuple[np.ndarray, ...]:
    h = simulate_bgnbd_histories(
        customers=customers, r=0.25, alpha=4.4, a=0.8, b=2.4, age=age, seed=seed
    )
    rng = np.random.default_rng(seed)
    m = np.where(h.frequency > 0, rng.gamma(6.0, 35 / 6, customers), 0.0)
    return h.frequency, h.recency, h.age, m


@pytest.mark.parametrize("fit_purchases", PURCHASE_FITS)
def test_a_shop_where_nobody_came_back_gets_a_message_and_near_zero_forecasts(
    fit_purchases: Callable[..., FitResult[Any]],
) -> None:
    n = 300
    t_age = np.random.default_rng(1).uniform(1, 40, n)
    x, t_x, m = np.zeros(n), np.zeros(n), np.zeros(n)
    fit = fit_purchases(x, t_x, t_age)
    assert any("No customer made a repeat purchase" in w for w in fit.warnings)
    spend = fit_gamma_gamma(x, m, fallback_mean=4500.0)
    assert any("no spend model was fitted" in w for w in spend.warnings)
    assert spend.model.population_mean == 4500.0
    _assert_sound(fit, spend, x, t_x, t_age, m)
    assert fit.model.expected_purchases(52, x, t_x, t_age).max() < 0.01


def test_spend_without_any_repeat_purchase_or_fallback_is_zero_with_a_message() -> None:
    spend = fit_gamma_gamma(np.zeros(10), np.zeros(10))
    assert spend.model.expected_spend(np.zeros(3), np.zeros(3)).tolist() == [0.0, 0.0, 0.0]
    assert any("no repeat spend and no fallback mean" in w for w in spend.warnings)


@pytest.mark.parametrize("fit_purchases", PURCHASE_FITS)
def test_a_tiny_shop_gets_a_warning_and_finite_values(
    fit_purchases: Callable[..., FitResult[Any]],
) -> None:
    x, t_x, t_age, m = _histories(60, 39.0, seed=1)
    assert 0 < (x > 0).sum() < 50
    fit = fit_purchases(x, t_x, t_age)
    assert any("fewer than 50" in w for w in fit.warnings)
    spend = fit_gamma_gamma(x, m)
    assert any("fewer than 50" in w for w in spend.warnings)
    _assert_sound(fit, spend, x, t_x, t_age, m)


@pytest.mark.parametrize("fit_purchases", PURCHASE_FITS)
def test_a_very_young_population_gets_a_warning_and_finite_values(
    fit_purchases: Callable[..., FitResult[Any]],
) -> None:
    ages = np.random.default_rng(2).uniform(0, 2, 3000)  # at most two weeks old
    x, t_x, t_age, m = _histories(3000, ages, seed=2)
    fit = fit_purchases(x, t_x, t_age)
    assert any("observed for only 14 days" in w for w in fit.warnings)
    _assert_sound(fit, fit_gamma_gamma(x, m), x, t_x, t_age, m)


def test_refunded_and_zero_spenders_are_left_out_of_the_spend_fit_and_get_the_mean() -> None:
    x, t_x, t_age, m = _histories(3000, 39.0, seed=3)
    repeat = np.flatnonzero(x > 0)
    m = m.copy()
    m[repeat[:20]] = -15.0  # refunds exceed purchases
    m[repeat[20:30]] = 0.0
    spend = fit_gamma_gamma(x, m)
    assert any("30 repeat customers with zero or negative mean spend" in w for w in spend.warnings)
    assert spend.customers == len(repeat) - 30
    expected = spend.model.expected_spend(x, m)
    assert expected[repeat[:30]] == pytest.approx(spend.model.population_mean)
    assert spend.model.population_mean > 0
    _assert_sound(fit_bgnbd(x, t_x, t_age), spend, x, t_x, t_age, m)


def test_extreme_spenders_are_named_and_shrunk_towards_the_mean() -> None:
    x, t_x, t_age, m = _histories(3000, 39.0, seed=4)
    repeat = np.flatnonzero(x > 0)
    m = m.copy()
    m[repeat[:3]] = 1e6
    spend = fit_gamma_gamma(x, m)
    assert any("3 customers spend more than 50 times the median" in w for w in spend.warnings)
    expected = spend.model.expected_spend(x[repeat[:3]], m[repeat[:3]])
    assert np.isfinite(expected).all()
    assert (expected < 1e6).all()  # shrunk
    _assert_sound(fit_bgnbd(x, t_x, t_age), spend, x, t_x, t_age, m)


def test_spend_with_no_finite_mean_falls_back_to_the_sample_mean_with_a_message() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(1, 4, 400).astype(np.float64)
    m = 10 / rng.random(400) ** 2  # Pareto tail index 1/2: no finite mean
    spend = fit_gamma_gamma(x, m)
    assert spend.model.q <= 1
    assert any("no finite mean" in w for w in spend.warnings)
    assert spend.model.population_mean == pytest.approx(np.dot(x, m) / x.sum())
    assert np.isfinite(spend.model.expected_spend(np.zeros(2), np.zeros(2))).all()


def test_a_fit_stopped_early_says_it_did_not_converge() -> None:
    x, t_x, t_age, _ = _histories(2000, 39.0, seed=5)
    fit = fit_bgnbd(x, t_x, t_age, max_iterations=1)
    assert not fit.converged
    assert any("did not converge" in w for w in fit.warnings)


def test_a_likelihood_that_is_never_finite_raises_a_fit_error_naming_the_model() -> None:
    def broken(theta: np.ndarray) -> tuple[float, np.ndarray]:
        return float("nan"), np.zeros_like(theta)

    with pytest.raises(ModelFitError, match="BG/NBD"):
        maximise(broken, [np.zeros(4)], model="BG/NBD", names=("r", "alpha", "a", "b"), weight=10)


@pytest.mark.parametrize(
    ("frequency", "recency", "age", "field"),
    [
        ([1, 2], [1.0, 3.0], [2.0, 2.5], "recency"),  # t_x > T
        ([-1, 2], [0.0, 1.0], [2.0, 2.0], "frequency"),
        ([1.5, 2], [1.0, 1.0], [2.0, 2.0], "frequency"),  # not a whole number
        ([1, 2], [1.0, 1.0], [2.0, float("nan")], "age"),
        ([1, 2], [1.0, 1.0], [2.0], "age"),  # lengths differ
        ([0, 2], [1.0, 1.0], [2.0, 2.0], "recency"),  # recency without repeat purchases
        ([], [], [], "frequency"),  # nobody to fit
        ([[1, 2]], [[1.0, 1.0]], [[2.0, 2.0]], "frequency"),  # not one-dimensional
    ],
)
@pytest.mark.parametrize("fit_purchases", PURCHASE_FITS)
def test_bad_histories_are_rejected_with_the_field_named(
    fit_purchases: Callable[..., FitResult[Any]],
    frequency: list[Any],
    recency: list[Any],
    age: list[Any],
    field: str,
) -> None:
    with pytest.raises(InvalidInput) as error:
        fit_purchases(frequency, recency, age)
    assert error.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"horizon_months": 0}, "horizon_months"),
        ({"monthly_discount_rate": -0.1}, "monthly_discount_rate"),
        ({"level": 1.5}, "level"),
        ({"monetary": [1.0]}, "monetary"),
        ({"recency": [5.0, 1.0]}, "recency"),
    ],
)
def test_bad_value_requests_are_rejected_with_the_field_named(
    kwargs: dict[str, Any], field: str
) -> None:
    model = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)
    spend = GammaGamma(p=6.25, q=3.74, gamma=15.44, population_mean=35.2)
    arguments: dict[str, Any] = {
        "frequency": [1, 0],
        "recency": [1.0, 0.0],
        "age": [2.0, 3.0],
        "monetary": [10.0, 0.0],
    }
    arguments.update(kwargs)
    with pytest.raises(InvalidInput) as error:
        customer_lifetime_value(model, spend, **arguments)
    assert error.value.field == field


def test_bad_spend_input_is_rejected_with_the_field_named() -> None:
    with pytest.raises(InvalidInput) as error:
        fit_gamma_gamma([1, 2], [10.0])
    assert error.value.field == "monetary"
    with pytest.raises(InvalidInput) as error:
        fit_gamma_gamma([1, 2], [10.0, 20.0], fallback_mean=-5)
    assert error.value.field == "fallback_mean"
