"""Large BG/NBD fits finish with quasi-Newton steps from the sample's curvature
(_fitting.maximise_large), or from a later fit's optimum and curvature (a warm start): the
same optimum as L-BFGS-B from the start, to 1e-6."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from patron.analytics.clv import _fitting, fit_bgnbd
from patron.analytics.clv.simulate import simulate_bgnbd_histories


def _histories() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(11)
    customers = 6000
    age = rng.uniform(20.0, 78.0, customers)
    h = simulate_bgnbd_histories(
        customers=customers, r=0.25, alpha=4.4, a=0.8, b=2.4, age=age, seed=11
    )
    return h.frequency, h.recency, h.age


def _plain_fit(x: Any, t_x: Any, t_age: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patch:
        patch.setattr(_fitting, "PRESOLVE_ROWS", 10**12)
        return fit_bgnbd(x, t_x, t_age)


def test_the_quasi_newton_finish_reaches_the_same_optimum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x, t_x, t_age = _histories()
    plain = _plain_fit(x, t_x, t_age, monkeypatch)
    finished: list[Any] = []
    original = _fitting._quasi_newton

    def spy(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        finished.append(result)
        return result

    monkeypatch.setattr(_fitting, "PRESOLVE_ROWS", 2000)
    monkeypatch.setattr(_fitting, "PRESOLVE_SAMPLE", 1000)
    monkeypatch.setattr(_fitting, "_quasi_newton", spy)
    large = fit_bgnbd(x, t_x, t_age)
    assert large.distinct_histories > 2000
    assert finished and finished[0] is not None  # the quasi-Newton path, not the fallback
    assert large.converged and plain.converged
    for name, value in plain.model.parameters().items():
        assert large.model.parameters()[name] == pytest.approx(value, rel=1e-6)
    assert large.log_likelihood == pytest.approx(plain.log_likelihood, rel=1e-12)
    assert large.covariance is not None and plain.covariance is not None
    np.testing.assert_allclose(large.covariance, plain.covariance, rtol=1e-3)


def test_without_a_usable_curvature_the_fit_falls_back_on_lbfgs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x, t_x, t_age = _histories()
    plain = _plain_fit(x, t_x, t_age, monkeypatch)
    monkeypatch.setattr(_fitting, "PRESOLVE_ROWS", 2000)
    monkeypatch.setattr(_fitting, "PRESOLVE_SAMPLE", 1000)
    monkeypatch.setattr(_fitting, "_quasi_newton", lambda *args, **kwargs: None)
    fallback = fit_bgnbd(x, t_x, t_age)
    assert fallback.converged
    for name, value in plain.model.parameters().items():
        assert fallback.model.parameters()[name] == pytest.approx(value, rel=1e-6)


def test_a_warm_start_from_a_later_fit_reaches_the_same_optimum_without_a_sample_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The churn time split fits the same shop at an earlier cut-off: started from the later
    fit and its curvature, the earlier fit needs no sample fit and finds the same optimum."""
    x, t_x, t_age = _histories()
    later = fit_bgnbd(x, t_x, t_age)
    # The same customers 10 weeks earlier: those who had bought by then.
    cut = 10.0
    born = t_age - cut > 0
    earlier_age = t_age[born] - cut
    # Repeat purchases after the earlier cut-off are unknown there; keep those whose last
    # purchase came before it (a rougher history, but a different data set all the same).
    kept = (t_x[born] <= earlier_age) | (x[born] == 0)
    ex, et, ea = x[born][kept], np.minimum(t_x[born][kept], earlier_age[kept]), earlier_age[kept]
    cold = _plain_fit(ex, et, ea, monkeypatch)
    sampled: list[Any] = []
    original = _fitting._sample_optimum

    def spy(*args: Any, **kwargs: Any) -> Any:
        sampled.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(_fitting, "PRESOLVE_ROWS", 2000)
    monkeypatch.setattr(_fitting, "PRESOLVE_SAMPLE", 1000)
    monkeypatch.setattr(_fitting, "_sample_optimum", spy)
    warm = fit_bgnbd(ex, et, ea, with_covariance=False, warm_start=later)
    assert not sampled and warm.converged
    for name, value in cold.model.parameters().items():
        assert warm.model.parameters()[name] == pytest.approx(value, rel=1e-6)
    assert warm.log_likelihood == pytest.approx(cold.log_likelihood, rel=1e-12)


def test_a_warm_start_that_does_not_go_cleanly_falls_back_on_the_sample_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x, t_x, t_age = _histories()
    plain = _plain_fit(x, t_x, t_age, monkeypatch)
    later = fit_bgnbd(x, t_x, t_age)
    monkeypatch.setattr(_fitting, "PRESOLVE_ROWS", 2000)
    monkeypatch.setattr(_fitting, "PRESOLVE_SAMPLE", 1000)
    # A curvature that is not negative definite: the warm path refuses it.
    bad = _fitting.FitResult(
        model=later.model.with_log_params(later.model.log_params() + 0.5),
        log_likelihood=later.log_likelihood,
        customers=later.customers,
        distinct_histories=later.distinct_histories,
        iterations=0,
        converged=True,
        covariance=-np.eye(4),
    )
    fallback = fit_bgnbd(x, t_x, t_age, warm_start=bad)
    assert fallback.converged
    for name, value in plain.model.parameters().items():
        assert fallback.model.parameters()[name] == pytest.approx(value, rel=1e-6)


@pytest.mark.parametrize(
    "parameters", [(0.25, 4.4, 0.8, 2.4), (2.0, 0.5, 0.05, 30.0), (0.03, 80.0, 6.0, 0.4)]
)
def test_the_grouped_log_likelihood_is_the_sum_of_the_customers_with_its_gradient(
    parameters: tuple[float, float, float, float],
) -> None:
    from patron.analytics.clv import bgnbd
    from patron.analytics.clv._common import group_rows

    x, t_x, t_age = _histories()
    (ux, ut, u_age), _, counts = group_rows(x, t_x, t_age)
    rows = bgnbd._Rows.build(ux, ut, u_age, counts)
    theta = np.log(parameters)

    def per_customer(at: np.ndarray) -> float:
        return float(np.sum(bgnbd._log_likelihood(at, bgnbd._Rows.build(x, t_x, t_age))))

    total, gradient = bgnbd._total(theta, rows)
    assert total == pytest.approx(per_customer(theta), rel=1e-13)
    step = 1e-6
    for i in range(4):
        shift = np.zeros(4)
        shift[i] = step
        numeric = (per_customer(theta + shift) - per_customer(theta - shift)) / (2 * step)
        assert gradient[i] == pytest.approx(numeric, rel=1e-5, abs=1e-4)


@pytest.mark.parametrize("hashing", ["real", "leading_bits_shared", "all_shared"])
def test_rows_are_grouped_exactly_whatever_their_hashes_share(
    hashing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """group_rows sorts its hashes' leading bits first, then the whole hashes where two rows
    share those, then the rows themselves where two share a whole hash: the same groups."""
    from patron.analytics.clv import _common

    real = _common._mix64
    if hashing == "leading_bits_shared":  # only the trailing 12 bits differ
        monkeypatch.setattr(_common, "_mix64", lambda z: real(z) & np.uint64(0xFFF))
    elif hashing == "all_shared":
        monkeypatch.setattr(_common, "_mix64", lambda z: z & np.uint64(0))
    x, t_x, t_age = _histories()
    (ux, ut, u_age), inverse, counts = _common.group_rows(x, t_x, t_age)
    found = np.stack([ux, ut, u_age], axis=1)
    expected, expected_counts = np.unique(
        np.stack([x, t_x, t_age], axis=1), axis=0, return_counts=True
    )
    order = np.lexsort((u_age, ut, ux))
    np.testing.assert_array_equal(found[order], expected)
    np.testing.assert_array_equal(counts[order], expected_counts)
    np.testing.assert_array_equal(found[inverse], np.stack([x, t_x, t_age], axis=1))


@pytest.mark.parametrize("parameters", [(6.0, 4.0, 15.0), (0.7, 1.3, 2.0), (40.0, 25.0, 300.0)])
def test_the_spend_log_likelihood_summed_by_terms_is_the_sum_of_the_customers(
    parameters: tuple[float, float, float],
) -> None:
    from patron.analytics.clv import gammagamma

    rng = np.random.default_rng(4)
    x = rng.integers(1, 30, size=4000).astype(np.float64)
    m = rng.gamma(2.0, 40.0, size=4000)
    weights = rng.integers(1, 4, size=4000).astype(np.float64)
    theta = np.log(parameters)

    def per_customer(at: np.ndarray) -> float:
        values, _ = gammagamma._log_likelihood(at, x, m, gradient=False)
        return float(np.sum(weights * values))

    total, gradient = gammagamma._total(theta, gammagamma._Spends.build(x, m, weights))
    assert total == pytest.approx(per_customer(theta), rel=1e-13)
    step = 1e-6
    for i in range(3):
        shift = np.zeros(3)
        shift[i] = step
        numeric = (per_customer(theta + shift) - per_customer(theta - shift)) / (2 * step)
        assert gradient[i] == pytest.approx(numeric, rel=1e-5, abs=1e-4)
