"""Programme figures for the finance and marketing teams: the points liability and its
expected breakage, points about to expire, members per tier, coupon issue and redemption."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from patron.loyalty import rules
from patron.loyalty.models import (
    Coupon,
    CouponStatus,
    CouponTemplate,
    EntryKind,
    LoyaltyAccount,
    PointsEntry,
    PointsLot,
)
from patron.loyalty.schemas import (
    CouponTemplateStats,
    LiabilityReport,
    LoyaltyReport,
    TierCount,
)


def liability(*, session: Session, now: datetime, programme: rules.Programme) -> LiabilityReport:
    """Points members still hold (available or pending), their value, and how much of it past
    experience says will expire unused: the share of points that expired among the lots that
    reached their expiry in the last 12 months."""
    remaining = (
        select(
            PointsLot.id.label("lot_id"),
            PointsLot.account_id,
            PointsLot.available_at,
            PointsLot.expires_at,
            func.coalesce(func.sum(PointsEntry.points), 0).label("remaining"),
        )
        .outerjoin(PointsEntry, PointsEntry.lot_id == PointsLot.id)
        .where(PointsLot.expires_at > now)
        .group_by(PointsLot.id, PointsLot.account_id, PointsLot.available_at, PointsLot.expires_at)
        .subquery()
    )
    live = remaining.c.remaining > 0
    row = session.execute(
        select(
            func.count(func.distinct(case((live, remaining.c.account_id)))),
            func.coalesce(
                func.sum(case((remaining.c.available_at <= now, remaining.c.remaining), else_=0)),
                0,
            ),
            func.coalesce(
                func.sum(case((remaining.c.available_at > now, remaining.c.remaining), else_=0)), 0
            ),
            func.coalesce(
                func.sum(
                    case(
                        (remaining.c.expires_at <= now + timedelta(days=30), remaining.c.remaining),
                        else_=0,
                    )
                ),
                0,
            ),
        )
    ).one()
    members, available, pending, expiring = (int(v) for v in row)

    # Lots that reached their expiry in the last year: how much of what they held expired.
    year_ago = now - timedelta(days=365)
    matured = select(PointsLot.id, PointsLot.points).where(
        PointsLot.expires_at > year_ago, PointsLot.expires_at <= now
    )
    granted = int(
        session.scalar(select(func.coalesce(func.sum(matured.subquery().c.points), 0))) or 0
    )
    lapsed = session.execute(
        select(
            func.coalesce(
                func.sum(
                    case((PointsEntry.kind == EntryKind.EXPIRE, -PointsEntry.points), else_=0)
                ),
                0,
            ),
            func.coalesce(func.sum(PointsEntry.points), 0),
        )
        .join(PointsLot, PointsLot.id == PointsEntry.lot_id)
        .where(PointsLot.expires_at > year_ago, PointsLot.expires_at <= now)
    ).one()
    # Posted expiry entries plus what is past expiry and not yet written off.
    expired = int(lapsed[0]) + int(lapsed[1])
    rate = expired / granted if granted else 0.0
    held = available + pending
    breakage = round(held * rate)
    return LiabilityReport(
        as_of=now,
        members=members,
        points_available=available,
        points_pending=pending,
        liability_fen=rules.points_value_fen(programme, held),
        expiring_30d_points=expiring,
        breakage_rate=round(rate, 4),
        expected_breakage_points=breakage,
        expected_breakage_fen=rules.points_value_fen(programme, breakage),
    )


def tier_distribution(*, session: Session, programme: rules.Programme) -> list[TierCount]:
    counts = dict(
        session.execute(
            select(LoyaltyAccount.tier_code, func.count()).group_by(LoyaltyAccount.tier_code)
        ).all()
    )
    return [
        TierCount(tier_code=t.code, tier_name=t.name, members=int(counts.get(t.code, 0)))
        for t in sorted(programme.tiers, key=lambda t: t.rank)
    ]


def coupon_stats(*, session: Session, now: datetime) -> list[CouponTemplateStats]:
    rows = session.execute(
        select(
            CouponTemplate.code,
            CouponTemplate.name,
            func.count(Coupon.id),
            func.coalesce(func.sum(case((Coupon.status == CouponStatus.REDEEMED, 1), else_=0)), 0),
            func.coalesce(
                func.sum(
                    case(
                        ((Coupon.status == CouponStatus.ISSUED) & (Coupon.expires_at <= now), 1),
                        else_=0,
                    )
                ),
                0,
            ),
        )
        .outerjoin(Coupon, Coupon.template_id == CouponTemplate.id)
        .group_by(CouponTemplate.id, CouponTemplate.code, CouponTemplate.name)
        .order_by(CouponTemplate.code)
    ).all()
    return [
        CouponTemplateStats(
            template_code=code,
            name=name,
            issued=int(issued),
            redeemed=int(redeemed),
            expired_unused=int(expired),
            redemption_rate=round(int(redeemed) / int(issued), 4) if issued else 0.0,
        )
        for code, name, issued, redeemed, expired in rows
    ]


def programme_report(
    *, session: Session, now: datetime, programme: rules.Programme
) -> LoyaltyReport:
    return LoyaltyReport(
        liability=liability(session=session, now=now, programme=programme),
        tiers=tier_distribution(session=session, programme=programme),
        coupons=coupon_stats(session=session, now=now),
    )
