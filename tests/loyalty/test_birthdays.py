"""Birthday gifts: the tier's points on the day, once a year, 29 February kept on the 28th."""

from __future__ import annotations

from datetime import UTC, date, datetime

from patron.core.db import Database
from patron.loyalty import rules
from patron.loyalty import service as loyalty
from patron.loyalty.schemas import BirthdayGifts
from tests.factories import sign_up
from tests.loyalty.builders import PLAIN

# 2026-05-20 09:00 in Shanghai.
MORNING = datetime(2026, 5, 20, 1, 0, tzinfo=UTC)


def _run(db: Database, now: datetime = MORNING) -> BirthdayGifts:
    return db.write(lambda s: loyalty.give_birthday_gifts(session=s, now=now, programme=PLAIN))


def _available(db: Database, customer_id: int, now: datetime = MORNING) -> int:
    return db.read(
        lambda s: loyalty.get_balance(session=s, customer_id=customer_id, now=now)
    ).available


def test_members_get_their_tiers_gift_on_the_day_and_only_once_a_year(db: Database) -> None:
    today = sign_up(db, phone="13500000001", birthday="1990-05-20")
    other_day = sign_up(db, phone="13500000002", birthday="1990-05-21")
    unknown = sign_up(db, phone="13500000003")
    first = _run(db)
    assert (first.day, first.birthdays, first.given) == (date(2026, 5, 20), 1, 1)
    gift = PLAIN.base_tier.birthday_points
    assert first.points == gift
    assert _available(db, today) == gift
    assert _available(db, other_day) == _available(db, unknown) == 0
    again = _run(db)
    assert (again.birthdays, again.given) == (1, 0)
    next_year = datetime(2027, 5, 20, 1, 0, tzinfo=UTC)
    assert _run(db, next_year).given == 1


def test_the_day_is_the_shops_local_day() -> None:
    assert rules.is_birthday(date(1990, 5, 20), date(2026, 5, 20))
    assert not rules.is_birthday(date(1990, 5, 20), date(2026, 5, 19))
    assert rules.is_birthday(date(2000, 2, 29), date(2027, 2, 28))
    assert not rules.is_birthday(date(2000, 2, 29), date(2028, 2, 28))
    assert rules.is_birthday(date(2000, 2, 29), date(2028, 2, 29))


def test_late_evening_utc_is_already_tomorrow_in_shanghai(db: Database) -> None:
    member = sign_up(db, phone="13500000004", birthday="1988-05-21")
    # 2026-05-20 16:30 UTC is 2026-05-21 00:30 in Shanghai.
    result = _run(db, datetime(2026, 5, 20, 16, 30, tzinfo=UTC))
    assert (result.day, result.given) == (date(2026, 5, 21), 1)
    assert _available(db, member, datetime(2026, 5, 21, 1, 0, tzinfo=UTC)) > 0
