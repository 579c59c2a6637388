"""The programme report against hand-computed figures: liability, breakage, expiring points,
tiers and coupon rates."""

from __future__ import annotations

from datetime import timedelta

from patron.core.db import Database
from patron.loyalty import reports
from patron.loyalty.coupons import issue_coupon
from patron.loyalty.points import expire_points, redeem_points
from patron.loyalty.schemas import CouponIssue
from tests.loyalty.helpers import PLAIN, TUESDAY, adjust, member, sale, template


def test_liability_breakage_and_expiring_points(db: Database) -> None:
    a, b, c, d = member(db), member(db), member(db), member(db)
    adjust(db, a, 1_000)  # available
    sale(db, b)  # ¥100 earns 100 points, pending for the return window
    # c: 1,000 granted 400 days ago, 300 spent, 700 left to expire 35 days ago.
    adjust(db, c, 1_000, at=TUESDAY - timedelta(days=400))
    db.write(
        lambda s: redeem_points(
            session=s,
            customer_id=c,
            points=300,
            now=TUESDAY - timedelta(days=300),
            programme=PLAIN,
        )
    )
    adjust(db, d, 50, at=TUESDAY - timedelta(days=350))  # expires in 15 days

    def report() -> reports.LiabilityReport:
        return db.read(lambda s: reports.liability(session=s, now=TUESDAY, programme=PLAIN))

    first = report()
    assert (first.members, first.points_available, first.points_pending) == (
        3,
        1_050,
        100,
    )  # a, b and d
    assert first.liability_fen == 1_150  # 100 points = ¥1
    assert first.expiring_30d_points == 50
    assert first.breakage_rate == 0.7  # 700 of c's 1,000 expired
    assert (first.expected_breakage_points, first.expected_breakage_fen) == (805, 805)

    # Writing the expiry off changes nothing in the figures.
    db.write(lambda s: expire_points(session=s, now=TUESDAY))
    assert report().model_dump(exclude={"as_of"}) == first.model_dump(exclude={"as_of"})


def test_members_with_only_pending_points_count(db: Database) -> None:
    b = member(db)
    sale(db, b)
    found = db.read(lambda s: reports.liability(session=s, now=TUESDAY, programme=PLAIN))
    assert (found.members, found.points_pending, found.breakage_rate) == (1, 100, 0.0)


def test_tiers_and_coupon_rates(db: Database) -> None:
    a, b, c = member(db), member(db), member(db)
    code = template(db, code="MJ", kind="amount_off", threshold_fen=5_000, amount_off_fen=1_000)
    issued = [
        db.write(
            lambda s, who=who: issue_coupon(
                session=s,
                issue_in=CouponIssue(template_code=code, customer_id=who),
                now=TUESDAY,
                programme=PLAIN,
            )
        )
        for who in (a, b, c)
    ]
    sale(db, a, order_discount_fen=1_000, coupon_codes=[issued[0].code])
    stats = db.read(lambda s: reports.coupon_stats(session=s, now=TUESDAY))
    assert [(x.template_code, x.issued, x.redeemed, x.expired_unused) for x in stats] == [
        ("MJ", 3, 1, 0)
    ]
    assert stats[0].redemption_rate == round(1 / 3, 4)
    later = db.read(lambda s: reports.coupon_stats(session=s, now=TUESDAY + timedelta(days=31)))
    assert later[0].expired_unused == 2

    tiers = db.read(lambda s: reports.tier_distribution(session=s, programme=PLAIN))
    assert sum(t.members for t in tiers) == 3
    assert tiers[0].tier_code == PLAIN.base_tier.code and tiers[0].members == 3
