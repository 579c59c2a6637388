"""Calibration/holdout validation: predicted against actual repeat purchases in the holdout.

The papers' check (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way", fig. 5;
Fader & Hardie 2005 Pareto/NBD note): fit on the calibration period, then for each customer
compare E[Y(t*) | x, t_x, T] with the repeat purchases actually made in the t* that
followed, in total and grouped by calibration frequency x = 0, 1, …, 7+.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import orjson

from patron.analytics.clv._common import PurchaseModel
from patron.analytics.clv.summary import CustomerSummary
from patron.core.errors import InvalidInput

# A holdout total further off than this earns a warning in the report.
TOTAL_ERROR_WARNING = 0.10


@dataclass(frozen=True)
class HoldoutBucket:
    """Customers with one calibration frequency (the last bucket: that many or more)."""

    frequency: str
    customers: int
    actual: float
    predicted: float

    @property
    def actual_mean(self) -> float:
        return self.actual / self.customers if self.customers else 0.0

    @property
    def predicted_mean(self) -> float:
        return self.predicted / self.customers if self.customers else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "frequency": self.frequency,
            "customers": self.customers,
            "actual": self.actual,
            "predicted": self.predicted,
            "actual_mean": self.actual_mean,
            "predicted_mean": self.predicted_mean,
        }


@dataclass(frozen=True)
class HoldoutReport:
    """The holdout table for one fitted purchase model, ready for the console."""

    model: str
    parameters: dict[str, float]
    unit: str
    calibration_end: date
    holdout_end: date
    holdout_length: float
    customers: int
    buckets: tuple[HoldoutBucket, ...]
    actual_total: float
    predicted_total: float
    warnings: tuple[str, ...]

    @property
    def relative_error(self) -> float | None:
        """(predicted − actual) / actual for the total; None when nobody bought in the holdout."""
        if self.actual_total == 0:
            return None
        return (self.predicted_total - self.actual_total) / self.actual_total

    def to_dict(self) -> dict[str, Any]:
        """Plain data (str, int, float, lists, dicts) for JSON and the console's model report."""
        return {
            "model": self.model,
            "parameters": dict(self.parameters),
            "unit": self.unit,
            "calibration_end": self.calibration_end.isoformat(),
            "holdout_end": self.holdout_end.isoformat(),
            "holdout_length": self.holdout_length,
            "customers": self.customers,
            "buckets": [bucket.to_dict() for bucket in self.buckets],
            "actual_total": self.actual_total,
            "predicted_total": self.predicted_total,
            "relative_error": self.relative_error,
            "warnings": list(self.warnings),
        }

    def to_json(self) -> str:
        return orjson.dumps(self.to_dict()).decode()


def holdout_report(
    model: PurchaseModel, summary: CustomerSummary, *, top_frequency: int = 7
) -> HoldoutReport:
    """Compare the model's conditional expectations with the holdout, per frequency bucket.

    ``summary`` must have been made with a ``holdout_end``; ``model`` fitted on its
    calibration columns, in the same time unit.
    """
    if summary.holdout_end is None or summary.holdout_length <= 0:
        raise InvalidInput("holdout_end", "the summary has no holdout period to validate against")
    if top_frequency < 1:
        raise InvalidInput("top_frequency", "must be ≥ 1")
    if model.unit != summary.unit:
        raise InvalidInput(
            "unit", f"the model is in {model.unit} but the summary in {summary.unit}"
        )
    predicted = model.expected_purchases(
        summary.holdout_length, summary.frequency, summary.recency, summary.age
    )
    actual = summary.holdout_frequency
    bucket = np.minimum(summary.frequency, top_frequency).astype(np.intp)
    customers = np.bincount(bucket, minlength=top_frequency + 1)
    actual_by = np.bincount(bucket, weights=actual, minlength=top_frequency + 1)
    predicted_by = np.bincount(bucket, weights=predicted, minlength=top_frequency + 1)
    buckets = tuple(
        HoldoutBucket(
            frequency=f"{k}+" if k == top_frequency else str(k),
            customers=int(customers[k]),
            actual=float(actual_by[k]),
            predicted=float(predicted_by[k]),
        )
        for k in range(top_frequency + 1)
    )
    messages: list[str] = []
    actual_total = float(actual.sum())
    predicted_total = float(predicted.sum())
    if actual_total > 0:
        error = (predicted_total - actual_total) / actual_total
        if abs(error) > TOTAL_ERROR_WARNING:
            direction = "over" if error > 0 else "under"
            messages.append(
                f"{model.name} {direction}-forecasts the holdout's repeat purchases by "
                f"{abs(error):.0%} ({predicted_total:.0f} predicted, {actual_total:.0f} actual): "
                "buying changed after calibration (season, campaigns) or the model misfits."
            )
    thin = [b.frequency for b in buckets if 0 < b.customers < 10]
    if thin:
        messages.append(
            f"Buckets {', '.join(thin)} hold fewer than 10 customers: their means are noisy."
        )
    return HoldoutReport(
        model=model.name,
        parameters=model.parameters(),
        unit=summary.unit,
        calibration_end=summary.calibration_end,
        holdout_end=summary.holdout_end,
        holdout_length=summary.holdout_length,
        customers=len(summary),
        buckets=buckets,
        actual_total=actual_total,
        predicted_total=predicted_total,
        warnings=tuple(messages),
    )
