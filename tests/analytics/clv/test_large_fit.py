"""Large BG/NBD fits finish with quasi-Newton steps from the sample's curvature
(_fitting.maximise_large): the same optimum as L-BFGS-B from the start, to 1e-6."""

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
