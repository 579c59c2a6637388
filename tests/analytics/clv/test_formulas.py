"""The closed forms against the integrals they come from, including where scipy's ₂F₁ fails."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate
from scipy.special import betaln, gammaln, hyp2f1

from patron.analytics.clv import BgNbd, GammaGamma, ParetoNbd
from patron.analytics.clv._common import Histories
from patron.analytics.clv._special import bgnbd_alive_expectation, log_hyp2f1_unit


def _quad(function, lo: float, hi: float, points: list[float] | None = None) -> float:
    value, _ = integrate.quad(function, lo, hi, epsabs=0, epsrel=1e-12, limit=500, points=points)
    return float(value)


def _paretonbd_likelihood_by_quadrature(
    r: float, alpha: float, s: float, beta: float, x: float, t_x: float, t_age: float
) -> float:
    """L from the individual-level model integrated over λ and μ (FH 2005 note, eq. 6–18):
    Γ(r+x)α^rβ^s/Γ(r) · [(α+T)^{−(r+x)}(β+T)^{−s} + s∫_{t_x}^{T}(α+τ)^{−(r+x)}(β+τ)^{−(s+1)}dτ].
    """
    head = np.exp(gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta))
    alive = (alpha + t_age) ** -(r + x) * (beta + t_age) ** -s
    died = _quad(lambda u: (alpha + u) ** -(r + x) * (beta + u) ** -(s + 1), t_x, t_age)
    return float(head * (alive + s * died))


@pytest.mark.parametrize(
    ("params", "history"),
    [
        ((0.553, 10.578, 0.606, 11.669), (2, 30.43, 38.86)),  # CDNOW, α < β
        ((0.553, 10.578, 0.606, 11.669), (0, 0.0, 38.86)),
        ((0.8, 30.0, 2.0, 5.0), (7, 20.0, 52.0)),  # α > β
        ((0.3, 0.05, 0.9, 400.0), (40, 300.0, 365.0)),  # heavy buyer, β ≫ α
        ((2.0, 8.0, 1.0, 8.0), (3, 10.0, 10.0)),  # α = β, t_x = T
    ],
)
def test_paretonbd_likelihood_equals_the_integral_it_comes_from(
    params: tuple[float, float, float, float], history: tuple[float, float, float]
) -> None:
    model = ParetoNbd(*params)
    closed = model.customer_log_likelihood([history[0]], [history[1]], [history[2]])[0]
    assert closed == pytest.approx(
        np.log(_paretonbd_likelihood_by_quadrature(*params, *history)), rel=1e-9
    )


@pytest.mark.parametrize(
    ("params", "history", "horizon"),
    [
        ((0.243, 4.414, 0.793, 2.426), (2, 30.43, 38.86), 39.0),  # a < 1
        ((0.243, 4.414, 1.9, 2.426), (5, 20.0, 38.86), 52.0),  # a > 1
        ((1.0, 2.0, 80.0, 400.0), (20, 30.0, 40.0), 2000.0),  # scipy's ₂F₁ fails here
        ((0.5, 1.0, 1.0 + 3e-8, 3.0), (1, 5.0, 10.0), 20.0),  # a ≈ 1 (removable singularity)
        ((0.243, 4.414, 0.793, 2.426), (2, 30.43, 38.86), 1e-5),  # short horizon: Taylor
    ],
)
def test_bgnbd_expected_purchases_equal_the_beta_mixture_they_come_from(
    params: tuple[float, float, float, float], history: tuple[float, float, float], horizon: float
) -> None:
    r, alpha, a, b = params
    x, t_x, t_age = history
    model = BgNbd(*params)
    k = horizon / (alpha + t_age)
    mode = a / (a + b + x)

    def integrand(p: float) -> float:
        density = np.exp((a - 1) * np.log(p) + (b + x - 1) * np.log1p(-p) - betaln(a, b + x))
        return float(density * -np.expm1(-(r + x) * np.log1p(p * k)) / p)

    alive = _quad(integrand, 0.0, 1.0, points=[mode, min(0.5, 1 / k)])
    p_alive = model.p_alive([x], [t_x], [t_age])[0]
    expected = model.expected_purchases(horizon, [x], [t_x], [t_age])[0]
    assert expected == pytest.approx(p_alive * alive, rel=1e-7)


def test_the_bgnbd_integral_fallback_agrees_with_the_closed_form_where_both_work() -> None:
    a, b, r = 0.793, 2.426, 0.243
    x = np.array([0.0, 1.0, 2.0, 7.0, 30.0])
    k = np.array([0.1, 1.0, 3.0, 0.5, 10.0])
    model = BgNbd(r=r, alpha=1.0, a=a, b=b)
    closed = np.array(
        [model._alive_path(Histories(x[[i]], [0.0], [0.0]), k[[i]])[0, 0] for i in range(5)]
    )
    assert bgnbd_alive_expectation(a, b, r, x, k) == pytest.approx(closed, rel=1e-9)


@pytest.mark.parametrize(
    ("b", "eps", "z"),
    [
        (1000.0, 0.3, 0.9999),  # scipy: NaN
        (1000.0, 1.5, 0.9999),  # scipy: NaN
        (100.0, 50.0, 0.99),  # scipy: inf
        (1.2, 1.0, 0.9999),  # scipy: negative
        (3.0, 2.0, 0.5),  # scipy fine
        (0.5, 0.4, 0.999999),
    ],
)
def test_hypergeometric_terms_are_right_where_scipy_fails(b: float, eps: float, z: float) -> None:
    # Euler: ₂F₁(1, b; b+ε; z) = E[1/(1 − z t)], t ~ Beta(b, ε), here integrated adaptively
    # in u = logit(t) (the code uses a fixed trapezoid there, or the incomplete beta).
    log_1mz = np.log1p(-z)

    def integrand(u: float) -> float:
        softplus = np.logaddexp(0.0, [u, -u, u + log_1mz])
        log_value = -b * softplus[1] - (eps - 1) * softplus[0] - softplus[2] - betaln(b, eps)
        return float(np.exp(log_value))

    mode = np.log(b / eps)
    width = 1 / np.sqrt(b * eps / (b + eps))
    lo = mode - 20 * width - 60 / b
    hi = max(mode + 20 * width, -log_1mz + 10) + 60 / eps
    reference = _quad(integrand, lo, hi, points=[mode, -log_1mz])
    value = log_hyp2f1_unit(np.array([b]), np.array([eps]), np.array([z]))[0]
    assert value == pytest.approx(np.log(reference), rel=1e-8, abs=1e-10)
    if b == 3.0:
        assert value == pytest.approx(np.log(hyp2f1(1, b, b + eps, z)), rel=1e-12)


def test_bgnbd_p_alive_is_one_without_repeat_purchases() -> None:
    model = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)
    assert model.p_alive([0, 0], [0, 0], [1.0, 60.0]) == pytest.approx([1.0, 1.0])


def test_paretonbd_p_alive_matches_the_published_expression() -> None:
    # FH 2005 note eq. 24 for α ≥ β written with the note's own ₂F₁ (fine at these values).
    r, alpha, s, beta = 0.8, 30.0, 2.0, 5.0
    x, t_x, t_age = 3.0, 20.0, 52.0
    m = r + s + x

    def a0_term(tau: float) -> float:
        z = (alpha - beta) / (alpha + tau)
        return float(hyp2f1(m, s + 1, m + 1, z) / (alpha + tau) ** m)

    a0 = a0_term(t_x) - a0_term(t_age)
    published = 1 / (1 + s / m * (alpha + t_age) ** (r + x) * (beta + t_age) ** s * a0)
    model = ParetoNbd(r=r, alpha=alpha, s=s, beta=beta)
    assert model.p_alive([x], [t_x], [t_age])[0] == pytest.approx(published, rel=1e-10)


def test_paretonbd_expected_purchases_are_continuous_through_s_equal_one() -> None:
    values = [
        ParetoNbd(r=0.5, alpha=10.0, s=s, beta=12.0).expected_purchases(39, [2], [30.0], [38.0])[0]
        for s in (1 - 1e-6, 1.0, 1 + 1e-6)
    ]
    assert values[0] == pytest.approx(values[1], rel=1e-5)
    assert values[2] == pytest.approx(values[1], rel=1e-5)


def test_gamma_gamma_expected_spend_is_the_published_weighted_mean() -> None:
    model = GammaGamma(p=6.25, q=3.74, gamma=15.44, population_mean=6.25 * 15.44 / 2.74)
    x, m = 4.0, 50.0
    weight = 6.25 * x / (6.25 * x + 3.74 - 1)
    expected = (1 - weight) * model.population_mean + weight * m
    assert model.expected_spend([x], [m])[0] == pytest.approx(expected, rel=1e-12)
    assert model.expected_spend([0], [0.0])[0] == pytest.approx(model.population_mean)
