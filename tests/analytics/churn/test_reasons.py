"""Reason and action texts in zh-CN and English: pure functions of (code, numbers)."""

from __future__ import annotations

import string
from datetime import date, timedelta

import numpy as np
import pytest

from patron.analytics.churn.features import FEATURES, compute_columns, store_tables
from patron.analytics.churn.reasons import (
    ACTION_TEXTS,
    LANGUAGES,
    REASON_TEXTS,
    Reason,
    describe,
    render_action,
    render_reason,
)
from tests.analytics.churn.helpers import Shop

AS_OF = date(2025, 6, 30)


@pytest.mark.parametrize(
    ("code", "numbers", "zh", "en"),
    [
        (
            "long_gap",
            {"ratio": 3, "days": 45, "usual_days": 15},
            "购买间隔已是平时的3倍（已45天未购买，平时约15天一次）",
            "It has been 3× their usual gap since the last purchase (45 days, against about "
            "15 usually)",
        ),
        (
            "frequency_drop",
            {"recent": 1, "usual": 4.5},
            "近90天购买1次，以往同期约4.5次",
            "1 purchases in the last 90 days, against about 4.5 before",
        ),
        ("refunds", {"percent": 35}, "退款金额占消费的35%", "Refunds are 35% of what they paid"),
        ("no_recent_purchase", {"days": 120}, "已有120天未购买", "No purchase for 120 days"),
        ("single_purchase", {}, "只购买过1次", "Has bought only once"),
    ],
)
def test_reasons_read_in_both_languages(
    code: str, numbers: dict[str, float], zh: str, en: str
) -> None:
    assert render_reason(code, numbers, "zh-CN") == zh
    assert render_reason(code, numbers, "en") == en


def test_numbers_show_whole_values_without_decimals() -> None:
    assert render_reason("long_gap", {"ratio": 3.0, "days": 30.0, "usual_days": 10.04}, "en") == (
        "It has been 3× their usual gap since the last purchase (30 days, against about 10 usually)"
    )
    assert "2.5倍" in render_reason(
        "long_gap", {"ratio": 2.5, "days": 25, "usual_days": 10}, "zh-CN"
    )


def test_actions_read_in_both_languages() -> None:
    assert render_action("win_back_coupon", "zh-CN") == "发放回流优惠券"
    assert render_action("win_back_coupon", "en") == "Send a win-back coupon"
    assert render_action("store_manager_call", "zh-CN") == "店长电话回访"
    assert render_action("store_manager_call", "en") == "Store manager calls"


def test_every_registered_feature_has_texts_filled_by_exactly_its_numbers() -> None:
    shop = Shop()
    shop.customer(1)
    for back in (300, 200, 150, 120, 100):
        shop.order(1, AS_OF - timedelta(days=back), 9000, refund=1000)
    con = shop.connect()
    columns = compute_columns(con, cutoff=AS_OF, tables=store_tables(con))
    columns["p_alive"] = np.array([0.4])
    for feature in FEATURES:
        numbers = {k: float(v[0]) for k, v in feature.numbers(columns).items()}
        for language in LANGUAGES:
            template = REASON_TEXTS[feature.reason][language]
            placeholders = {f for _, f, _, _ in string.Formatter().parse(template) if f}
            assert placeholders == set(numbers), (feature.name, language)
            assert render_reason(feature.reason, numbers, language)
            assert ACTION_TEXTS[feature.action][language]


def test_unknown_codes_and_languages_are_named_in_the_error() -> None:
    with pytest.raises(KeyError, match="no_such_reason"):
        render_reason("no_such_reason", {}, "en")
    with pytest.raises(KeyError, match="fr"):
        render_action("win_back_coupon", "fr")


def test_a_reason_round_trips_through_json_and_describes_itself() -> None:
    reason = Reason(code="refunds", numbers={"percent": 40}, action="service_follow_up")
    again = Reason.from_json(reason.to_json())
    assert again == reason
    assert describe(again, "zh-CN") == {
        "code": "refunds",
        "text": "退款金额占消费的40%",
        "action": "service_follow_up",
        "action_text": "客服回访了解退款原因",
    }


def _reference_top(strength: np.ndarray, k: int) -> np.ndarray:
    """The top three by a stable sort on −strength (registry order among equals), k where
    none is left: what the reasons are chosen by."""
    order = np.argsort(-strength, axis=1, kind="stable")[:, :3]
    chosen = np.take_along_axis(strength, order, axis=1)
    return np.where(np.isfinite(chosen), order, k)


@pytest.mark.parametrize("with_model", [True, False])
def test_top_reasons_are_the_strongest_three_with_ties_in_registry_order(
    with_model: bool,
) -> None:
    from patron.analytics.churn.scoring import _top_reasons

    features = list(FEATURES[:6])
    k = len(features)
    rng = np.random.default_rng(5)
    n = 400
    # Every condition holds for everyone, so the contributions alone choose.
    columns = {
        "customer_id": np.arange(n, dtype=np.int64),
        "p_alive": np.full(n, 0.1),
        "median_gap_days": np.full(n, 10.0),
        "days_since_last": np.full(n, 100.0),
        "recent_purchase_days": np.zeros(n),
        "earlier_purchase_days": np.full(n, 20.0),
        "earlier_span_days": np.full(n, 200.0),
        "latest_mean_fen": np.full(n, 10.0),
        "earlier_mean_fen": np.full(n, 100.0),
        "purchase_days": np.full(n, 21.0),
        "paid_fen": np.full(n, 100.0),
        "refunded_fen": np.full(n, 50.0),
    }
    # Whole numbers from a few values: many ties; negative ones never count.
    contributions = rng.integers(-1, 3, size=(n, k)).astype(np.float64)
    direction = np.array([f.direction for f in features], dtype=np.float64)
    # z on either side of the mean (or at it): only the side a reason speaks of counts.
    z = rng.integers(-1, 2, size=(n, k)).astype(np.float64) * 0.5
    # Copies: _top_reasons writes over the arrays it is given.
    standardised = (z.copy(), contributions.copy()) if with_model else None
    reasons, _, _ = _top_reasons(columns, features, standardised)
    if with_model:
        raises = (contributions > 0) & (z * direction > 0)
        strength = np.where(raises, contributions, -np.inf)
    else:
        strength = np.tile(np.arange(k, 0, -1, dtype=np.float64), (n, 1))
    expected = _reference_top(strength, k)
    codes = [f.reason for f in features] + [None]
    for slot in range(3):
        got = [r if isinstance(r, str) else None for r in reasons[slot].tolist()]
        assert got == [codes[i] for i in expected[:, slot]]
    if with_model:
        assert (expected == k).any() and (expected[:, 0] < k).any()
