"""Birthday points: each member's tier gift on their birthday, once a year, with a make-up
for nights the server was off. No commits here."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.customers import service as customers
from patron.loyalty import ledger, rules
from patron.loyalty.accounts import get_programme, now_or, open_account
from patron.loyalty.models import (
    EntryKind,
    LotKind,
    PointsLot,
)
from patron.loyalty.schemas import BirthdayGifts

# A birthday gift missed because no run happened that night is made up for this long.
BIRTHDAY_MAKE_UP_DAYS = 6


def give_birthday_gifts(
    *,
    session: Session,
    today: date | None = None,
    now: datetime | None = None,
    programme: rules.Programme | None = None,
) -> BirthdayGifts:
    """Every member whose birthday is ``today`` (local) gets their tier's birthday points,
    available at once, at most once a calendar year. Run daily (the nightly job does).

    A birthday in the last ``BIRTHDAY_MAKE_UP_DAYS`` days of this year that no run gave a
    gift for (the server was off that night) is made up now, for a member who had signed
    up by the end of that day."""
    now, programme = now_or(now), programme or get_programme(session, fresh=True)
    today = today or now.astimezone(programme.zone).date()
    year_start = datetime(today.year, 1, 1, tzinfo=programme.zone)
    days = rules.birthday_days(today, back=BIRTHDAY_MAKE_UP_DAYS)
    on: dict[int, date] = {}  # customer → the day of their birthday in the window
    for cid, (born, signed_up_at) in customers.birthdays(session=session).items():
        day = days.get((born.month, born.day))
        if day is None:
            continue
        ended = datetime.combine(day + timedelta(days=1), time(), programme.zone)
        if day == today or signed_up_at < ended:  # a past day's gift: a member by then
            on[cid] = day
    due = sorted(on)
    given = points = made_up = 0
    for customer_id in due:
        account = open_account(session, customer_id, now, programme)
        gift = programme.tier(account.tier_code).birthday_points
        if gift <= 0:
            continue
        had = session.scalar(
            select(PointsLot.id).where(
                PointsLot.account_id == account.id,
                PointsLot.kind == LotKind.BIRTHDAY,
                PointsLot.earned_at >= year_start,
            )
        )
        if had is not None:
            continue
        ledger.new_lot(
            session,
            account,
            kind=LotKind.BIRTHDAY,
            entry_kind=EntryKind.BIRTHDAY,
            points=gift,
            earned_at=now,
            available_at=now,
            expires_at=now + timedelta(days=programme.expiry_days),
            reason=f"birthday {today.year}",
        )
        given += 1
        points += gift
        made_up += on[customer_id] < today
    session.flush()
    birthdays = sum(day == today for day in on.values())
    return BirthdayGifts(
        day=today, birthdays=birthdays, given=given, made_up=made_up, points=points
    )
