"""The journeys Patron ships: on in the demo, off elsewhere until a marketer switches them
on (docs/journeys.md). Installing them again adds only what is missing: their message
templates, coupon templates, the win-back audience and the journeys themselves."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from patron import audiences, loyalty
from patron.audiences import service as audience_service
from patron.audiences.schemas import AudienceCreate
from patron.campaigns import templates as campaign_templates
from patron.campaigns.schemas import TemplateIn
from patron.core.actor import Actor
from patron.core.errors import InvalidInput
from patron.journeys import service
from patron.journeys.schemas import JourneyIn

WIN_BACK_AUDIENCE = "旅程：流失预警与沉睡会员"


@dataclass(frozen=True)
class Shipped:
    code: str
    name: str
    trigger: dict[str, Any]
    steps: list[dict[str, Any]]  # "sms"/"email" name a template of MESSAGES by key
    reentry: str = "after_exit"
    reentry_days: int = 0
    goal: str | None = "purchase"
    holdout_percent: float = 10
    coupon: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# Message templates: key → (Chinese, English); SMS texts say how to stop them (退订).
MESSAGES: dict[str, tuple[str, str]] = {
    "birthday": (
        "{{ name }}，生日快乐！送您生日券 {{ coupon_code }}，30 天内到{{ store }}使用。回复TD退订",
        "Happy birthday, {{ name }}! Your birthday coupon {{ coupon_code }} is valid for 30 days at {{ store }}. Reply STOP to opt out",
    ),
    "spring_festival": (
        "{{ name }}，新春快乐！{{ store }}恭祝您阖家幸福、万事如意。回复TD退订",
        "Happy Spring Festival, {{ name }}! Best wishes from {{ store }}. Reply STOP to opt out",
    ),
    "mid_autumn": (
        "{{ name }}，中秋快乐！月圆人团圆，{{ store }}祝您佳节安康。回复TD退订",
        "Happy Mid-Autumn Festival, {{ name }}, from {{ store }}. Reply STOP to opt out",
    ),
    "member_day": (
        "{{ name }}，今天是会员日，积分加倍，{{ store }}等您来。回复TD退订",
        "{{ name }}, today is members' day: double points at {{ store }}. Reply STOP to opt out",
    ),
    "thank_you": (
        "{{ name }}，感谢您在{{ store }}购物！有任何问题请随时联系我们。回复TD退订",
        "Thank you for shopping at {{ store }}, {{ name }}! Reply STOP to opt out",
    ),
    "replenish": (
        "{{ name }}，您常买的商品快用完了吧？{{ store }}已为您备好。回复TD退订",
        "{{ name }}, running low on your usual? {{ store }} has it ready. Reply STOP to opt out",
    ),
    "cart": (
        "{{ name }}，您的购物车还有商品等您结算，库存有限哦。回复TD退订",
        "{{ name }}, the items in your cart are waiting for you. Reply STOP to opt out",
    ),
    "win_back": (
        "{{ name }}，好久不见！送您回归券 {{ coupon_code }}，{{ store }}期待您再来。回复TD退订",
        "We miss you, {{ name }}! Coupon {{ coupon_code }} is yours at {{ store }}. Reply STOP to opt out",
    ),
    "churn_offer": (
        "{{ name }}，感谢您一直以来的支持，专属券 {{ coupon_code }} 已放入您的账户。回复TD退订",
        "{{ name }}, thank you for being with us: coupon {{ coupon_code }} is in your account. Reply STOP to opt out",
    ),
    "points_expiring": (
        "{{ name }}，您有积分将在 30 天内到期，快来{{ store }}使用吧。回复TD退订",
        "{{ name }}, some of your points expire within 30 days: use them at {{ store }}. Reply STOP to opt out",
    ),
    "tier_up": (
        "恭喜{{ name }}升级为{{ tier }}会员！更多权益等您享受。回复TD退订",
        "Congratulations {{ name }}, you are now {{ tier }}! Reply STOP to opt out",
    ),
    "tier_at_risk": (
        "{{ name }}，您的{{ tier }}会员等级即将到期，近期消费即可保级。回复TD退订",
        "{{ name }}, your {{ tier }} level is due for review: a purchase soon keeps it. Reply STOP to opt out",
    ),
}


def _send(key: str) -> dict[str, Any]:
    return {"kind": "send", "templates": {"sms": key}}


SHIPPED: tuple[Shipped, ...] = (
    Shipped(
        "birthday",
        "生日祝福与生日券",
        {"kind": "birthday", "at": "10:00"},
        [{"kind": "coupon", "template_code": "J-BIRTHDAY"}, _send("birthday")],
        reentry_days=300,
        coupon={"code": "J-BIRTHDAY", "name": "生日券", "amount_off_fen": 2000},
    ),
    Shipped(
        "spring_festival",
        "春节祝福",
        {"kind": "holiday", "festival": "spring_festival", "at": "09:00"},
        [_send("spring_festival")],
        reentry_days=300,
    ),
    Shipped(
        "mid_autumn",
        "中秋祝福",
        {"kind": "holiday", "festival": "mid_autumn", "at": "09:00"},
        [_send("mid_autumn")],
        reentry_days=300,
    ),
    Shipped(
        "member_day",
        "会员日提醒",
        {"kind": "member_day", "at": "09:00"},
        [_send("member_day")],
        goal="purchase",
    ),
    Shipped(
        "post_purchase",
        "购物感谢",
        {"kind": "event", "event": "order.created"},
        [{"kind": "wait", "hours": 2}, _send("thank_you")],
        reentry_days=30,
        goal=None,
        holdout_percent=0,
    ),
    Shipped(
        "replenishment",
        "补货提醒",
        {"kind": "replenishment", "at": "10:00"},
        [_send("replenish")],
        reentry_days=7,
    ),
    Shipped(
        "abandoned_cart",
        "购物车挽回",
        {"kind": "event", "event": "cart_add"},
        [
            {
                "kind": "wait_event",
                "event": "order.created",
                "timeout_hours": 2,
                "timeout_goto": "remind",
            },
            {"kind": "exit"},
            {**_send("cart"), "key": "remind"},
        ],
        reentry_days=1,
    ),
    Shipped(
        "win_back",
        "沉睡会员唤回",
        {"kind": "segment", "audience_id": "win_back", "on": "entry", "at": "10:00"},
        [{"kind": "coupon", "template_code": "J-WINBACK"}, _send("win_back")],
        reentry_days=90,
        coupon={"code": "J-WINBACK", "name": "回归券", "amount_off_fen": 3000},
    ),
    Shipped(
        "churn_risk",
        "流失预警回访",
        {"kind": "event", "event": "customer.churn_risk_high"},
        [
            {"kind": "task", "title": "流失预警：请致电回访该会员"},
            {"kind": "coupon", "template_code": "J-CARE"},
            _send("churn_offer"),
        ],
        reentry_days=60,
        coupon={"code": "J-CARE", "name": "关怀券", "amount_off_fen": 3000},
    ),
    Shipped(
        "points_expiring",
        "积分到期提醒",
        {"kind": "event", "event": "points.expiring"},
        [_send("points_expiring")],
        reentry_days=25,
    ),
    Shipped(
        "tier_upgrade",
        "升级祝贺",
        {"kind": "event", "event": "tier.changed", "where": {"direction": "up"}},
        [_send("tier_up")],
        goal=None,
        holdout_percent=0,
    ),
    Shipped(
        "tier_at_risk",
        "保级提醒",
        {"kind": "event", "event": "tier.at_risk"},
        [_send("tier_at_risk")],
        reentry_days=25,
    ),
)


def _template_id(session: Session, key: str, actor: Actor, known: dict[str, int]) -> int:
    name = f"旅程：{key}"
    if name in known:
        return known[name]
    zh, en = MESSAGES[key]
    template = campaign_templates.create_template(
        session=session,
        template_in=TemplateIn(name=name, channel="sms", text_zh=zh, text_en=en),
        actor=actor,
    )
    known[name] = template.id
    return template.id


def _coupon_template(session: Session, coupon: dict[str, Any]) -> None:
    template_in = loyalty.CouponTemplateCreate.model_validate(
        {
            **coupon,
            "kind": "amount_off",
            "valid_days": 30,
            "threshold_fen": coupon["amount_off_fen"] * 5,
        }
    )
    try:
        with session.begin_nested():
            loyalty.create_coupon_template(session=session, template_in=template_in)
    except InvalidInput:
        pass  # there already


def _win_back_audience(session: Session, actor: Actor) -> int:
    for audience in audience_service.list_audiences(session=session):
        if audience.name == WIN_BACK_AUDIENCE:
            return audience.id
    audience_in = AudienceCreate.model_validate(
        {
            "name": WIN_BACK_AUDIENCE,
            "description": "生命周期为流失预警或沉睡的会员（沉睡会员唤回旅程）",
            "definition": {
                "conditions": [{"kind": "stage", "op": "in", "values": ["at_risk", "lapsed"]}]
            },
        }
    )
    return audiences.create_audience(session=session, audience_in=audience_in, actor=actor).id


def install_shipped_journeys(*, session: Session, actor: Actor, enabled: bool = False) -> list[str]:
    """Add the shipped journeys that are missing (switched on when ``enabled``); returns
    the codes added."""
    known = {t.name: t.id for t in campaign_templates.list_templates(session=session)}
    added: list[str] = []
    for shipped in SHIPPED:
        if service.get_journey_by_code(session=session, code=shipped.code) is not None:
            continue
        if shipped.coupon is not None:
            _coupon_template(session, shipped.coupon)
        steps = []
        for given in shipped.steps:
            step = given
            if given["kind"] == "send":
                step = {
                    **given,
                    "templates": {
                        channel: _template_id(session, key, actor, known)
                        for channel, key in step["templates"].items()
                    },
                }
            steps.append(step)
        trigger = dict(shipped.trigger)
        if trigger.get("audience_id") == "win_back":
            trigger["audience_id"] = _win_back_audience(session, actor)
        journey_in = JourneyIn.model_validate(
            {
                "name": shipped.name,
                "trigger": trigger,
                "steps": steps,
                "reentry": shipped.reentry,
                "reentry_days": shipped.reentry_days,
                "goal": shipped.goal,
                "holdout_percent": shipped.holdout_percent,
            }
        )
        service.create_journey(
            session=session, journey_in=journey_in, actor=actor, code=shipped.code, enabled=enabled
        )
        added.append(shipped.code)
    return added


def switch_on_shipped_journeys(*, session: Session, actor: Actor) -> list[str]:
    """Switch on every shipped journey that is off (the demo's; `patron init` installs them
    off); returns the codes switched on."""
    switched: list[str] = []
    for shipped in SHIPPED:
        found = service.get_journey_by_code(session=session, code=shipped.code)
        if found is not None and not found.enabled:
            service.set_enabled(session=session, journey_id=found.id, enabled=True, actor=actor)
            switched.append(shipped.code)
    return switched
