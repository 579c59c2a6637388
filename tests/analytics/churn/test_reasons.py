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
