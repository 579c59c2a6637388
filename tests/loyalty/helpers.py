"""Loyalty test data, built through the services the way a till would."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from patron.catalog import service as catalog
from patron.catalog.schemas import ProductIn
from patron.core.db import Database
from patron.loyalty.coupons import create_coupon_template, issue_coupon
from patron.loyalty.points import adjust_points
from patron.loyalty.refunds import apply_refund
from patron.loyalty.rules import Programme
from patron.loyalty.schemas import (
    AdjustmentIn,
    CommitIn,
    CommitRead,
    CouponIssue,
    CouponRead,
    CouponTemplateCreate,
    LoyaltyRefundIn,
    LoyaltyRefundRead,
    QuoteIn,
    QuoteRead,
)
from patron.loyalty.till import commit_order, quote_basket
from patron.orders import service as orders
from patron.orders.schemas import RefundIn
from tests.helpers import ACTOR, T0, post_order, sign_up

# Tuesday 2026-03-03 10:00 in Shanghai: not a member day under the default programme.
TUESDAY = T0 + timedelta(days=2)
PLAIN = Programme(member_weekdays=frozenset(), max_points_per_order=None)

_phones = itertools.count(13900000000)
_keys = itertools.count(1)


def member(db: Database) -> int:
    return sign_up(db, phone=str(next(_phones)))


def sale(
    db: Database,
    customer_id: int,
    *,
    lines: list[dict[str, Any]] | None = None,
    order_discount_fen: int = 0,
    at: datetime = TUESDAY,
    redeem_points: int = 0,
    coupon_codes: list[str] | None = None,
    programme: Programme = PLAIN,
    now: datetime | None = None,
    key: str | None = None,
) -> CommitRead:
    """Post an order for ``customer_id`` and commit it to loyalty."""
    key = key or f"O{next(_keys)}"
    post_order(
        db,
        key,
        customer={"id": customer_id},
        lines=lines or [{"sku": "SKU-1", "quantity": 1, "unit_price_fen": 10_000}],
        order_discount_fen=order_discount_fen,
        at=at,
    )
    return commit(
        db,
        key,
        redeem_points=redeem_points,
        coupon_codes=coupon_codes or [],
        programme=programme,
        now=now or at,
    )


def commit(
    db: Database,
    key: str,
    *,
    redeem_points: int = 0,
    coupon_codes: list[str] | None = None,
    programme: Programme = PLAIN,
    now: datetime = TUESDAY,
) -> CommitRead:
    commit_in = CommitIn(
        source="pos-test",
        external_id=key,
        redeem_points=redeem_points,
        coupon_codes=coupon_codes or [],
    )
    return db.write(
        lambda s: commit_order(session=s, commit_in=commit_in, now=now, programme=programme)
    )


def refund(
    db: Database,
    order_key: str,
    *,
    lines: list[dict[str, Any]] | None = None,
    at: datetime,
    programme: Programme = PLAIN,
    key: str | None = None,
) -> LoyaltyRefundRead:
    """Post a refund against an order and apply it to loyalty."""
    key = key or f"R{next(_keys)}"
    refund_in = RefundIn.model_validate(
        {
            "source": "pos-test",
            "external_id": key,
            "order_external_id": order_key,
            "refunded_at": at,
            "lines": lines or [],
        }
    )
    db.write(lambda s: orders.record_refund(session=s, refund_in=refund_in))
    return db.write(
        lambda s: apply_refund(
            session=s,
            refund_in=LoyaltyRefundIn(source="pos-test", external_id=key),
            now=at,
            programme=programme,
        )
    )


def adjust(db: Database, customer_id: int, points: int, *, at: datetime = TUESDAY) -> None:
    adjustment = AdjustmentIn(points=points, reason="goodwill", staff="manager")
    db.write(
        lambda s: adjust_points(
            session=s,
            customer_id=customer_id,
            adjustment_in=adjustment,
            actor=ACTOR,
            now=at,
            programme=PLAIN,
        )
    )


def products(db: Database, *items: tuple[str, str]) -> None:
    products_in = [
        ProductIn.model_validate({"sku": sku, "name": sku, "category_path": category})
        for sku, category in items
    ]
    db.write(lambda s: catalog.upsert_products(session=s, products_in=products_in))


def template(db: Database, **fields: Any) -> str:
    body = {"name": fields.get("code", "T"), "valid_days": 30, **fields}
    template_in = CouponTemplateCreate.model_validate(body)
    db.write(lambda s: create_coupon_template(session=s, template_in=template_in))
    return template_in.code


def give_coupon(
    db: Database, template_code: str, customer_id: int, *, at: datetime = T0
) -> CouponRead:
    issue_in = CouponIssue(template_code=template_code, customer_id=customer_id)
    return db.write(lambda s: issue_coupon(session=s, issue_in=issue_in, now=at, programme=PLAIN))


def gold_member(db: Database) -> int:
    """A member who spent ¥10,000 on TUESDAY: gold under the default tiers."""
    me = member(db)
    sale(db, me, lines=[{"sku": "SKU-1", "quantity": 1, "unit_price_fen": 1_000_000}])
    return me


def reward(db: Database, **fields: Any) -> str:
    """A gift in the points catalogue (200 points, on offer from T0 unless told)."""
    from patron.loyalty.gifts import create_reward
    from patron.loyalty.reward_schemas import RewardCreate

    body = {"code": "WRAP", "name": "礼品包装", "kind": "service", "points": 200,
            "starts_at": T0, **fields}  # fmt: skip
    reward_in = RewardCreate.model_validate(body)
    db.write(lambda s: create_reward(session=s, reward_in=reward_in, actor=ACTOR))
    return reward_in.code


def offer(db: Database, **fields: Any) -> str:
    """A member offer on SKU-A, on through March 2026 unless told."""
    from patron.loyalty.offers import create_offer
    from patron.loyalty.reward_schemas import OfferCreate

    body = {"code": "FLASH", "name": "会员闪购", "skus": ["SKU-A"], "starts_at": T0,
            "ends_at": T0 + timedelta(days=30), **fields}  # fmt: skip
    offer_in = OfferCreate.model_validate(body)
    db.write(lambda s: create_offer(session=s, offer_in=offer_in, actor=ACTOR))
    return offer_in.code


def quote(
    db: Database, customer_id: int, lines: list[dict[str, Any]], *, at: datetime = TUESDAY,
    **fields: Any,
) -> QuoteRead:  # fmt: skip
    quote_in = QuoteIn.model_validate(
        {"member": {"customer_id": customer_id}, "lines": lines, "at": at, **fields}
    )
    return db.read(lambda s: quote_basket(session=s, quote_in=quote_in, programme=PLAIN))
