"""Lifetime value: discounting, units, rounding to fen, and the interval."""

from __future__ import annotations

import numpy as np
import pytest

from patron.analytics.clv import (
    BgNbd,
    FitResult,
    GammaGamma,
    LifetimeValue,
    customer_lifetime_value,
    fit_bgnbd,
    fit_gamma_gamma,
    round_to_fen,
)
from patron.analytics.clv.simulate import simulate_bgnbd_histories

PURCHASES = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)
SPEND = GammaGamma(p=6.25, q=3.74, gamma=15.44, population_mean=6.25 * 15.44 / 2.74)
HISTORY = {"frequency": [0, 2, 7], "recency": [0.0, 30.43, 37.0], "age": [38.86, 38.86, 38.86]}
MONETARY = [0.0, 40.0, 25.0]


def _value(**kwargs: object) -> LifetimeValue:
    arguments: dict[str, object] = {"monetary": MONETARY, **HISTORY}
    arguments.update(kwargs)
    return customer_lifetime_value(PURCHASES, SPEND, **arguments)  # type: ignore[arg-type]


def test_without_discounting_value_is_expected_purchases_times_expected_spend() -> None:
    value = _value(horizon_months=12, monthly_discount_rate=0.0)
    weeks = 365.25 / 7
    purchases = PURCHASES.expected_purchases(weeks, **HISTORY)
    spend = SPEND.expected_spend(HISTORY["frequency"], MONETARY)
    assert value.value == pytest.approx(purchases * spend, rel=1e-9)
    assert value.expected_purchases == pytest.approx(purchases, rel=1e-9)


def test_discounting_lowers_value_and_a_longer_horizon_raises_it() -> None:
    base = _value(horizon_months=12, monthly_discount_rate=0.01)
    assert (base.value < _value(horizon_months=12, monthly_discount_rate=0.0).value).all()
    assert (base.value < _value(horizon_months=24, monthly_discount_rate=0.01).value).all()


def test_each_month_is_discounted_at_its_end() -> None:
    one_month = _value(horizon_months=1, monthly_discount_rate=0.05)
    undiscounted = _value(horizon_months=1, monthly_discount_rate=0.0)
    assert one_month.value == pytest.approx(undiscounted.value / 1.05, rel=1e-12)


def test_value_comes_back_in_the_spend_unit_and_rounds_half_up_to_fen() -> None:
    in_fen = customer_lifetime_value(
        PURCHASES,
        GammaGamma(p=6.25, q=3.74, gamma=1544.0, population_mean=6.25 * 1544.0 / 2.74),
        monetary=[m * 100 for m in MONETARY],
        **HISTORY,
    )
    in_yuan = _value()
    assert in_fen.value == pytest.approx(in_yuan.value * 100, rel=1e-9)
    value_fen, lower_fen, upper_fen = in_fen.to_fen()
    assert value_fen.dtype == np.int64
    assert (lower_fen <= value_fen).all() and (value_fen <= upper_fen).all()
    assert round_to_fen([0.5, 1.49, 2.5, 1234.5001]).tolist() == [1, 1, 3, 1235]


def test_bare_models_give_a_point_value_and_say_the_interval_is_missing() -> None:
    value = _value()
    assert (value.lower == value.value).all() and (value.upper == value.value).all()
    assert any("no parameter covariance" in w for w in value.warnings)


@pytest.fixture(scope="module")
def fitted() -> tuple[FitResult[BgNbd], FitResult[GammaGamma], dict[str, np.ndarray]]:
    h = simulate_bgnbd_histories(customers=1500, r=0.25, alpha=4.4, a=0.8, b=2.4, age=39.0, seed=9)
    rng = np.random.default_rng(9)
    m = np.where(h.frequency > 0, rng.gamma(6.0, 35 / 6, 1500), 0.0)
    data = {"frequency": h.frequency, "recency": h.recency, "age": h.age, "monetary": m}
    return fit_bgnbd(h.frequency, h.recency, h.age), fit_gamma_gamma(h.frequency, m), data


def test_the_interval_matches_sampling_the_parameters_from_their_covariance(
    fitted: tuple[FitResult[BgNbd], FitResult[GammaGamma], dict[str, np.ndarray]],
) -> None:
    purchases, spend, data = fitted
    assert purchases.covariance is not None and spend.covariance is not None
    pick = np.array([0, int(np.argmax(data["frequency"])), int(np.argmax(data["monetary"]))])
    subset = {name: values[pick] for name, values in data.items()}
    value = customer_lifetime_value(purchases, spend, **subset, level=0.9)
    assert (value.lower < value.value).all() and (value.value < value.upper).all()
    # Monte Carlo: draw log-parameters from N(θ̂, Σ) for both fits and take the 5 % / 95 %
    # quantiles; the delta-method interval should agree with them to within 10 %.
    rng = np.random.default_rng(0)
    draws = []
    for _ in range(300):
        p_model = purchases.model.with_log_params(
            rng.multivariate_normal(purchases.model.log_params(), purchases.covariance)
        )
        s_model = spend.model.with_log_params(
            rng.multivariate_normal(spend.model.log_params(), spend.covariance)
        )
        draws.append(customer_lifetime_value(p_model, s_model, **subset).value)
    low, high = np.quantile(np.array(draws), [0.05, 0.95], axis=0)
    assert value.lower == pytest.approx(low, rel=0.10)
    assert value.upper == pytest.approx(high, rel=0.10)


def test_a_wider_level_gives_a_wider_interval(
    fitted: tuple[FitResult[BgNbd], FitResult[GammaGamma], dict[str, np.ndarray]],
) -> None:
    purchases, spend, data = fitted
    narrow = customer_lifetime_value(purchases, spend, **data, level=0.5)
    wide = customer_lifetime_value(purchases, spend, **data, level=0.95)
    assert (wide.lower <= narrow.lower).all() and (narrow.upper <= wide.upper).all()
    assert (wide.upper - wide.lower > 0).any()


def test_without_the_interval_the_value_is_the_same_and_nothing_speaks_of_an_interval(
    fitted: tuple[FitResult[BgNbd], FitResult[GammaGamma], dict[str, np.ndarray]],
) -> None:
    purchases, spend, data = fitted
    full = customer_lifetime_value(purchases, spend, **data)
    bare = customer_lifetime_value(purchases.model, spend.model, **data, interval=False)
    np.testing.assert_array_equal(bare.value, full.value)
    np.testing.assert_array_equal(bare.discounted_purchases, full.discounted_purchases)
    np.testing.assert_array_equal(bare.lower, bare.value)
    np.testing.assert_array_equal(bare.upper, bare.value)
    # Bare models without covariances would warn about the interval; without one they do not.
    assert bare.warnings == ()
    assert any(
        "covariance" in w
        for w in customer_lifetime_value(purchases.model, spend.model, **data).warnings
    )
