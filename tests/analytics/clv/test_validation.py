"""The holdout report: buckets, totals, messages and refusals."""

from __future__ import annotations

from datetime import date

import numpy as np
import orjson
import pytest

from patron.analytics.clv import BgNbd, CustomerSummary, ParetoNbd, holdout_report
from patron.core.errors import InvalidInput


def _summary(
    frequency: list[float], holdout: list[float], *, unit: str = "weeks"
) -> CustomerSummary:
    x = np.array(frequency, dtype=np.float64)
    return CustomerSummary(
        customer_ids=np.arange(len(x)),
        frequency=x,
        recency=np.where(x > 0, 20.0, 0.0),
        age=np.full(len(x), 30.0),
        monetary=np.where(x > 0, 10.0, 0.0),
        first_spend=np.full(len(x), 10.0),
        holdout_frequency=np.array(holdout, dtype=np.float64),
        unit=unit,  # type: ignore[arg-type]
        calibration_end=date(2025, 6, 30),
        holdout_end=date(2025, 12, 29),
        holdout_length=26.0,
        customers_first_seen_after_calibration=0,
    )


MODEL = BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)


def test_buckets_add_up_to_the_totals_and_the_last_bucket_holds_the_heavy_buyers() -> None:
    summary = _summary([0, 0, 1, 2, 9, 12], [0, 1, 1, 2, 5, 8])
    report = holdout_report(MODEL, summary, top_frequency=3)
    assert [b.frequency for b in report.buckets] == ["0", "1", "2", "3+"]
    assert [b.customers for b in report.buckets] == [2, 1, 1, 2]
    assert [b.actual for b in report.buckets] == [1, 1, 2, 13]
    assert sum(b.predicted for b in report.buckets) == pytest.approx(report.predicted_total)
    predicted = MODEL.expected_purchases(26.0, summary.frequency, summary.recency, summary.age)
    assert report.predicted_total == pytest.approx(predicted.sum())
    assert report.buckets[3].predicted_mean == pytest.approx(predicted[4:].mean())


def test_an_empty_bucket_reports_zero_means_and_small_buckets_are_flagged() -> None:
    report = holdout_report(MODEL, _summary([0, 0, 2], [0, 0, 1]), top_frequency=2)
    assert report.buckets[1].customers == 0
    assert report.buckets[1].actual_mean == 0.0 and report.buckets[1].predicted_mean == 0.0
    assert any("fewer than 10 customers" in w for w in report.warnings)


def test_a_holdout_nobody_bought_in_has_no_relative_error() -> None:
    report = holdout_report(ParetoNbd(0.553, 10.578, 0.606, 11.669), _summary([0, 1], [0, 0]))
    assert report.relative_error is None
    assert orjson.loads(report.to_json())["relative_error"] is None


def test_a_summary_without_a_holdout_is_refused() -> None:
    summary = _summary([0, 1], [0, 0])
    without = CustomerSummary(
        **{**summary.__dict__, "holdout_end": None, "holdout_length": 0.0}  # type: ignore[arg-type]
    )
    with pytest.raises(InvalidInput) as error:
        holdout_report(MODEL, without)
    assert error.value.field == "holdout_end"


def test_a_model_in_another_time_unit_is_refused() -> None:
    with pytest.raises(InvalidInput) as error:
        holdout_report(MODEL, _summary([0, 1], [0, 0], unit="days"))
    assert error.value.field == "unit"
