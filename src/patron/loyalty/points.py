"""Points: a member's balance and ledger, redemption, staff adjustments and the expiry run.

The lots and entries themselves are kept by :mod:`patron.loyalty.ledger`; no commits here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.core.actor import Actor
from patron.core.errors import InvalidInput
from patron.loyalty import ledger, rules
from patron.loyalty.accounts import account_of, get_programme, no_points, now_or, open_account
from patron.loyalty.models import (
    EntryKind,
    LotKind,
    LoyaltyAccount,
    PointsEntry,
    PointsLot,
)
from patron.loyalty.schemas import (
    AdjustmentIn,
    Balance,
    EntryRead,
    LotRead,
    Movement,
)


def _movement(
    session: Session, account: LoyaltyAccount, rows: Sequence[PointsEntry], now: datetime
) -> Movement:
    session.flush()
    return Movement(
        points=sum(r.points for r in rows),
        entries=[EntryRead.model_validate(r) for r in rows],
        balance=ledger.balance(ledger.lots(session, account.id), now),
    )


def get_balance(*, session: Session, customer_id: int, now: datetime | None = None) -> Balance:
    account = account_of(session, customer_id)
    if account is None:
        return no_points()
    return ledger.balance(ledger.lots(session, account.id), now_or(now))


def get_ledger_total(*, session: Session, customer_id: int) -> int:
    """The plain sum of every ledger entry: what the balance is reconciled against."""
    total = session.scalar(
        select(func.coalesce(func.sum(PointsEntry.points), 0))
        .join(LoyaltyAccount, LoyaltyAccount.id == PointsEntry.account_id)
        .where(LoyaltyAccount.customer_id == customer_id)
    )
    return int(total or 0)


def list_lots(*, session: Session, customer_id: int) -> list[LotRead]:
    account = account_of(session, customer_id)
    if account is None:
        return []
    return [
        LotRead(
            id=s.lot.id,
            kind=s.lot.kind,
            order_id=s.lot.order_id,
            points=s.lot.points,
            remaining=s.remaining,
            earned_at=s.lot.earned_at,
            available_at=s.lot.available_at,
            expires_at=s.lot.expires_at,
        )
        for s in ledger.lots(session, account.id)
    ]


def list_entries(*, session: Session, customer_id: int, limit: int = 200) -> list[EntryRead]:
    rows = session.scalars(
        select(PointsEntry)
        .join(LoyaltyAccount, LoyaltyAccount.id == PointsEntry.account_id)
        .where(LoyaltyAccount.customer_id == customer_id)
        .order_by(PointsEntry.id.desc())
        .limit(limit)
    )
    return [EntryRead.model_validate(r) for r in rows]


def redeem_points(
    *,
    session: Session,
    customer_id: int,
    points: int,
    now: datetime | None = None,
    order_id: int | None = None,
    reason: str | None = None,
    programme: rules.Programme | None = None,
) -> Movement:
    """Spend ``points`` (any part of the balance) from the soonest-expiring available lots."""
    if points <= 0:
        raise InvalidInput("points", "must be greater than 0", message_code="points_not_positive")
    now, programme = now_or(now), programme or get_programme(session, fresh=True)
    account = open_account(session, customer_id, now, programme)
    states = ledger.lots(session, account.id)
    ledger.expire(session, states, now)
    rows, _ = ledger.consume(
        session, states, points, now, EntryKind.REDEEM, order_id=order_id, reason=reason
    )
    return _movement(session, account, rows, now)


def adjust_points(
    *,
    session: Session,
    customer_id: int,
    adjustment_in: AdjustmentIn,
    actor: Actor,
    now: datetime | None = None,
    programme: rules.Programme | None = None,
) -> Movement:
    """A staff adjustment, with its reason: a new lot when adding, soonest-expiring first when
    taking away (never below zero)."""
    now, programme = now_or(now), programme or get_programme(session, fresh=True)
    account = open_account(session, customer_id, now, programme)
    states = ledger.lots(session, account.id)
    ledger.expire(session, states, now)
    if adjustment_in.points > 0:
        _, row = ledger.new_lot(
            session,
            account,
            kind=LotKind.ADJUST,
            entry_kind=EntryKind.ADJUST,
            points=adjustment_in.points,
            earned_at=now,
            available_at=now,
            expires_at=now + timedelta(days=programme.expiry_days),
            reason=adjustment_in.reason,
            staff=adjustment_in.staff,
        )
        rows = [row]
    else:
        rows, _ = ledger.consume(
            session,
            states,
            -adjustment_in.points,
            now,
            EntryKind.ADJUST,
            include_pending=True,
            reason=adjustment_in.reason,
            staff=adjustment_in.staff,
        )
    record_audit(
        session=session,
        actor=actor,
        action="loyalty.adjust",
        target_kind="customer",
        target_id=customer_id,
        reason=adjustment_in.reason,
        details={"points": adjustment_in.points, "staff": adjustment_in.staff},
    )
    return _movement(session, account, rows, now)


def _due_for_expiry(now: datetime) -> Select[int]:
    """Accounts with a lot past its expiry that the expiry run has not settled: the lots
    expired since the last run and those points came back into (an account once per such
    lot). Read from a partial index, so the worklist does not grow with the years of lots
    already settled; no DISTINCT, which would steer SQLite to a scan of every lot."""
    return select(PointsLot.account_id).where(
        PointsLot.settled_at.is_(None), PointsLot.expires_at <= now
    )


def accounts_due_for_expiry(*, session: Session, now: datetime | None = None) -> list[int]:
    """Accounts the expiry run has to visit (see ``_due_for_expiry``), in id order."""
    return sorted(set(session.scalars(_due_for_expiry(now_or(now)))))


def expire_points(
    *,
    session: Session,
    now: datetime | None = None,
    customer_id: int | None = None,
    account_ids: Sequence[int] | None = None,
) -> int:
    """The expiry run: write off every lot past its expiry that still holds points (of one
    customer, of ``account_ids``, or everyone's). Returns the points written off. The
    accounts are locked before their lots are read, as a till's redemption locks one, so a
    lot is never written off twice; all in one statement, in id order (as every run takes
    them: no lock cycles)."""
    now = now_or(now)
    if customer_id is not None:
        account = ledger.lock_account(session, customer_id)
        locked = [account.id] if account else []
    else:
        a = LoyaltyAccount.__table__.c
        wanted = account_ids if account_ids is not None else _due_for_expiry(now)
        locked = list(
            session.scalars(select(a.id).where(a.id.in_(wanted)).order_by(a.id).with_for_update())
        )
    total = 0
    for account_id in locked:
        states = ledger.lots(session, account_id)
        total -= sum(r.points for r in ledger.expire(session, states, now))
    session.flush()
    return total
