"""The churn classifier: logistic regression on standardised features, calibrated on a
separate split, with per-customer contributions for the reasons.

Why logistic regression: its contributions are exact and need no explaining — a customer's
log-odds are intercept + Σ_j coef_j · z_ij with z_ij their standardised deviation from the
training mean, so coef_j · z_ij is how much feature j moves *this* customer's risk, and the
reasons are the largest positive terms. The features are built to be roughly monotone in
risk (logs of ratios and counts), where a linear model loses little to trees, and it fits a
million customers in seconds.

A feature that is undefined for a customer (NaN: no usual gap after one purchase) is set to
the training mean, so it contributes nothing either way.

A shop with more than MAX_TRAINING_CUSTOMERS customers at the training cut-off trains on a
random sample of that many (fixed seed): eight coefficients are pinned down long before
that, and scoring still covers everyone.

Calibration: the classifier is fitted on 70 % of the training customers (drawn per class, so
both keep the churn rate) and a monotone map from its log-odds to probability on the other
30 %: Platt's sigmoid by default, isotonic regression on request. Monotone, so the order and
the reasons are untouched.

Everything here is NumPy (and SciPy's pool-adjacent-violators for isotonic): the fits are
the ones scikit-learn's ``LogisticRegression(solver="newton-cholesky")`` and
``IsotonicRegression`` make — the same objective (log loss plus ‖w‖²/2C, intercept not
penalised) solved by Newton's method to a far tighter tolerance, and the tests check the
coefficients against scikit-learn's to 1e-6 — without importing scikit-learn (about a second
of a nightly run's start) or calling BLAS, whose idle threads spin and compete with the
likelihood threads of clv/_fitting.py. AUC is the Mann–Whitney statistic with tied scores
given their average rank, which is the area under the ROC curve exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.special import expit

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Calibration = Literal["sigmoid", "isotonic"]
CALIBRATION_SHARE = 0.3
MAX_TRAINING_CUSTOMERS = 250_000


@dataclass(frozen=True, eq=False)
class ChurnModel:
    features: tuple[str, ...]
    means: FloatArray
    scales: FloatArray
    coefficients: FloatArray
    intercept: float
    calibration: Calibration
    calibrator: Calibrator
    training_customers: int
    training_churned: int
    calibration_customers: int

    def standardise(self, raw: FloatArray) -> FloatArray:
        z = np.subtract(raw, self.means, dtype=np.float64)
        z /= self.scales
        z[~np.isfinite(z)] = 0.0
        return z

    def contributions(self, raw: FloatArray) -> FloatArray:
        """coef_j · z_ij per customer (rows) and feature (columns), in log-odds."""
        return self.standardise(raw) * self.coefficients

    def log_odds(self, raw: FloatArray) -> FloatArray:
        return np.asarray(self.contributions(raw).sum(axis=1) + self.intercept, dtype=np.float64)

    def predict(self, raw: FloatArray) -> FloatArray:
        """Calibrated P(no purchase in the label window), in [0, 1], never NaN."""
        return _calibrated(self.calibrator, self.log_odds(raw))

    def predict_contributions(self, contributions: FloatArray) -> FloatArray:
        """``predict`` from ``contributions(raw)`` already at hand (scoring also needs them
        for the reasons, and does not compute them twice)."""
        scores = np.asarray(contributions.sum(axis=1) + self.intercept, dtype=np.float64)
        return _calibrated(self.calibrator, scores)

    def describe(self) -> list[dict[str, Any]]:
        return [
            {"feature": f, "coefficient": float(c), "mean": float(m), "scale": float(s)}
            for f, c, m, s in zip(
                self.features, self.coefficients, self.means, self.scales, strict=True
            )
        ]


@dataclass(frozen=True, eq=False)
class Calibrator:
    """The monotone map from the classifier's log-odds to a probability: Platt's sigmoid
    ``expit(slope · s + intercept)``, or the isotonic step function through ``knots`` (its
    breakpoints, ascending, with their ``levels``), linear between them and flat outside."""

    method: Calibration
    slope: float = 0.0
    intercept: float = 0.0
    knots: FloatArray | None = None
    levels: FloatArray | None = None

    def predict(self, scores: FloatArray) -> FloatArray:
        if self.method == "isotonic":
            assert self.knots is not None and self.levels is not None
            inside = np.clip(scores, self.knots[0], self.knots[-1])
            return np.asarray(np.interp(inside, self.knots, self.levels), dtype=np.float64)
        return np.asarray(expit(scores * self.slope + self.intercept), dtype=np.float64)


def _calibrated(calibrator: Calibrator, scores: FloatArray) -> FloatArray:
    p = calibrator.predict(np.asarray(scores, dtype=np.float64))
    return np.clip(np.nan_to_num(np.asarray(p, dtype=np.float64), nan=0.5), 0.0, 1.0)


def _log_loss(design: FloatArray, target: FloatArray, w: FloatArray, ridge: FloatArray) -> float:
    eta = np.einsum("ji,j->i", design, w)
    loss = np.add.reduce(np.logaddexp(0.0, eta) - target * eta)
    return float(loss + 0.5 * np.add.reduce(ridge * w * w))


# Above this many rows the Newton iterations start from the fit on an evenly spaced sample of
# about LOGISTIC_SAMPLE of them: a few full iterations instead of eight.
LOGISTIC_SAMPLE = 20_000
NEWTON_CHECKED = 1e-3


def logistic_fit(
    x: FloatArray, y: BoolArray, *, c: float, max_iterations: int = 100
) -> tuple[FloatArray, float]:
    """(coefficients, intercept) minimising Σ log loss + ‖coefficients‖² / 2c (the intercept
    not penalised): scikit-learn's ``LogisticRegression(C=c)``'s objective. Newton's method
    with a backtracking step, from zero, or for many rows from the optimum on a sample of
    them; stops after a step that moves no parameter by more than 1e-7 (the objective is
    strictly convex and Newton converges quadratically near the optimum, so what is left
    is of the order of that step squared). Products by einsum's own loops over a features × rows copy: no
    BLAS (module doc)."""
    n, k = x.shape
    design = np.empty((k + 1, n))
    design[:k] = x.T
    design[k] = 1.0
    target = np.asarray(y, dtype=np.float64)
    ridge = np.full(k + 1, 1.0 / c)
    ridge[k] = 0.0
    w = np.zeros(k + 1)
    every = n // LOGISTIC_SAMPLE
    if every >= 2:
        sample = np.ascontiguousarray(design[:, ::every])
        w = _newton(sample, target[::every], ridge / every, w, max_iterations)
    w = _newton(design, target, ridge, w, max_iterations)
    return w[:k].copy(), float(w[k])


def _newton(
    design: FloatArray, target: FloatArray, ridge: FloatArray, w: FloatArray, iterations: int
) -> FloatArray:
    """Newton steps from ``w`` (``logistic_fit``). A step is halved while it would raise
    the objective, which is checked unless the step is below NEWTON_CHECKED: that close to
    the optimum Newton converges quadratically and a full step is always a descent."""
    loss: float | None = None
    for _ in range(iterations):
        p = expit(np.einsum("ji,j->i", design, w))
        gradient = np.einsum("ji,i->j", design, p - target) + ridge * w
        hessian = np.einsum("ji,ki->jk", design * (p * (1.0 - p)), design) + np.diag(ridge)
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(hessian, gradient, rcond=None)[0]
        length = 1.0
        if np.abs(step).max() > NEWTON_CHECKED:
            if loss is None:
                loss = _log_loss(design, target, w, ridge)
            while True:
                new_loss = _log_loss(design, target, w - length * step, ridge)
                if new_loss <= loss + 1e-12 * abs(loss) or length < 1e-6:
                    break
                length /= 2
            loss = new_loss
        else:
            loss = None
        w = w - length * step
        # Quadratic convergence: the next step would be about the square of this one.
        if np.abs(length * step).max() <= 1e-7:
            break
    return w


def isotonic_fit(scores: FloatArray, y: BoolArray) -> tuple[FloatArray, FloatArray]:
    """(knots, levels) of the increasing isotonic regression of ``y`` on ``scores``, as
    scikit-learn's ``IsotonicRegression(y_min=0, y_max=1)`` keeps them: the mean of ``y``
    per distinct score, pooled where it would decrease, and only the points where the level
    changes (the others lie on the line between their neighbours)."""
    from scipy.optimize import isotonic_regression

    knots, where, counts = np.unique(scores, return_inverse=True, return_counts=True)
    means = np.bincount(where, weights=np.asarray(y, dtype=np.float64)) / counts
    levels = np.clip(
        np.asarray(isotonic_regression(means, weights=counts.astype(np.float64)).x), 0.0, 1.0
    )
    keep = np.ones(len(levels), dtype=bool)
    keep[1:-1] = (levels[1:-1] != levels[:-2]) | (levels[1:-1] != levels[2:])
    return knots[keep], levels[keep]


def _split(y: BoolArray, seed: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Fit and calibration rows, drawn per class so both keep the churn rate (and, in a
    big shop, a sample of MAX_TRAINING_CUSTOMERS in all)."""
    rng = np.random.default_rng(seed)
    keep = min(1.0, MAX_TRAINING_CUSTOMERS / max(len(y), 1))
    fit_rows, cal_rows = [], []
    for cls in (False, True):
        rows = np.flatnonzero(y == cls)
        rng.shuffle(rows)
        rows = rows[: round(len(rows) * keep)]
        k = round(len(rows) * CALIBRATION_SHARE)
        cal_rows.append(rows[:k])
        fit_rows.append(rows[k:])
    return np.sort(np.concatenate(fit_rows)), np.sort(np.concatenate(cal_rows))


def trainable(y: BoolArray, *, min_customers: int, min_class: int) -> str | None:
    """None if a model can be trained on these labels, else why not (for the report)."""
    churned = int(y.sum())
    stayed = len(y) - churned
    if len(y) < min_customers:
        return f"only {len(y)} customers at the training cut-off (at least {min_customers} needed)"
    if churned < min_class or stayed < min_class:
        return (
            f"{churned} churned and {stayed} retained customers at the training cut-off "
            f"(at least {min_class} of each needed)"
        )
    return None


def train(
    raw: FloatArray,
    y: BoolArray,
    *,
    features: tuple[str, ...],
    calibration: Calibration = "sigmoid",
    seed: int = 0,
) -> ChurnModel:
    """Fit the classifier and its calibration (check ``trainable`` first)."""
    finite = np.isfinite(raw)
    # Infinities count as missing, as NaN does. The means are np.nanmean's own arithmetic
    # (the sum with the missing as 0 over the count of the others), on the copy that then
    # takes the means in the missing places.
    z = np.where(finite, raw, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.sum(z, axis=0) / np.sum(finite, axis=0, dtype=np.intp)
    means = np.where(np.isfinite(means), means, 0.0)
    np.copyto(z, np.broadcast_to(means, z.shape), where=~finite)
    del finite
    scales = z.std(axis=0)
    scales = np.where(scales > 1e-12, scales, 1.0)
    z -= means
    z /= scales
    fit_rows, cal_rows = _split(y, seed)
    coefficients, intercept = logistic_fit(z[fit_rows], y[fit_rows], c=1.0)
    cal_scores = np.einsum("ij,j->i", z[cal_rows], coefficients) + intercept
    if calibration == "isotonic":
        knots, levels = isotonic_fit(cal_scores, y[cal_rows])
        calibrator = Calibrator("isotonic", knots=knots, levels=levels)
    else:
        [slope], offset = logistic_fit(cal_scores[:, None], y[cal_rows], c=1e6)
        calibrator = Calibrator("sigmoid", slope=float(slope), intercept=offset)
    return ChurnModel(
        features=features,
        means=means,
        scales=scales,
        coefficients=coefficients,
        intercept=intercept,
        calibration=calibration,
        calibrator=calibrator,
        training_customers=len(fit_rows) + len(cal_rows),
        training_churned=int(y[fit_rows].sum() + y[cal_rows].sum()),
        calibration_customers=len(cal_rows),
    )


def auc(y: BoolArray, score: FloatArray) -> float | None:
    """ROC AUC, or None when only one class is present: the Mann–Whitney statistic, tied
    scores at their average rank (module doc)."""
    if y.all() or not y.any():
        return None
    _, where, counts = np.unique(score, return_inverse=True, return_counts=True)
    ranks = np.cumsum(counts) - (counts - 1) / 2.0
    positive = int(y.sum())
    negative = len(y) - positive
    above = float(np.add.reduce(ranks[where][y])) - positive * (positive + 1) / 2.0
    return above / (positive * negative)


def brier(y: BoolArray, risk: FloatArray) -> float:
    """Mean squared difference between the outcome (1 churned) and the risk."""
    return float(np.mean((np.asarray(y, dtype=np.float64) - risk) ** 2))


def calibration_table(y: BoolArray, risk: FloatArray, bins: int = 10) -> list[dict[str, Any]]:
    """Customers, mean predicted risk and observed churn rate per tenth of the risk scale."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, risk, side="right") - 1, 0, bins - 1)
    table = []
    for b in range(bins):
        rows = which == b
        n = int(rows.sum())
        table.append(
            {
                "from": float(edges[b]),
                "to": float(edges[b + 1]),
                "customers": n,
                "mean_risk": float(risk[rows].mean()) if n else None,
                "churn_rate": float(y[rows].mean()) if n else None,
            }
        )
    return table


def evaluate(y: BoolArray, risk: FloatArray, p_alive: FloatArray) -> dict[str, Any]:
    """Holdout figures of the risk, next to 1 − P(alive) alone."""
    alone = 1.0 - p_alive
    return {
        "customers": len(y),
        "churned": int(y.sum()),
        "churn_rate": float(y.mean()) if len(y) else None,
        "auc": auc(y, risk),
        "auc_p_alive": auc(y, alone),
        "brier": brier(y, risk) if len(y) else None,
        "brier_p_alive": brier(y, alone) if len(y) else None,
        "calibration": calibration_table(y, risk),
    }
