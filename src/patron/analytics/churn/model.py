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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

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
    calibrator: Any
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
        return _calibrated(self.calibrator, self.calibration, self.log_odds(raw))

    def predict_contributions(self, contributions: FloatArray) -> FloatArray:
        """``predict`` from ``contributions(raw)`` already at hand (scoring also needs them
        for the reasons, and does not compute them twice)."""
        scores = np.asarray(contributions.sum(axis=1) + self.intercept, dtype=np.float64)
        return _calibrated(self.calibrator, self.calibration, scores)

    def describe(self) -> list[dict[str, Any]]:
        return [
            {"feature": f, "coefficient": float(c), "mean": float(m), "scale": float(s)}
            for f, c, m, s in zip(
                self.features, self.coefficients, self.means, self.scales, strict=True
            )
        ]


def _calibrated(calibrator: Any, method: Calibration, scores: FloatArray) -> FloatArray:
    column = scores.reshape(-1, 1)
    if method == "isotonic":
        p = calibrator.predict(scores)
    else:
        p = calibrator.predict_proba(column)[:, 1]
    return np.clip(np.nan_to_num(np.asarray(p, dtype=np.float64), nan=0.5), 0.0, 1.0)


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
    # scikit-learn loads here, not at import: the service and the tables import this package.
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    means = np.nanmean(np.where(np.isfinite(raw), raw, np.nan), axis=0)
    means = np.where(np.isfinite(means), means, 0.0)
    filled = np.where(np.isfinite(raw), raw, means)
    scales = filled.std(axis=0)
    scales = np.where(scales > 1e-12, scales, 1.0)
    z = (filled - means) / scales
    fit_rows, cal_rows = _split(y, seed)
    # Newton steps with a Cholesky solve: exact and a few iterations for a handful of features.
    classifier = LogisticRegression(C=1.0, solver="newton-cholesky", max_iter=100)
    classifier.fit(z[fit_rows], y[fit_rows])
    coefficients = np.asarray(classifier.coef_[0], dtype=np.float64)
    intercept = float(classifier.intercept_[0])
    cal_scores = z[cal_rows] @ coefficients + intercept
    calibrator: Any
    if calibration == "isotonic":
        calibrator = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        calibrator.fit(cal_scores, y[cal_rows].astype(np.float64))
    else:
        calibrator = LogisticRegression(C=1e6, solver="newton-cholesky", max_iter=100)
        calibrator.fit(cal_scores.reshape(-1, 1), y[cal_rows])
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
    """ROC AUC, or None when only one class is present."""
    from sklearn.metrics import roc_auc_score

    if y.all() or not y.any():
        return None
    return float(roc_auc_score(y, score))


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
    from sklearn.metrics import brier_score_loss

    alone = 1.0 - p_alive
    return {
        "customers": len(y),
        "churned": int(y.sum()),
        "churn_rate": float(y.mean()) if len(y) else None,
        "auc": auc(y, risk),
        "auc_p_alive": auc(y, alone),
        "brier": float(brier_score_loss(y, risk)) if len(y) else None,
        "brier_p_alive": float(brier_score_loss(y, alone)) if len(y) else None,
        "calibration": calibration_table(y, risk),
    }
