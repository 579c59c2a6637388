"""Coupons issued, redeemed with the order and restored by a full refund; tiers over time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from patron.core.db import Database
from patron.loyalty.coupons import get_coupon
from patron.loyalty.exceptions import CouponLimitReached, CouponNotApplicable
from patron.loyalty.rules import Programme, TierBasis
from patron.loyalty.tiers import get_tier, review_tiers
from tests.loyalty.helpers import (
    PLAIN,
    TUESDAY,
    adjust,
    give_coupon,
    member,
    refund,
    sale,
    template,
)

WEEK = [{"sku": "SKU-1", "quantity": 1, "unit_price_fen": 12_000}]


def test_a_coupon_is_used_with_its_order_and_restored_when_the_order_is_refunded_in_full(
    db: Database,
) -> None:
    me = member(db)
    tpl = template(db, code="MJ", kind="amount_off", threshold_fen=10_000, amount_off_fen=2_000)
    coupon = give_coupon(db, tpl, me)
    result = sale(
        db, me, key="CPN", lines=WEEK, coupon_codes=[coupon.code], order_discount_fen=2_000
    )
    assert result.coupon_discount_fen == 2_000
    assert result.points_earned == 100  # on ¥100 paid, not the ¥20 the coupon paid
    used = db.read(lambda s: get_coupon(session=s, code=coupon.code))
    assert used is not None and used.status == "redeemed"
    with pytest.raises(CouponNotApplicable):
        sale(db, me, lines=WEEK, coupon_codes=[coupon.code], order_discount_fen=2_000)
    back = refund(db, "CPN", at=TUESDAY + timedelta(days=1))
    assert back.coupons_restored == 1
    restored = db.read(lambda s: get_coupon(session=s, code=coupon.code))
    assert restored is not None and (restored.status, restored.order_id) == ("issued", None)


def test_a_partial_refund_keeps_the_coupon_used(db: Database) -> None:
    me = member(db)
    tpl = template(db, code="MJ2", kind="amount_off", threshold_fen=10_000, amount_off_fen=2_000)
    coupon = give_coupon(db, tpl, me)
    lines = [{"sku": "SKU-1", "quantity": 2, "unit_price_fen": 6_000}]
    sale(db, me, key="CPN2", lines=lines, coupon_codes=[coupon.code], order_discount_fen=2_000)
    assert (
        refund(db, "CPN2", lines=[{"line_no": 1, "quantity": 1}], at=TUESDAY).coupons_restored == 0
    )


def test_a_coupon_below_its_threshold_is_refused_naming_the_field(db: Database) -> None:
    me = member(db)
    tpl = template(db, code="MJ3", kind="amount_off", threshold_fen=10_000, amount_off_fen=2_000)
    coupon = give_coupon(db, tpl, me)
    with pytest.raises(CouponNotApplicable) as raised:
        sale(
            db,
            me,
            coupon_codes=[coupon.code],
            order_discount_fen=2_000,
            lines=[{"sku": "SKU-1", "quantity": 1, "unit_price_fen": 9_999}],
        )
    assert raised.value.field == "coupon_codes"


def test_a_coupon_cannot_pay_for_itself_through_a_coupon_pack_line(db: Database) -> None:
    me = member(db)
    tpl = template(db, code="MJ4", kind="amount_off", amount_off_fen=2_000)
    coupon = give_coupon(db, tpl, me)
    with pytest.raises(CouponNotApplicable):
        sale(
            db,
            me,
            coupon_codes=[coupon.code],
            order_discount_fen=2_000,
            lines=[{"sku": "COUPON-PACK", "quantity": 1, "unit_price_fen": 5_000}],
        )


def test_per_customer_limits_hold_and_codes_are_unique(db: Database) -> None:
    me = member(db)
    tpl = template(db, code="ONE", kind="percent_off", percent_off="10", per_customer_limit=2)
    codes = {give_coupon(db, tpl, me).code for _ in range(2)}
    assert len(codes) == 2
    with pytest.raises(CouponLimitReached):
        give_coupon(db, tpl, me)


def test_tier_is_judged_on_points_earned_not_the_balance(db: Database) -> None:
    by_points = Programme(
        member_weekdays=frozenset(), max_points_per_order=None, tier_basis=TierBasis.POINTS
    )
    me = member(db)
    adjust(db, me, 50_000)  # a large balance from staff, earned nothing
    assert db.read(lambda s: get_tier(session=s, customer_id=me, now=TUESDAY)).code == "member"
    result = sale(
        db,
        me,
        lines=[{"sku": "SKU-1", "quantity": 1, "unit_price_fen": 200_000}],
        programme=by_points,
    )
    assert result.tier_code == "silver"  # 2,000 points earned: upgraded at once
    tier = db.read(lambda s: get_tier(session=s, customer_id=me, now=TUESDAY, programme=by_points))
    assert tier.points_earned_12m == 2_000


def test_a_downgrade_waits_for_the_review_and_its_grace_period(db: Database) -> None:
    me = member(db)
    sale(db, me, lines=[{"sku": "SKU-1", "quantity": 1, "unit_price_fen": 1_000_000}])
    assert db.read(lambda s: get_tier(session=s, customer_id=me, now=TUESDAY)).code == "gold"
    year_on = TUESDAY + timedelta(days=400)
    db.write(lambda s: review_tiers(session=s, now=year_on, programme=PLAIN))
    tier = db.read(lambda s: get_tier(session=s, customer_id=me, now=year_on))
    assert tier.code == "gold" and tier.downgrade_due_at == year_on + timedelta(days=30)
    done = year_on + timedelta(days=30)
    db.write(lambda s: review_tiers(session=s, now=done, programme=PLAIN))
    assert db.read(lambda s: get_tier(session=s, customer_id=me, now=done)).code == "member"


def test_the_review_never_overwrites_a_tier_changed_while_it_ran(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import update

    from patron.loyalty import rules
    from patron.loyalty.models import LoyaltyAccount

    me = member(db)
    sale(db, me, lines=[{"sku": "SKU-1", "quantity": 1, "unit_price_fen": 1_000_000}])
    year_on = TUESDAY + timedelta(days=400)
    review = rules.review_tier

    def till_upgrades_meanwhile(*args: Any, **kwargs: Any) -> rules.TierState:
        # A till's commit lands between the review's reading and its writing.
        session.execute(update(LoyaltyAccount).values(tier_code="platinum"))
        return review(*args, **kwargs)

    def run(s: Any) -> int:
        nonlocal session
        session = s
        return review_tiers(session=s, now=year_on, programme=PLAIN)

    session: Any = None
    monkeypatch.setattr(rules, "review_tier", till_upgrades_meanwhile)
    assert db.write(run) == 0
    tier = db.read(lambda s: get_tier(session=s, customer_id=me, now=year_on))
    assert tier.code == "platinum" and tier.downgrade_due_at is None
