"""Every member's tier and points in one read, for the analytics store's audience facts."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.loyalty.models import LoyaltyAccount, PointsEntry


def member_standings(*, session: Session) -> list[tuple[int, str, int]]:
    """(customer id, tier code, points on the ledger) of every member. The ledger total is
    what the balance is reconciled against: expired points leave it as the upkeep writes
    them off."""
    points = (
        select(PointsEntry.account_id, func.sum(PointsEntry.points).label("points"))
        .group_by(PointsEntry.account_id)
        .subquery()
    )
    rows = session.execute(
        select(
            LoyaltyAccount.customer_id,
            LoyaltyAccount.tier_code,
            func.coalesce(points.c.points, 0),
        ).outerjoin(points, points.c.account_id == LoyaltyAccount.id)
    ).all()
    return [(r[0], r[1], int(r[2])) for r in rows]
