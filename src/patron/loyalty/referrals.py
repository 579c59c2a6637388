"""Referrals: a code per member; both sides rewarded on the new member's first qualifying
purchase; never for referring oneself. No commits here.

Self-referral is judged on the person, not the profile: identity resolution gives a phone,
member card or WeChat id to exactly one profile, so a "new" member signing up with the
referrer's phone, card or WeChat id *is* the referrer's profile and is refused; profiles found
to be one person later (a merge) are refused at reward time, and referrals follow merges. A
reward is
pending for the qualifying order's return window, like the points the order earns; a full
refund inside that window takes both rewards back.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from patron.customers import service as customers
from patron.loyalty import ledger, rules
from patron.loyalty.exceptions import ReferralCodeNotFound, ReferralRefused
from patron.loyalty.models import (
    EntryKind,
    LotKind,
    LoyaltyAccount,
    LoyaltyOrder,
    PointsLot,
    Referral,
    ReferralCode,
    ReferralStatus,
)
from patron.loyalty.schemas import ReferralCodeRead, ReferralIn, ReferralRead
from patron.orders import service as orders

# No 0/O or 1/I/L: the code is read out at the till.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def _new_code() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(8))


def get_referral_code(*, session: Session, customer_id: int) -> ReferralCodeRead:
    """The member's code, made on first ask."""
    customer_id = customers.active_customer_id(session=session, customer_id=customer_id)
    customers.get_customer_or_raise(session=session, customer_id=customer_id)
    row = session.scalar(select(ReferralCode).where(ReferralCode.customer_id == customer_id))
    if row is None:
        row = ReferralCode(customer_id=customer_id, code=_new_code())
        session.add(row)
        session.flush()
    return ReferralCodeRead(customer_id=customer_id, code=row.code)


def find_referral_code(*, session: Session, customer_id: int) -> str | None:
    """The member's referral code if one was made (:func:`get_referral_code` makes one)."""
    return session.scalar(select(ReferralCode.code).where(ReferralCode.customer_id == customer_id))


def record_referral(*, session: Session, referral_in: ReferralIn, now: datetime) -> ReferralRead:
    """Link a new member to the member whose code they give. Refused for oneself, for a
    member referred before, or for one who has already bought."""
    referee_id = customers.active_customer_id(session=session, customer_id=referral_in.customer_id)
    customers.get_customer_or_raise(session=session, customer_id=referee_id)
    code = referral_in.code.strip().upper()
    owner = session.scalar(select(ReferralCode).where(ReferralCode.code == code))
    if owner is None:
        raise ReferralCodeNotFound(f"no referral code {code!r}")
    referrer_id = customers.active_customer_id(session=session, customer_id=owner.customer_id)
    if referrer_id == referee_id:
        raise ReferralRefused("code", "a member cannot use their own referral code")
    if session.scalar(select(Referral.id).where(Referral.referee_id == referee_id)):
        raise ReferralRefused("customer_id", "this member has already been referred")
    back = session.scalar(
        select(Referral.id).where(
            Referral.referrer_id == referee_id, Referral.referee_id == referrer_id
        )
    )
    if back is not None:
        raise ReferralRefused("code", "these two members cannot refer each other")
    if orders.list_customer_orders(session=session, customer_id=referee_id, limit=1).items:
        raise ReferralRefused(
            "customer_id", "a referral is recorded before the new member's first purchase"
        )
    row = Referral(referrer_id=referrer_id, referee_id=referee_id, code=code, created_at=now)
    session.add(row)
    session.flush()
    return _read(session, row)


def _lot_points(session: Session, lot_id: int | None) -> int:
    if lot_id is None:
        return 0
    return int(session.scalar(select(PointsLot.points).where(PointsLot.id == lot_id)) or 0)


def _read(session: Session, row: Referral) -> ReferralRead:
    return ReferralRead(
        id=row.id,
        referrer_id=row.referrer_id,
        referee_id=row.referee_id,
        code=row.code,
        status=row.status,
        order_id=row.order_id,
        referrer_points=_lot_points(session, row.referrer_lot_id),
        referee_points=_lot_points(session, row.referee_lot_id),
        created_at=row.created_at,
        rewarded_at=row.rewarded_at,
        reversed_at=row.reversed_at,
    )


def list_referrals(*, session: Session, customer_id: int) -> list[ReferralRead]:
    """Referrals the member made, and the one that brought them, newest first."""
    rows = session.scalars(
        select(Referral)
        .where((Referral.referrer_id == customer_id) | (Referral.referee_id == customer_id))
        .order_by(Referral.id.desc())
    )
    return [_read(session, r) for r in rows]


def reward_first_purchase(
    session: Session,
    *,
    referee_account: LoyaltyAccount,
    order: LoyaltyOrder,
    programme: rules.Programme,
    now: datetime,
) -> Referral | None:
    """Called by the order commit with the referee's account locked: reward both sides when
    this is the referee's first order paying at least the programme's minimum."""
    row = session.scalar(
        select(Referral).where(
            Referral.referee_id == referee_account.customer_id,
            Referral.status == ReferralStatus.PENDING,
        )
    )
    if row is None or order.paid_fen < programme.referral_min_order_fen:
        return None
    referrer_id = customers.active_customer_id(session=session, customer_id=row.referrer_id)
    if referrer_id == referee_account.customer_id:  # merged since: one person after all
        row.status = ReferralStatus.REFUSED
        session.flush()
        return None
    available_at = order.ordered_at + timedelta(days=programme.return_window_days)
    expires_at = order.ordered_at + timedelta(days=programme.expiry_days)
    referrer_account = ledger.open_account(session, referrer_id, now, programme)
    lots: list[int | None] = []
    for account, points in (
        (referrer_account, programme.referrer_reward_points),
        (referee_account, programme.referee_reward_points),
    ):
        if points <= 0:
            lots.append(None)
            continue
        state, _ = ledger.new_lot(
            session,
            account,
            kind=LotKind.REFERRAL,
            entry_kind=EntryKind.REFERRAL,
            points=points,
            earned_at=order.ordered_at,
            available_at=available_at,
            expires_at=expires_at,
            reason=f"referral {row.id}",
        )
        lots.append(state.lot.id)
    row.referrer_lot_id, row.referee_lot_id = lots
    row.status = ReferralStatus.REWARDED
    row.order_id = order.order_id
    row.rewarded_at = now
    session.flush()
    return row


def reverse_for_refund(
    session: Session,
    *,
    order: LoyaltyOrder,
    refund_id: int,
    programme: rules.Programme,
    now: datetime,
) -> bool:
    """Called when ``order`` is refunded in full: inside its return window, take back what its
    referral gave both sides (still pending, so whole). Returns whether anything was reversed."""
    row = session.scalar(
        select(Referral).where(
            Referral.order_id == order.order_id, Referral.status == ReferralStatus.REWARDED
        )
    )
    if row is None:
        return False
    if now >= order.ordered_at + timedelta(days=programme.return_window_days):
        return False
    for customer_id, lot_id in (
        (row.referrer_id, row.referrer_lot_id),
        (row.referee_id, row.referee_lot_id),
    ):
        if lot_id is None:
            continue
        owner = customers.active_customer_id(session=session, customer_id=customer_id)
        account = ledger.open_account(session, owner, now, programme)
        for state in ledger.lots(session, account.id):
            if state.lot.id == lot_id and state.remaining > 0:
                ledger.entry(
                    session,
                    state,
                    EntryKind.REVERSE_EARN,
                    -state.remaining,
                    now,
                    order_id=order.order_id,
                    refund_id=refund_id,
                    reason=f"referral {row.id} reversed: order refunded",
                )
    row.status = ReferralStatus.REVERSED
    row.reversed_at = now
    session.flush()
    return True


def move_referrals(
    session: Session, *, from_customer_id: int, to_customer_id: int
) -> dict[str, list[int]]:
    """A merge: the referrals the merged profile made go with it; the one that brought it goes
    too unless the survivor was referred itself (it keeps its own)."""
    made = list(
        session.scalars(select(Referral.id).where(Referral.referrer_id == from_customer_id))
    )
    if made:
        session.execute(
            update(Referral).where(Referral.id.in_(made)).values(referrer_id=to_customer_id)
        )
    brought: list[int] = []
    own = session.scalar(select(Referral.id).where(Referral.referee_id == from_customer_id))
    taken = session.scalar(select(Referral.id).where(Referral.referee_id == to_customer_id))
    if own is not None and taken is None:
        session.execute(
            update(Referral).where(Referral.id == own).values(referee_id=to_customer_id)
        )
        brought = [own]
    return {"referral_made": made, "referral_brought": brought}


def restore_referrals(
    session: Session, *, moved: dict[str, list[int]], from_customer_id: int, to_customer_id: int
) -> None:
    """Undo :func:`move_referrals` for an unmerge (``from`` is the survivor here)."""
    if made := moved.get("referral_made"):
        session.execute(
            update(Referral)
            .where(Referral.id.in_(made), Referral.referrer_id == from_customer_id)
            .values(referrer_id=to_customer_id)
        )
    if brought := moved.get("referral_brought"):
        session.execute(
            update(Referral)
            .where(Referral.id.in_(brought), Referral.referee_id == from_customer_id)
            .values(referee_id=to_customer_id)
        )
