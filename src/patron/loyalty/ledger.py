"""The points ledger: lots, entries and the moves between them. Internal to loyalty.

Every function here runs inside the caller's transaction, after the caller has locked the
account row (``lock_account``), so two movements on one account never interleave.
Availability is a function of time: a lot is pending until ``available_at`` and usable until
``expires_at``; nothing needs to run for points to mature. Expiry writes an entry, lazily on
the next movement of the account or in the ``expire_points`` run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import BigInteger, Select, bindparam, case, func, select, true
from sqlalchemy.orm import Session

from patron.core.db import core_rows
from patron.core.models import UTCDateTime
from patron.customers import service as customers
from patron.loyalty.exceptions import InsufficientPoints
from patron.loyalty.models import EntryKind, LoyaltyAccount, LoyaltyOrder, PointsEntry, PointsLot
from patron.loyalty.rules import Programme
from patron.loyalty.schemas import Balance
from patron.orders import returns


@dataclass
class LotState:
    lot: PointsLot
    remaining: int

    def usable(self, now: datetime) -> bool:
        return self.remaining > 0 and self.lot.available_at <= now < self.lot.expires_at

    def pending(self, now: datetime) -> bool:
        return self.remaining > 0 and now < self.lot.available_at

    def expired(self, now: datetime) -> bool:
        return self.remaining > 0 and self.lot.expires_at <= now


def lock_account(session: Session, customer_id: int) -> LoyaltyAccount | None:
    """The account, locked for the rest of the transaction (a no-op lock on SQLite, whose
    write transactions are serialised by ``BEGIN IMMEDIATE`` already)."""
    return session.scalar(
        select(LoyaltyAccount).where(LoyaltyAccount.customer_id == customer_id).with_for_update()
    )


def open_account(
    session: Session, customer_id: int, now: datetime, programme: Programme
) -> LoyaltyAccount:
    """The member's account, locked; opened on first use."""
    account = lock_account(session, customer_id)
    if account is None:
        customers.get_customer_or_raise(session=session, customer_id=customer_id)
        # A concurrent first use collides on the unique customer_id and Database.write retries.
        session.add(
            LoyaltyAccount(
                customer_id=customer_id,
                tier_code=programme.base_tier.code,
                tier_since_at=now,
                created_at=now,
            )
        )
        session.flush()
        account = lock_account(session, customer_id)
        assert account is not None
    return account


def lots(session: Session, account_id: int) -> list[LotState]:
    rows = session.execute(
        select(PointsLot, func.coalesce(func.sum(PointsEntry.points), 0))
        .outerjoin(PointsEntry, PointsEntry.lot_id == PointsLot.id)
        .where(PointsLot.account_id == account_id)
        .group_by(PointsLot.id)
        .order_by(PointsLot.expires_at, PointsLot.id)
    ).all()
    return [LotState(lot, int(remaining)) for lot, remaining in rows]


@dataclass(frozen=True)
class Snapshot:
    """A member's account as the till reads it: tier, the tier window's figures, balance."""

    account_id: int
    tier_code: str
    tier_since_at: datetime
    downgrade_due_at: datetime | None
    spend_fen: int  # net spend over the tier window
    points_earned: int  # earned less earnings taken back, over the tier window
    balance: Balance


def _window_parts(now: Any, since: Any) -> tuple[tuple[Any, Any, tuple[Any, ...]], ...]:
    """What a tier is judged on in (``since``, ``now``], as (account column, what is summed,
    which rows): the net spend of orders, and the points earned less those taken back by
    refunds (earned, never the balance)."""
    lo, po = LoyaltyOrder.__table__.c, PointsEntry.__table__.c
    return (
        (
            lo.account_id,
            lo.paid_fen - lo.refunded_fen,
            (lo.ordered_at > since, lo.ordered_at <= now),
        ),
        (
            po.account_id,
            po.points,
            (
                po.kind.in_([EntryKind.EARN, EntryKind.REVERSE_EARN]),
                po.occurred_at > since,
                po.occurred_at <= now,
            ),
        ),
    )


def _window_columns(account_id: Any) -> tuple[Any, Any]:
    """Spend and points earned in (``:since``, ``:now``] for ``account_id``; the spend is
    net of returns without a known sale the member made in the window."""
    now, since = bindparam("now", type_=UTCDateTime()), bindparam("since", type_=UTCDateTime())
    spend, earned = (
        select(func.coalesce(func.sum(value), 0))
        .where(owner == account_id, *rows)
        .scalar_subquery()
        for owner, value, rows in _window_parts(now, since)
    )
    a = LoyaltyAccount.__table__.c
    member = select(a.customer_id).where(a.id == account_id).scalar_subquery()
    return spend - returns.returned_fen_column(member, since, now), earned


@cache
def _window_statement() -> Select[Any]:
    spend, earned = _window_columns(bindparam("account_id"))
    return select(spend, earned)


def window_figures(
    session: Session, account_id: int, now: datetime, since: datetime
) -> tuple[int, int]:
    """(spend in fen, points earned) over (``since``, ``now``]."""
    spend, earned = session.execute(
        _window_statement(), {"account_id": account_id, "now": now, "since": since}
    ).one()
    return int(spend), int(earned)


def window_figures_by_account(
    session: Session, now: datetime, since: datetime
) -> dict[int, tuple[int, int]]:
    """``window_figures`` of every account with spend or earnings in (``since``, ``now``],
    in two grouped queries (the tier review's reading; accounts absent had neither)."""
    figures: dict[int, list[int]] = {}
    for n, (owner, value, rows) in enumerate(_window_parts(now, since)):
        for account_id, total in session.execute(
            select(owner, func.sum(value)).where(*rows).group_by(owner)
        ):
            figures.setdefault(account_id, [0, 0])[n] = int(total or 0)
    a = LoyaltyAccount.__table__.c
    for account_id, taken_back in session.execute(
        select(a.id, returns.returned_fen_column(a.customer_id, since, now)).where(
            a.customer_id.in_(returns.customers_returning(since=since, now=now))
        )
    ):
        if taken_back:
            figures.setdefault(account_id, [0, 0])[0] -= int(taken_back)
    return {account_id: (spend, earned) for account_id, (spend, earned) in figures.items()}


@dataclass(frozen=True)
class MemberAccount:
    """Who the till's member reference named, whether the till's stores may serve them,
    and their account (None before their first points)."""

    customer_id: int | None  # None: nobody holds that identifier
    in_scope: bool
    account: Snapshot | None


@cache
def _snapshot_statement(*, by_identity: bool, scoped: bool) -> Select[*tuple[Any, ...]]:
    """One query for the till: the member, the scope check, the account, its tier window
    and its balance by lot state, so a look-up costs two round trips (this, the coupons).

    The member is ``:customer_id``, or the owner of an identifier (``by_identity``, bound
    with ``customers.identity_params``); ``scoped`` adds whether they belong to one of
    ``:store_ids``. The balance sums entries per state of their lot, as ``balance`` does
    lot by lot: a lot never holds fewer than 0 points, so summing its entries is summing
    what it has left."""
    a, lot, e = LoyaltyAccount.__table__.c, PointsLot.__table__.c, PointsEntry.__table__.c
    now = bindparam("now", type_=UTCDateTime())
    who: Any = (
        customers.identity_owner() if by_identity else bindparam("customer_id", type_=BigInteger())
    )
    member = select(who.label("customer_id")).subquery("member")
    usable = (lot.available_at <= now) & (lot.expires_at > now)
    sums = (
        select(
            lot.account_id,
            func.sum(case((usable, e.points), else_=0)).label("available"),
            func.sum(case((lot.available_at > now, e.points), else_=0)).label("pending"),
            func.sum(case((lot.expires_at <= now, e.points), else_=0)).label("expired"),
            func.sum(e.points).label("total"),
        )
        .join_from(PointsLot.__table__, PointsEntry.__table__, e.lot_id == lot.id)
        .where(lot.account_id.in_(select(a.id).where(a.customer_id == who).scalar_subquery()))
        .group_by(lot.account_id)
        .subquery()
    )
    spend, earned = _window_columns(a.id)
    in_scope = customers.belongs_to_stores(member.c.customer_id) if scoped else true()
    return (
        select(
            member.c.customer_id,
            in_scope,
            a.id,
            a.tier_code,
            a.tier_since_at,
            a.downgrade_due_at,
            spend,
            earned,
            func.coalesce(sums.c.available, 0),
            func.coalesce(sums.c.pending, 0),
            func.coalesce(sums.c.expired, 0),
            func.coalesce(sums.c.total, 0),
        )
        .select_from(member)
        .outerjoin(LoyaltyAccount.__table__, a.customer_id == member.c.customer_id)
        .outerjoin(sums, sums.c.account_id == a.id)
    )


def member_account(
    session: Session,
    *,
    now: datetime,
    since: datetime,
    customer_id: int | None = None,
    identity: dict[str, Any] | None = None,
    store_ids: frozenset[int] | None = None,
) -> MemberAccount:
    """The member (by ``customer_id`` or by ``identity``, from ``customers.identity_params``)
    and their account with the tier window (``since``, ``now``], read in one query.
    Read-only: movements lock the account and read its lots (``lots``) instead."""
    params: dict[str, Any] = {"now": now, "since": since}
    if identity is not None:
        params |= identity
    else:
        params["customer_id"] = customer_id
    if store_ids is not None:
        params["store_ids"] = sorted(store_ids)
    statement = _snapshot_statement(by_identity=identity is not None, scoped=store_ids is not None)
    row = core_rows(session, statement, params).one()
    (who, in_scope, account_id, tier_code, since_at, due_at, spend, earned, *sums) = row
    account = (
        None
        if account_id is None
        else Snapshot(
            account_id=account_id,
            tier_code=tier_code,
            tier_since_at=since_at,
            downgrade_due_at=due_at,
            spend_fen=int(spend),
            points_earned=int(earned),
            balance=Balance(
                available=int(sums[0]),
                pending=int(sums[1]),
                expired_unposted=int(sums[2]),
                ledger_total=int(sums[3]),
            ),
        )
    )
    return MemberAccount(customer_id=who, in_scope=bool(in_scope), account=account)


def snapshot(session: Session, customer_id: int, now: datetime, since: datetime) -> Snapshot | None:
    """The customer's account (tier window (``since``, ``now``] and balance), or None."""
    return member_account(session, now=now, since=since, customer_id=customer_id).account


def balance(states: Sequence[LotState], now: datetime) -> Balance:
    return Balance(
        available=sum(s.remaining for s in states if s.usable(now)),
        pending=sum(s.remaining for s in states if s.pending(now)),
        expired_unposted=sum(s.remaining for s in states if s.expired(now)),
        ledger_total=sum(s.remaining for s in states),
    )


def entry(
    session: Session,
    state: LotState,
    kind: EntryKind,
    points: int,
    at: datetime,
    *,
    order_id: int | None = None,
    refund_id: int | None = None,
    reason: str | None = None,
    staff: str | None = None,
) -> PointsEntry:
    if state.remaining + points < 0:  # the one guard every movement passes
        raise InsufficientPoints(
            f"lot {state.lot.id} has {state.remaining} points", available=state.remaining
        )
    row = PointsEntry(
        account_id=state.lot.account_id,
        lot_id=state.lot.id,
        kind=kind,
        points=points,
        order_id=order_id,
        refund_id=refund_id,
        reason=reason,
        staff=staff,
        occurred_at=at,
    )
    session.add(row)
    state.remaining += points
    if points > 0 and state.lot.settled_at is not None:
        state.lot.settled_at = None  # points back in an expired lot: the expiry run's again
    return row


def new_lot(
    session: Session,
    account: LoyaltyAccount,
    *,
    kind: str,
    entry_kind: EntryKind,
    points: int,
    earned_at: datetime,
    available_at: datetime,
    expires_at: datetime,
    order_id: int | None = None,
    reason: str | None = None,
    staff: str | None = None,
) -> tuple[LotState, PointsEntry]:
    lot = PointsLot(
        account_id=account.id,
        kind=kind,
        order_id=order_id,
        points=points,
        earned_at=earned_at,
        available_at=available_at,
        expires_at=expires_at,
    )
    session.add(lot)
    session.flush()
    state = LotState(lot, 0)
    row = entry(
        session,
        state,
        entry_kind,
        points,
        earned_at,
        order_id=order_id,
        reason=reason,
        staff=staff,
    )
    return state, row


def expire(session: Session, states: Sequence[LotState], now: datetime) -> list[PointsEntry]:
    """Write off what is left in every lot past its expiry, and mark every lot past its
    expiry settled (empty for good, unless points come back into it: see ``entry``)."""
    rows = [
        entry(session, s, EntryKind.EXPIRE, -s.remaining, s.lot.expires_at, reason="expired")
        for s in states
        if s.expired(now)
    ]
    for s in states:
        if s.lot.expires_at <= now and s.lot.settled_at is None:
            s.lot.settled_at = now
    return rows


def consume(
    session: Session,
    states: Sequence[LotState],
    points: int,
    now: datetime,
    kind: EntryKind,
    *,
    include_pending: bool = False,
    first: LotState | None = None,
    allow_short: bool = False,
    order_id: int | None = None,
    refund_id: int | None = None,
    reason: str | None = None,
    staff: str | None = None,
) -> tuple[list[PointsEntry], int]:
    """Take ``points`` from the soonest-expiring lots; returns the entries and what was short."""
    candidates = [s for s in states if s.usable(now) or (include_pending and s.pending(now))]
    candidates.sort(key=lambda s: (s.lot.expires_at, s.lot.id))
    if first is not None and first in candidates:
        candidates.remove(first)
        candidates.insert(0, first)
    have = sum(s.remaining for s in candidates)
    if have < points and not allow_short:
        raise InsufficientPoints(
            f"{points} points asked for, {have} available", requested=points, available=have
        )
    rows, left = [], points
    for s in candidates:
        if left <= 0:
            break
        take = min(left, s.remaining)
        rows.append(
            entry(
                session,
                s,
                kind,
                -take,
                now,
                order_id=order_id,
                refund_id=refund_id,
                reason=reason,
                staff=staff,
            )
        )
        left -= take
    return rows, left


def order_spent_by_lot(session: Session, order_id: int) -> dict[int, int]:
    """Per lot: points an order spent and not yet given back."""
    rows = session.execute(
        select(PointsEntry.lot_id, func.sum(PointsEntry.points))
        .where(
            PointsEntry.order_id == order_id,
            PointsEntry.kind.in_([EntryKind.REDEEM, EntryKind.RETURN_REDEEMED]),
        )
        .group_by(PointsEntry.lot_id)
    ).all()
    return {lot_id: -int(total) for lot_id, total in rows if total and total < 0}
