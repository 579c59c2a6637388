"""Bundle offers from basket rules: the buyers of a rule's antecedent, a coupon, and a draft
campaign whose results also measure the rule's consequent (docs/campaigns.md)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from patron import audiences, loyalty
from patron.campaigns.schemas import CampaignIn
from patron.campaigns.service import create_campaign
from patron.core.actor import Actor
from patron.core.clock import utcnow

COUPON_VALID_DAYS = 14


@dataclass(frozen=True, slots=True)
class BundleOffer:
    audience_id: int
    coupon_template_code: str
    campaign_id: int


def make_bundle_offer(
    *,
    session: Session,
    actor: Actor,
    antecedent: list[str],
    consequent: str,
    template_id: int,
    channel: str,
    amount_off_fen: int,
    title: str,
    description: str,
    coupon_name: str,
    holdout_percent: float = 10.0,
    conversion_days: int = COUPON_VALID_DAYS,
) -> BundleOffer:
    """In one transaction: a saved audience of the customers who bought every SKU of
    ``antecedent``, an amount-off coupon template (``coupon_name``), and a draft campaign to
    that audience with the coupon as its offer (it takes money off the consequent's lines
    only), a holdout, and ``consequent`` as the SKU its
    results also measure. ``title`` names the audience and the campaign, with the minute it
    was made; the edge gives it and ``description`` in the user's language."""
    name = title[:104] + utcnow().strftime(" %Y-%m-%d %H:%M")
    audience = audiences.create_audience(
        session=session,
        audience_in=audiences.AudienceCreate(
            name=name,
            description=description,
            definition=audiences.Definition(
                match="all",
                conditions=[
                    audiences.PurchasesCondition(op="gte", value=1, sku=sku) for sku in antecedent
                ],
            ),
        ),
        actor=actor,
    )
    coupon = loyalty.create_coupon_template(
        session=session,
        template_in=loyalty.CouponTemplateCreate(
            code="BUNDLE-" + secrets.token_hex(4).upper(),
            name=coupon_name[:120],
            kind=loyalty.CouponKind.AMOUNT_OFF,
            amount_off_fen=amount_off_fen,
            valid_days=COUPON_VALID_DAYS,
            per_customer_limit=1,
            scope=loyalty.CouponScope(skus=[consequent]),
        ),
    )
    campaign = create_campaign(
        session=session,
        campaign_in=CampaignIn.model_validate(
            {
                "name": name,
                "audience_id": audience.id,
                "templates": {channel: template_id},
                "offer": "coupon",
                "coupon_template_code": coupon.code,
                "holdout_percent": holdout_percent,
                "conversion_days": conversion_days,
                "focus_sku": consequent,
            }
        ),
        actor=actor,
    )
    return BundleOffer(audience.id, coupon.code, campaign.id)
