"""Invariants over random parameters and histories (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.analytics.clv import BgNbd, GammaGamma, ParetoNbd, customer_lifetime_value


def _log_uniform(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(np.log(low), np.log(high)).map(lambda v: float(np.exp(v)))


bgnbd_models = st.builds(
    BgNbd,
    r=_log_uniform(0.01, 20),
    alpha=_log_uniform(0.01, 500),
    a=_log_uniform(0.01, 50),
    b=_log_uniform(0.01, 200),
)
paretonbd_models = st.builds(
    ParetoNbd,
    r=_log_uniform(0.01, 20),
    alpha=_log_uniform(0.01, 500),
    s=_log_uniform(0.01, 50),
    beta=_log_uniform(0.01, 1000),
)
purchase_models = st.one_of(bgnbd_models, paretonbd_models)


@st.composite
def histories(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 6))
    x = np.array([draw(st.integers(0, 300)) for _ in range(n)], dtype=np.float64)
    t_age = np.array([draw(st.floats(0, 400)) for _ in range(n)])
    share = np.array([draw(st.floats(0, 1)) for _ in range(n)])
    t_x = np.where(x > 0, share * t_age, 0.0)
    return x, t_x, t_age


SETTINGS = settings(max_examples=60, deadline=None)


@SETTINGS
@given(model=purchase_models, history=histories())
def test_p_alive_is_a_probability(
    model: BgNbd | ParetoNbd, history: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    alive = model.p_alive(*history)
    assert np.isfinite(alive).all()
    assert ((alive >= 0) & (alive <= 1)).all()


@SETTINGS
@given(
    model=purchase_models,
    history=histories(),
    horizons=st.lists(st.floats(0, 3000), min_size=2, max_size=5),
)
def test_expected_purchases_are_non_negative_and_grow_with_the_horizon(
    model: BgNbd | ParetoNbd,
    history: tuple[np.ndarray, np.ndarray, np.ndarray],
    horizons: list[float],
) -> None:
    ordered = np.sort(np.array(horizons))
    path = model.expected_purchases_path(ordered, *history)
    assert np.isfinite(path).all()
    assert (path >= 0).all()
    assert (np.diff(path, axis=1) >= -1e-7 * path[:, 1:] - 1e-12).all()
    assert (path[:, ordered == 0] == 0).all()


@SETTINGS
@given(
    model=purchase_models,
    history=histories(),
    p=_log_uniform(0.05, 50),
    q=_log_uniform(0.05, 50),
    gamma=_log_uniform(0.01, 1e4),
    spend=st.floats(-1e4, 1e6),
    months=st.integers(1, 60),
    rate=st.floats(0, 0.2),
)
def test_lifetime_value_is_finite_non_negative_and_inside_its_interval(
    model: BgNbd | ParetoNbd,
    history: tuple[np.ndarray, np.ndarray, np.ndarray],
    p: float,
    q: float,
    gamma: float,
    spend: float,
    months: int,
    rate: float,
) -> None:
    x, t_x, t_age = history
    mean = p * gamma / (q - 1) if q > 1 else 50.0
    spend_model = GammaGamma(p=p, q=q, gamma=gamma, population_mean=mean)
    monetary = np.where(x > 0, spend, 0.0)
    expected_spend = spend_model.expected_spend(x, monetary)
    assert np.isfinite(expected_spend).all() and (expected_spend >= 0).all()
    value = customer_lifetime_value(
        model,
        spend_model,
        frequency=x,
        recency=t_x,
        age=t_age,
        monetary=monetary,
        horizon_months=months,
        monthly_discount_rate=rate,
    )
    for array in (value.value, value.lower, value.upper):
        assert np.isfinite(array).all() and (array >= 0).all()
    assert (value.lower <= value.value).all() and (value.value <= value.upper).all()
