"""Churn reasons and suggested actions, rendered in plain Chinese and English.

A reason is a code with the numbers that justify it (``long_gap`` with ``ratio=3``); an
action is a code for what staff or a journey can do about it. Both are plain data so the
console, the API and the journeys render them the same way, and the texts are pure
functions of (code, numbers) — tested without a database (STYLE 9, 18).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Language = Literal["zh-CN", "en"]
LANGUAGES: tuple[Language, ...] = ("zh-CN", "en")


@dataclass(frozen=True)
class Reason:
    """One reason a customer is at risk: its code, the numbers, the action suggested."""

    code: str
    numbers: Mapping[str, float | int] = field(default_factory=dict)
    action: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "numbers": dict(self.numbers), "action": self.action}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reason:
        return cls(
            code=str(data["code"]),
            numbers=dict(data.get("numbers") or {}),
            action=str(data.get("action") or ""),
        )


# zh-CN and en templates per reason code; {name} placeholders are filled from the numbers,
# formatted by _number (whole numbers without decimals, "3" not "3.0").
REASON_TEXTS: dict[str, dict[Language, str]] = {
    "long_gap": {
        "zh-CN": "购买间隔已是平时的{ratio}倍（已{days}天未购买，平时约{usual_days}天一次）",
        "en": (
            "It has been {ratio}× their usual gap since the last purchase "
            "({days} days, against about {usual_days} usually)"
        ),
    },
    "no_recent_purchase": {
        "zh-CN": "已有{days}天未购买",
        "en": "No purchase for {days} days",
    },
    "frequency_drop": {
        "zh-CN": "近90天购买{recent}次，以往同期约{usual}次",
        "en": "{recent} purchases in the last 90 days, against about {usual} before",
    },
    "spend_drop": {
        "zh-CN": "最近3次平均消费比以往下降了{percent}%",
        "en": "Average spend of the last 3 purchases is down {percent}% on before",
    },
    "refunds": {
        "zh-CN": "退款金额占消费的{percent}%",
        "en": "Refunds are {percent}% of what they paid",
    },
    "low_p_alive": {
        "zh-CN": "按购买规律估计仍在活跃的概率仅{percent}%",
        "en": "Their buying pattern gives only a {percent}% chance they are still active",
    },
    "new_customer": {
        "zh-CN": "首次购买仅在{days}天前，尚未形成习惯",
        "en": "First purchase only {days} days ago: no habit formed yet",
    },
    "single_purchase": {
        "zh-CN": "只购买过1次",
        "en": "Has bought only once",
    },
    "complaints": {
        "zh-CN": "近90天投诉了{count}次",
        "en": "Complained {count} times in the last 90 days",
    },
    "open_tickets": {
        "zh-CN": "有{count}张售后工单尚未解决",
        "en": "{count} service tickets are still open",
    },
    "sla_breaches": {
        "zh-CN": "近90天有{count}张工单超出服务时限",
        "en": "{count} of their tickets broke the service level in the last 90 days",
    },
    "low_csat": {
        "zh-CN": "近90天有{count}次满意度评分为1-2分",
        "en": "Rated their satisfaction 1-2 out of 5 {count} times in the last 90 days",
    },
    "detractor": {
        "zh-CN": "近90天有{count}次推荐意愿评分在6分及以下",
        "en": "Scored 6 or less on recommending us {count} times in the last 90 days",
    },
}

ACTION_TEXTS: dict[str, dict[Language, str]] = {
    "win_back_coupon": {"zh-CN": "发放回流优惠券", "en": "Send a win-back coupon"},
    "care_message": {"zh-CN": "发送关怀消息", "en": "Send a we-miss-you message"},
    "store_manager_call": {"zh-CN": "店长电话回访", "en": "Store manager calls"},
    "personalised_offer": {
        "zh-CN": "推送个性化商品推荐",
        "en": "Send personalised product recommendations",
    },
    "service_follow_up": {
        "zh-CN": "客服回访了解退款原因",
        "en": "Customer service follows up on the refunds",
    },
    "second_purchase_offer": {
        "zh-CN": "发放新客复购优惠",
        "en": "Send a second-purchase offer",
    },
    "service_recovery": {
        "zh-CN": "客服致歉回访并给予补偿",
        "en": "Customer service apologises and makes amends",
    },
    "resolve_ticket": {
        "zh-CN": "尽快解决未结工单",
        "en": "Resolve the open tickets first",
    },
}


def _number(value: float | int) -> str:
    """3 → "3", 2.5 → "2.5", 1234.0 → "1234": one decimal at most, none when whole."""
    rounded = round(float(value), 1)
    if rounded == int(rounded):
        return str(int(rounded))
    return f"{rounded:.1f}"


def render_reason(code: str, numbers: Mapping[str, float | int], language: Language) -> str:
    """The reason's text in ``language``; an unknown code or language is a KeyError naming it."""
    if language not in LANGUAGES:
        raise KeyError(f"language {language!r}: must be one of {', '.join(LANGUAGES)}")
    try:
        template = REASON_TEXTS[code][language]
    except KeyError:
        raise KeyError(f"reason code {code!r} has no text") from None
    return template.format(**{k: _number(v) for k, v in numbers.items()})


def render_action(code: str, language: Language) -> str:
    if language not in LANGUAGES:
        raise KeyError(f"language {language!r}: must be one of {', '.join(LANGUAGES)}")
    try:
        return ACTION_TEXTS[code][language]
    except KeyError:
        raise KeyError(f"action code {code!r} has no text") from None


def describe(reason: Reason, language: Language) -> dict[str, str]:
    """A reason as the console shows it: {code, text, action, action_text}."""
    return {
        "code": reason.code,
        "text": render_reason(reason.code, reason.numbers, language),
        "action": reason.action,
        "action_text": render_action(reason.action, language) if reason.action else "",
    }
