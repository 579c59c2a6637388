"""Called by the customers domain when two profiles of one person are merged or unmerged:
the points, loyalty orders and coupons follow the profile. Lots move with their entries, so
every lot's balance and the ledger sum stay as they were; the survivor's tier is judged
again on the next movement or review. No commits here."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.ownership import move_owned_rows, restore_owned_rows
from patron.loyalty import ledger, referrals
from patron.loyalty.accounts import get_programme, open_account
from patron.loyalty.models import (
    Coupon,
    LoyaltyOrder,
    OfferClaim,
    PointsEntry,
    PointsLot,
    RewardRedemption,
)

# A member's own rows that follow the profile (a redemption is cancelled against the lots
# that paid, which move too).
_FOLLOW = {
    "reward_redemption": RewardRedemption,
    "offer_claim": OfferClaim,
    "coupon": Coupon,
}


def move_customer_records(
    *, session: Session, from_customer_id: int, to_customer_id: int
) -> dict[str, list[int]]:
    moved: dict[str, list[int]] = {"coupon": [], "points_lot": [], "loyalty_order": []}
    moved |= referrals.move_referrals(
        session, from_customer_id=from_customer_id, to_customer_id=to_customer_id
    )
    moved |= move_owned_rows(
        session, _FOLLOW, from_customer_id=from_customer_id, to_customer_id=to_customer_id
    )
    source = ledger.lock_account(session, from_customer_id)
    if source is None:
        return moved
    target = open_account(session, to_customer_id, utcnow(), get_programme(session, fresh=True))
    moved["points_lot"] = list(
        session.scalars(select(PointsLot.id).where(PointsLot.account_id == source.id))
    )
    moved["loyalty_order"] = list(
        session.scalars(select(LoyaltyOrder.id).where(LoyaltyOrder.account_id == source.id))
    )
    _move_account_rows(session, moved, source.id, target.id)
    return moved


def restore_customer_records(
    *,
    session: Session,
    moved: dict[str, list[int]],
    from_customer_id: int,
    to_customer_id: int,
) -> None:
    referrals.restore_referrals(
        session, moved=moved, from_customer_id=from_customer_id, to_customer_id=to_customer_id
    )
    restore_owned_rows(
        session, _FOLLOW, moved, from_customer_id=from_customer_id, to_customer_id=to_customer_id
    )
    if not moved.get("points_lot") and not moved.get("loyalty_order"):
        return
    source = ledger.lock_account(session, from_customer_id)
    target = ledger.lock_account(session, to_customer_id)
    if source is None or target is None:
        return
    _move_account_rows(session, moved, source.id, target.id)


def _move_account_rows(
    session: Session, moved: dict[str, list[int]], from_account: int, to_account: int
) -> None:
    lots = moved.get("points_lot", [])
    if lots:
        session.execute(
            update(PointsEntry)
            .where(PointsEntry.lot_id.in_(lots), PointsEntry.account_id == from_account)
            .values(account_id=to_account)
        )
        session.execute(
            update(PointsLot)
            .where(PointsLot.id.in_(lots), PointsLot.account_id == from_account)
            .values(account_id=to_account)
        )
    orders_moved = moved.get("loyalty_order", [])
    if orders_moved:
        session.execute(
            update(LoyaltyOrder)
            .where(LoyaltyOrder.id.in_(orders_moved), LoyaltyOrder.account_id == from_account)
            .values(account_id=to_account)
        )
