"""Per-customer summaries from a transactions table: conventions and input errors."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pytest

from patron.analytics.clv import CustomerSummary, summarise_transactions
from patron.core.errors import InvalidInput


def _summary(rows: list[tuple[str, str, float]], **kwargs: Any) -> CustomerSummary:
    ids, dates, spend = zip(*rows, strict=True)
    options: dict[str, Any] = {"calibration_end": "2025-03-31", "unit": "days"}
    options.update(kwargs)
    return summarise_transactions(
        customer_ids=list(ids), purchased_on=list(dates), spend=list(spend), **options
    )


def test_several_transactions_on_one_day_count_as_one_purchase_with_their_spend_summed() -> None:
    summary = _summary(
        [
            ("c1", "2025-01-01", 1000),
            ("c1", "2025-01-11", 300),
            ("c1", "2025-01-11", 500),
            ("c1", "2025-01-21", 200),
        ]
    )
    assert summary.frequency.tolist() == [2]
    assert summary.recency.tolist() == [20]
    assert summary.age.tolist() == [89]  # 2025-01-01 → 2025-03-31
    assert summary.monetary.tolist() == [500]  # (800 + 200) / 2, first purchase left out
    assert summary.first_spend.tolist() == [1000]


def test_recency_and_age_are_measured_from_each_customers_first_purchase_in_weeks() -> None:
    summary = _summary(
        [("a", "1997-01-01", 10), ("a", "1997-08-02", 10), ("b", "1997-03-25", 5)],
        calibration_end=date(1997, 9, 30),
        unit="weeks",
    )
    assert summary.customer_ids.tolist() == ["a", "b"]
    assert summary.age.tolist() == pytest.approx([272 / 7, 189 / 7])
    assert summary.recency.tolist() == pytest.approx([213 / 7, 0.0])
    assert summary.frequency.tolist() == [1, 0]
    assert summary.monetary.tolist() == [10, 0]


def test_holdout_purchases_are_counted_after_calibration_up_to_the_holdout_end() -> None:
    summary = _summary(
        [
            ("a", "2025-01-01", 1),
            ("a", "2025-03-31", 1),  # last calibration day
            ("a", "2025-04-01", 1),
            ("a", "2025-04-01", 1),  # same day: one purchase
            ("a", "2025-06-30", 1),  # holdout end, included
            ("a", "2025-07-01", 1),  # after the holdout: ignored
        ],
        holdout_end="2025-06-30",
    )
    assert summary.frequency.tolist() == [1]
    assert summary.holdout_frequency.tolist() == [2]
    assert summary.holdout_length == 91


def test_customers_first_seen_after_calibration_are_left_out_and_counted() -> None:
    summary = _summary(
        [("old", "2025-01-05", 1), ("new", "2025-04-02", 1), ("late", "2025-09-01", 1)],
        holdout_end="2025-06-30",
    )
    assert summary.customer_ids.tolist() == ["old"]
    assert summary.customers_first_seen_after_calibration == 2


def test_refunds_net_against_the_day_and_can_leave_a_negative_mean_spend() -> None:
    summary = _summary(
        [("a", "2025-01-01", 500), ("a", "2025-02-01", 300), ("a", "2025-02-01", -700)]
    )
    assert summary.frequency.tolist() == [1]
    assert summary.monetary.tolist() == [-400]


def test_integer_fen_spend_stays_in_fen() -> None:
    summary = _summary([("a", "2025-01-01", 1999), ("a", "2025-01-05", 2001)])
    assert summary.monetary.tolist() == [2001.0]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"purchased_on": ["2025-01-01", "not a date"]}, "purchased_on"),
        ({"purchased_on": ["2025-01-01"]}, "purchased_on"),
        ({"spend": [1.0, float("nan")]}, "spend"),
        ({"spend": [1.0]}, "spend"),
        ({"calibration_end": "someday"}, "calibration_end"),
        ({"holdout_end": "2025-01-01"}, "holdout_end"),
        ({"unit": "months"}, "unit"),
    ],
)
def test_bad_transactions_are_rejected_with_the_field_named(
    kwargs: dict[str, Any], field: str
) -> None:
    arguments: dict[str, Any] = {
        "customer_ids": ["a", "a"],
        "purchased_on": ["2025-01-01", "2025-01-02"],
        "spend": [1.0, 2.0],
        "calibration_end": "2025-03-31",
        "unit": "days",
    }
    arguments.update(kwargs)
    with pytest.raises(InvalidInput) as error:
        summarise_transactions(**arguments)
    assert error.value.field == field


def test_an_empty_table_gives_an_empty_summary() -> None:
    summary = summarise_transactions(
        customer_ids=np.array([], dtype=np.int64),
        purchased_on=np.array([], dtype="datetime64[D]"),
        spend=np.array([]),
        calibration_end="2025-03-31",
    )
    assert len(summary) == 0
