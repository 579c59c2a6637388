"""Birthday gifts: the tier's points on the day, once a year, 29 February kept on the 28th."""

from __future__ import annotations

from datetime import UTC, date, datetime

from patron.core.db import Database
from patron.loyalty import rules
from patron.loyalty.birthdays import give_birthday_gifts
from patron.loyalty.points import get_balance
from patron.loyalty.schemas import BirthdayGifts
from tests.helpers import sign_up
from tests.loyalty.helpers import PLAIN

# 2026-05-20 09:00 in Shanghai.
MORNING = datetime(2026, 5, 20, 1, 0, tzinfo=UTC)


def _run(db: Database, now: datetime = MORNING) -> BirthdayGifts:
    return db.write(lambda s: give_birthday_gifts(session=s, now=now, programme=PLAIN))


def _available(db: Database, customer_id: int, now: datetime = MORNING) -> int:
    return db.read(lambda s: get_balance(session=s, customer_id=customer_id, now=now)).available


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


def _is_birthday(born: date, today: date) -> bool:
    return rules.birthday_days(today, back=0).get((born.month, born.day)) == today


def test_the_day_is_the_shops_local_day() -> None:
    assert _is_birthday(date(1990, 5, 20), date(2026, 5, 20))
    assert not _is_birthday(date(1990, 5, 20), date(2026, 5, 19))
    assert _is_birthday(date(2000, 2, 29), date(2027, 2, 28))
    assert not _is_birthday(date(2000, 2, 29), date(2028, 2, 28))
    assert _is_birthday(date(2000, 2, 29), date(2028, 2, 29))


def test_late_evening_utc_is_already_tomorrow_in_shanghai(db: Database) -> None:
    member = sign_up(db, phone="13500000004", birthday="1988-05-21")
    # 2026-05-20 16:30 UTC is 2026-05-21 00:30 in Shanghai.
    result = _run(db, datetime(2026, 5, 20, 16, 30, tzinfo=UTC))
    assert (result.day, result.given) == (date(2026, 5, 21), 1)
    assert _available(db, member, datetime(2026, 5, 21, 1, 0, tzinfo=UTC)) > 0


def test_a_birthday_on_a_night_without_a_run_is_made_up_within_the_week(db: Database) -> None:
    signed = "2026-01-10T02:00:00Z"
    missed = sign_up(db, phone="13500000011", birthday="1990-05-18", signed_up_at=signed)
    week_ago = sign_up(db, phone="13500000012", birthday="1990-05-14", signed_up_at=signed)
    too_long = sign_up(db, phone="13500000013", birthday="1990-05-13", signed_up_at=signed)
    # Signed up on 19 May, after their birthday on the 18th: no gift for a day before joining.
    joined_after = sign_up(
        db, phone="13500000014", birthday="1991-05-18", signed_up_at="2026-05-19T02:00:00Z"
    )
    today = sign_up(db, phone="13500000015", birthday="1992-05-20")

    result = _run(db)  # 20 May: the runs of the 14th to the 19th never happened

    assert (result.birthdays, result.given, result.made_up) == (1, 3, 2)
    gift = PLAIN.base_tier.birthday_points
    assert _available(db, missed) == _available(db, week_ago) == _available(db, today) == gift
    assert _available(db, too_long) == _available(db, joined_after) == 0
    again = _run(db, datetime(2026, 5, 21, 1, 0, tzinfo=UTC))
    assert (again.given, again.made_up) == (0, 0)  # still once a year


def test_a_birthday_is_not_made_up_into_the_next_year(db: Database) -> None:
    member = sign_up(
        db, phone="13500000021", birthday="1990-12-31", signed_up_at="2026-01-10T02:00:00Z"
    )
    # 2 January 2027 in Shanghai: 31 December was last year's birthday, and its gift too.
    result = _run(db, datetime(2027, 1, 2, 1, 0, tzinfo=UTC))
    assert (result.given, result.made_up) == (0, 0)
    assert _available(db, member, datetime(2027, 1, 2, 1, 0, tzinfo=UTC)) == 0


def test_birthday_days_keep_29_february_on_the_28th_in_other_years() -> None:
    days = rules.birthday_days(date(2027, 3, 1), back=2)
    assert days == {(2, 27): date(2027, 2, 27), (2, 28): date(2027, 2, 28),
                    (2, 29): date(2027, 2, 28), (3, 1): date(2027, 3, 1)}  # fmt: skip
    assert (2, 29) not in rules.birthday_days(date(2028, 2, 28), back=0)
    assert rules.birthday_days(date(2027, 1, 1), back=6) == {(1, 1): date(2027, 1, 1)}
