"""What every loyalty module starts from: the programme in force, the clock, and a
member's account (opened, and locked, on first use)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.loyalty import ledger, rules
from patron.loyalty import programme as programme_terms
from patron.loyalty.models import LoyaltyAccount
from patron.loyalty.schemas import Balance


def get_programme(session: Session, *, fresh: bool = False) -> rules.Programme:
    """The programme's terms in force (``programme.current``): as read in the last few
    seconds for the till's reads; ``fresh`` for calls that write the ledger."""
    return programme_terms.current(session, fresh=fresh)


def now_or(now: datetime | None) -> datetime:
    return now if now is not None else utcnow()


def open_account(
    session: Session, customer_id: int, now: datetime, programme: rules.Programme
) -> LoyaltyAccount:
    """The member's account, locked; opened on first use."""
    return ledger.open_account(session, customer_id, now, programme)


def account_of(session: Session, customer_id: int) -> LoyaltyAccount | None:
    return session.scalar(select(LoyaltyAccount).where(LoyaltyAccount.customer_id == customer_id))


def no_points() -> Balance:
    """The balance of a member with no account yet (a new one each time: models are mutable)."""
    return Balance(available=0, pending=0, expired_unposted=0, ledger_total=0)
