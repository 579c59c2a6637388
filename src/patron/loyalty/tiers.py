"""Tiers: a member's tier read from the tier window's spend or points, the judgement after
a sale, and the periodic review with its grace period. No commits here."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from patron import events
from patron.core.models import UTCDateTime
from patron.loyalty import ledger, rules
from patron.loyalty.accounts import account_of, get_programme, now_or
from patron.loyalty.models import LoyaltyAccount
from patron.loyalty.schemas import TierRead


def _window_figures(
    session: Session, account: LoyaltyAccount, now: datetime, programme: rules.Programme
) -> tuple[int, int]:
    """(spend in fen, points earned) over the tier window: earned, not the balance."""
    return ledger.window_figures(session, account.id, now, window_start(now, programme))


def window_start(now: datetime, programme: rules.Programme) -> datetime:
    return now - timedelta(days=programme.tier_window_days)


def review_account(
    session: Session,
    account: LoyaltyAccount,
    now: datetime,
    programme: rules.Programme,
    *,
    at_review: bool,
) -> None:
    spend, earned = _window_figures(session, account, now, programme)
    state = rules.tier_after(
        programme,
        current=rules.TierState(account.tier_code, account.downgrade_due_at),
        spend_fen=spend,
        points_earned=earned,
        now=now,
        at_review=at_review,
    )
    if state.code != account.tier_code:
        events.publish(
            session,
            "tier.changed",
            **_tier_changed(account.customer_id, account.tier_code, state.code, now),
        )
        account.tier_code = state.code
        account.tier_since_at = now
    account.downgrade_due_at = state.downgrade_due_at


def _tier_changed(
    customer_id: int, old: str | None, new: str | None, now: datetime
) -> dict[str, Any]:
    """``tier.changed``'s publish arguments (docs/events.md)."""
    properties = {"from_tier": old, "to_tier": new}
    return {
        "customer_id": customer_id,
        "properties": properties,
        "event_id": f"tier.changed:{customer_id}:{now.isoformat()}:{new}",
        "occurred_at": now,
    }


def get_tier(
    *,
    session: Session,
    customer_id: int,
    now: datetime | None = None,
    programme: rules.Programme | None = None,
) -> TierRead:
    now, programme = now_or(now), programme or get_programme(session)
    return tier_read(_snapshot(session, customer_id, now, programme), now, programme)


def _snapshot(
    session: Session, customer_id: int, now: datetime, programme: rules.Programme
) -> ledger.Snapshot | None:
    return ledger.snapshot(session, customer_id, now, window_start(now, programme))


def tier_read(
    account: ledger.Snapshot | None, now: datetime, programme: rules.Programme
) -> TierRead:
    if account is None:
        tier = programme.base_tier
        return TierRead(
            code=tier.code,
            name=tier.name,
            discount_bp=tier.discount_bp,
            points_multiplier_bp=tier.points_multiplier_bp,
            since_at=now,
            downgrade_due_at=None,
            spend_12m_fen=0,
            points_earned_12m=0,
        )
    tier = programme.tier(account.tier_code)
    return TierRead(
        code=tier.code,
        name=tier.name,
        discount_bp=tier.discount_bp,
        points_multiplier_bp=tier.points_multiplier_bp,
        since_at=account.tier_since_at,
        downgrade_due_at=account.downgrade_due_at,
        spend_12m_fen=account.spend_fen,
        points_earned_12m=account.points_earned,
    )


def review_tiers(
    *, session: Session, now: datetime | None = None, programme: rules.Programme | None = None
) -> int:
    """The periodic review (the nightly job runs it): members who no longer qualify start
    their grace period, or move down once it is over; those who qualify again keep their
    tier. Returns the accounts changed.

    Set-based: the tier window's figures of every account in two grouped queries, the rules
    in memory, and one conditional update per changed account, applied only if the account
    is as it was read (a till's upgrade committed meanwhile is never overwritten)."""
    now, programme = now_or(now), programme or get_programme(session, fresh=True)
    figures = ledger.window_figures_by_account(session, now, window_start(now, programme))
    a = LoyaltyAccount.__table__.c
    changes = []
    customers: dict[int, int] = {}
    for account_id, code, due, customer_id in session.execute(
        select(a.id, a.tier_code, a.downgrade_due_at, a.customer_id).order_by(a.id)
    ):
        spend, earned = figures.get(account_id, (0, 0))
        state = rules.tier_after(
            programme,
            current=rules.TierState(code, due),
            spend_fen=spend,
            points_earned=earned,
            now=now,
            at_review=True,
        )
        if (state.code, state.downgrade_due_at) != (code, due):
            customers[account_id] = customer_id
            changes.append(
                {
                    "account_id": account_id,
                    "old_code": code,
                    "old_due": due,
                    "new_code": state.code,
                    "new_due": state.downgrade_due_at,
                    "since": now if state.code != code else None,
                }
            )
    if not changes:
        return 0
    session.flush()
    result = session.connection().execute(_review_update(), changes)
    session.expire_all()  # accounts loaded before now may hold the old tier
    events.publish_many(
        session,
        [
            events.DomainEvent(
                "tier.changed",
                **_tier_changed(customers[c["account_id"]], c["old_code"], c["new_code"], now),
            )
            for c in changes
            if c["new_code"] != c["old_code"]
        ],
    )
    return int(result.rowcount)


@cache
def _review_update() -> Any:
    table = cast(Table, LoyaltyAccount.__table__)
    a = table.c
    return (
        update(table)
        .where(
            a.id == bindparam("account_id"),
            a.tier_code == bindparam("old_code"),
            a.downgrade_due_at.is_not_distinct_from(bindparam("old_due", type_=UTCDateTime())),
        )
        .values(
            tier_code=bindparam("new_code"),
            downgrade_due_at=bindparam("new_due", type_=UTCDateTime()),
            tier_since_at=func.coalesce(bindparam("since", type_=UTCDateTime()), a.tier_since_at),
        )
    )


def tier_code_of(*, session: Session, customer_id: int) -> str | None:
    """The member's tier code as held now (None: not a member): for service levels by tier."""
    account = account_of(session, customer_id)
    return account.tier_code if account is not None else None
