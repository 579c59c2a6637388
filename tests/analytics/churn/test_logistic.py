"""The churn model's own logistic regression and AUC agree with scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from patron.analytics.churn.model import _logistic, auc


def _data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 6)) * np.array([1.0, 3.0, 0.2, 1.0, 5.0, 1.0])
    truth = np.array([0.8, -0.2, 2.0, 0.0, 0.1, -1.1])
    y = rng.random(rows) < 1 / (1 + np.exp(-(x @ truth - 0.4)))
    return x, y


@pytest.mark.parametrize("c", [1.0, 1e6])
def test_the_fit_is_scikit_learns_optimum(c: float) -> None:
    x, y = _data(4000, 3)
    coefficients, intercept = _logistic(x, y, c=c)
    # scikit-learn's own stopping rule is looser; tightened it reaches the same optimum.
    reference = LogisticRegression(C=c, solver="newton-cholesky", tol=1e-12, max_iter=200)
    reference.fit(x, y)
    np.testing.assert_allclose(coefficients, reference.coef_[0], rtol=1e-7, atol=1e-9)
    assert intercept == pytest.approx(float(reference.intercept_[0]), rel=1e-7, abs=1e-9)


def test_auc_is_the_area_under_the_roc_curve_ties_included() -> None:
    x, y = _data(3000, 5)
    score = np.round(x[:, 0], 1)  # many ties
    assert auc(y, score) == pytest.approx(roc_auc_score(y, score), rel=1e-12)
    assert auc(y, x[:, 2]) == pytest.approx(roc_auc_score(y, x[:, 2]), rel=1e-12)
    assert auc(np.ones(5, dtype=bool), np.arange(5.0)) is None
