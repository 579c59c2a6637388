"""Notices of points about to expire: once a night (the loyalty upkeep), a
``points.expiring`` event (docs/events.md) per member and expiry day for available points
that expire within the next 30 days. Each member's notice for a day is published once: the
event id names the customer and the day, so the next nights add nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron import events
from patron.loyalty.accounts import now_or
from patron.loyalty.models import LoyaltyAccount, PointsEntry, PointsLot

NOTICE_DAYS = 30


def publish_points_expiring(
    *, session: Session, now: datetime | None = None, within_days: int = NOTICE_DAYS
) -> int:
    """Publish the notices due; returns how many events the stream now holds for them
    (new or published on an earlier night)."""
    now = now_or(now)
    remaining = (
        select(
            PointsLot.account_id,
            PointsLot.expires_at,
            func.coalesce(func.sum(PointsEntry.points), 0).label("remaining"),
        )
        .outerjoin(PointsEntry, PointsEntry.lot_id == PointsLot.id)
        .where(
            PointsLot.expires_at > now,
            PointsLot.expires_at <= now + timedelta(days=within_days),
            PointsLot.available_at <= now,
        )
        .group_by(PointsLot.id, PointsLot.account_id, PointsLot.expires_at)
        .subquery()
    )
    rows = session.execute(
        select(LoyaltyAccount.customer_id, remaining.c.expires_at, remaining.c.remaining)
        .join(LoyaltyAccount, LoyaltyAccount.id == remaining.c.account_id)
        .where(remaining.c.remaining > 0)
    )
    due: dict[tuple[int, str], tuple[int, datetime]] = {}
    for customer_id, expires_at, points in rows:
        key = (int(customer_id), expires_at.date().isoformat())
        held, _at = due.get(key, (0, expires_at))
        due[key] = (held + int(points), min(_at, expires_at))
    notices = [
        events.DomainEvent(
            "points.expiring",
            customer_id,
            None,
            {"points": points, "expires_at": expires_at.isoformat()},
            f"points.expiring:{customer_id}:{day}",
        )
        for (customer_id, day), (points, expires_at) in sorted(due.items())
    ]
    return len(events.publish_many(session, notices))
