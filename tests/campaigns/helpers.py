"""Campaign data for tests, built through the services: an audience of tagged members, a
coupon template, templates per channel and a campaign ready to send."""

from __future__ import annotations

from typing import Any

from patron import audiences, loyalty
from patron.audiences import service as audience_service
from patron.audiences.schemas import AudienceCreate
from patron.campaigns import service as campaigns
from patron.campaigns import templates
from patron.campaigns.schemas import CampaignIn, CampaignRead, TemplateIn, TemplateRead
from patron.core.actor import Actor
from patron.core.db import Database
from tests.helpers import ACTOR

EMAIL = {
    "name": "会员日邮件",
    "channel": "email",
    "subject_zh": "{{ name }}，会员日全场 8 折",
    "text_zh": "{{ name }}您好！凭券 {{ coupon_code }} 到{{ store }}全场 8 折。\n\n详情 https://shop.example.cn/day",
    "subject_en": "{{ name }}, 20% off on members' day",
    "text_en": "Hello {{ name }}! Coupon {{ coupon_code }}: 20% off at {{ store }}.",
}
SMS = {
    "name": "会员日短信",
    "channel": "sms",
    "text_zh": "{{ name }}您好，凭券{{ coupon_code }}全场8折，回复TD退订",
    "provider_templates": {"aliyun": "SMS_465970123", "tencent": "2049123"},
}


def make_template(db: Database, fields: dict[str, Any], actor: Actor = ACTOR) -> TemplateRead:
    template_in = TemplateIn.model_validate(fields)
    return db.write(
        lambda s: templates.create_template(session=s, template_in=template_in, actor=actor)
    )


def make_audience(db: Database, tag: str = "campaign", name: str = "会员日名单") -> int:
    """An audience of the customers tagged ``tag``, on a fresh analytics store."""
    audiences.refresh_audience_store(db=db)
    audience_in = AudienceCreate.model_validate(
        {"name": name, "definition": {"conditions": [{"kind": "tag", "tags": [tag]}]}}
    )
    return db.write(
        lambda s: audience_service.create_audience(session=s, audience_in=audience_in, actor=ACTOR)
    ).id


def make_coupon_template(db: Database, code: str = "DAY20") -> str:
    template_in = loyalty.CouponTemplateCreate.model_validate(
        {
            "code": code,
            "name": "会员日券",
            "kind": "amount_off",
            "amount_off_fen": 2000,
            "valid_days": 30,
        }
    )
    return db.write(
        lambda s: loyalty.create_coupon_template(session=s, template_in=template_in)
    ).code


def make_campaign(db: Database, actor: Actor = ACTOR, **fields: Any) -> CampaignRead:
    campaign_in = CampaignIn.model_validate(fields)
    return db.write(
        lambda s: campaigns.create_campaign(session=s, campaign_in=campaign_in, actor=actor)
    )


def approved(db: Database, campaign_id: int, actor: Actor = ACTOR) -> CampaignRead:
    db.write(lambda s: campaigns.submit_campaign(session=s, campaign_id=campaign_id, actor=actor))
    return db.write(
        lambda s: campaigns.approve_campaign(session=s, campaign_id=campaign_id, actor=actor)
    )
