"""Business calendars and the public-holiday table in the database: seeded from the
chinesecalendar package, edited by an administrator in versions, read back as the clock's
calendar, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from patron.audit.models import AuditEntry
from patron.catalog import service as catalog
from patron.catalog.schemas import StoreCreate
from patron.core.actor import system_actor
from patron.core.db import Database
from patron.core.errors import Conflict, InvalidInput
from patron.support import calendars
from patron.support.exceptions import CalendarNotFound
from patron.support.models import PublicHolidayYear
from patron.support.schemas import (
    CalendarCreate,
    CalendarDayIn,
    CalendarUpdate,
    PublicHolidaysIn,
    WeeklyHours,
)
from patron.support.workingtime import SHANGHAI, DayKind, add_business_minutes

ADMIN = system_actor("admin")


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def seeded(db: Database) -> None:
    """The table as the upgrade leaves it (PostgreSQL tests start from empty tables)."""
    db.write(lambda s: calendars.sync_public_holidays(session=s, actor=ADMIN))


def test_the_table_holds_every_year_the_package_knows(db: Database) -> None:
    seeded(db)
    public = db.read(calendars.public_holidays)
    assert set(range(2004, 2027)) <= public.years
    assert public.holidays[date(2026, 2, 17)] == "spring_festival"
    assert public.workdays[date(2026, 2, 14)] == "spring_festival"
    assert public.workdays[date(2025, 1, 26)] == "spring_festival"


def test_syncing_again_adds_nothing(db: Database) -> None:
    seeded(db)
    assert db.write(lambda s: calendars.sync_public_holidays(session=s, actor=ADMIN)) == []
    versions = db.read(lambda s: calendars.public_holiday_history(session=s, year=2026))
    assert [v.version for v in versions] == [1]
    assert versions[0].source == "chinesecalendar"
    assert versions[0].source_version == calendars.library_version()


def test_a_correction_in_a_newer_package_becomes_a_new_version(db: Database) -> None:
    seeded(db)
    corrected = calendars.library_years()
    corrected[2026] = [d for d in corrected[2026] if d[0] != date(2026, 2, 28)]
    corrected[2027] = [(date(2027, 1, 1), "holiday", "new_years_day")]  # type: ignore[list-item]
    changed = db.write(
        lambda s: calendars.sync_public_holidays(session=s, actor=ADMIN, library=corrected)
    )
    assert changed == [2026, 2027]
    history = db.read(lambda s: calendars.public_holiday_history(session=s, year=2026))
    assert [v.version for v in history] == [2, 1]
    public = db.read(calendars.public_holidays)
    assert date(2026, 2, 28) not in public.workdays
    assert 2027 in public.years


def test_an_administrators_year_makes_deadlines_in_it_final(db: Database) -> None:
    seeded(db)
    before = db.read(lambda s: calendars.calendar_for_store(session=s, store_id=None))
    guess = add_business_minutes(before, sh(2026, 12, 31, 17, 0), 120)
    assert guess.provisional
    assert guess.at == sh(2027, 1, 1, 10, 0)

    year = PublicHolidaysIn(
        year=2027,
        days=[{"falls_on": date(2027, 1, 1), "kind": "holiday", "name": "元旦"}],  # type: ignore[list-item]
        reason="国务院办公厅 2027 年部分节假日安排的通知",
    )
    saved = db.write(
        lambda s: calendars.set_public_holidays(session=s, holidays_in=year, actor=ADMIN)
    )
    assert (saved.version, saved.source) == (1, "staff")

    after = db.read(lambda s: calendars.calendar_for_store(session=s, store_id=None))
    again = add_business_minutes(after, sh(2026, 12, 31, 17, 0), 120)
    assert not again.provisional
    assert again.at == sh(2027, 1, 4, 10, 0)
    actions = db.read(lambda s: list(s.scalars(select(AuditEntry.action))))
    assert "support.public_holidays.set" in actions


def test_the_package_does_not_overwrite_an_administrators_year(db: Database) -> None:
    seeded(db)
    mine = PublicHolidaysIn(
        year=2026,
        days=[{"falls_on": date(2026, 2, 17), "kind": "holiday", "name": "春节"}],  # type: ignore[list-item]
        reason="only the first day, as our shops close",
    )
    db.write(lambda s: calendars.set_public_holidays(session=s, holidays_in=mine, actor=ADMIN))
    assert db.write(lambda s: calendars.sync_public_holidays(session=s, actor=ADMIN)) == []
    public = db.read(calendars.public_holidays)
    assert date(2026, 2, 16) not in public.holidays
    assert date(2026, 2, 17) in public.holidays
    rows = db.read(
        lambda s: list(
            s.scalars(select(PublicHolidayYear.version).where(PublicHolidayYear.year == 2026))
        )
    )
    assert sorted(rows) == [1, 2]


def test_a_year_given_with_a_day_of_another_year_is_refused() -> None:
    with pytest.raises(ValidationError) as error:
        PublicHolidaysIn(
            year=2027,
            days=[{"falls_on": date(2026, 12, 31), "kind": "holiday", "name": "x"}],  # type: ignore[list-item]
            reason="typo",
        )
    assert "days.0.falls_on" in str(error.value)


def test_a_store_calendar_with_its_own_dates_drives_its_clock(db: Database) -> None:
    seeded(db)
    store = db.write(
        lambda s: catalog.create_store(
            session=s, store_in=StoreCreate(code="SH01", name="上海南京路店")
        )
    )
    calendar_in = CalendarCreate(
        code="sh01",
        name="南京路店售后",
        store_id=store.id,
        weekly=WeeklyHours(
            monday="10:00-12:00, 13:00-21:00",
            tuesday="10:00-12:00, 13:00-21:00",
            wednesday="10:00-12:00, 13:00-21:00",
            thursday="10:00-12:00, 13:00-21:00",
            friday="10:00-12:00, 13:00-21:00",
            saturday="10:00-18:00",
            sunday="",
        ),
    )
    created = db.write(
        lambda s: calendars.create_calendar(session=s, calendar_in=calendar_in, actor=ADMIN)
    )
    assert created.revision == 1
    db.write(
        lambda s: calendars.set_calendar_day(
            session=s,
            code="sh01",
            day_in=CalendarDayIn(falls_on=date(2026, 3, 4), kind="closed", reason="装修"),  # type: ignore[arg-type]
            actor=ADMIN,
        )
    )
    read = db.write(
        lambda s: calendars.set_calendar_day(
            session=s,
            code="sh01",
            day_in=CalendarDayIn(
                falls_on=date(2026, 3, 5),
                kind="hours",  # type: ignore[arg-type]
                hours="15:00-17:00",
                reason="盘点",
            ),
            actor=ADMIN,
        )
    )
    assert read.revision == 3
    assert [(d.falls_on, d.kind, d.hours) for d in read.days] == [
        (date(2026, 3, 4), "closed", None),
        (date(2026, 3, 5), "hours", "15:00-17:00"),
    ]
    clock = db.read(lambda s: calendars.calendar_for_store(session=s, store_id=store.id))
    assert clock.day(date(2026, 2, 14)).kind == DayKind.ADJUSTED_WORKDAY
    # Tuesday 20:30 + 2 h: half an hour on Tuesday, Wednesday closed, 1.5 h on Thursday
    due = add_business_minutes(clock, sh(2026, 3, 3, 20, 30), 120)
    assert due.at == sh(2026, 3, 5, 16, 30)
    # another store has no calendar of its own: office hours
    other = db.read(lambda s: calendars.calendar_for_store(session=s, store_id=store.id + 1))
    assert add_business_minutes(other, sh(2026, 3, 3, 20, 30), 120).at == sh(2026, 3, 4, 11, 0)

    db.write(
        lambda s: calendars.remove_calendar_day(
            session=s, code="sh01", falls_on=date(2026, 3, 4), reason="装修推迟", actor=ADMIN
        )
    )
    clock = db.read(lambda s: calendars.calendar_for_store(session=s, store_id=store.id))
    assert add_business_minutes(clock, sh(2026, 3, 3, 20, 30), 120).at == sh(2026, 3, 4, 11, 30)


def test_the_chains_default_calendar_serves_stores_without_one(db: Database) -> None:
    seeded(db)
    calendar_in = CalendarCreate(
        code="default",
        name="总部客服",
        weekly=WeeklyHours(saturday="09:00-12:00"),
        observes_public_holidays=False,
    )
    db.write(lambda s: calendars.create_calendar(session=s, calendar_in=calendar_in, actor=ADMIN))
    clock = db.read(lambda s: calendars.calendar_for_store(session=s, store_id=None))
    assert clock.public is None
    # the festival is worked: Monday 16 February 2026 17:30 + 1 h
    assert add_business_minutes(clock, sh(2026, 2, 16, 17, 30), 60).at == sh(2026, 2, 17, 9, 30)


def test_a_change_raises_the_revision_and_a_stale_one_is_refused(db: Database) -> None:
    calendar_in = CalendarCreate(code="hq", name="总部")
    db.write(lambda s: calendars.create_calendar(session=s, calendar_in=calendar_in, actor=ADMIN))
    changed = db.write(
        lambda s: calendars.update_calendar(
            session=s,
            code="hq",
            update_in=CalendarUpdate(
                weekly=WeeklyHours(saturday="10:00-16:00"), workday_hours="09:00-17:00"
            ),
            actor=ADMIN,
        )
    )
    assert changed.revision == 2
    assert changed.weekly.saturday == "10:00-16:00"
    assert changed.workday_hours == "09:00-17:00"
    unchanged = db.write(
        lambda s: calendars.update_calendar(
            session=s, code="hq", update_in=CalendarUpdate(name="总部"), actor=ADMIN
        )
    )
    assert unchanged.revision == 2
    with pytest.raises(Conflict):
        db.write(
            lambda s: calendars.update_calendar(
                session=s,
                code="hq",
                update_in=CalendarUpdate(name="新名字", expected_revision=1),
                actor=ADMIN,
            )
        )
    with pytest.raises(Conflict):
        db.write(
            lambda s: calendars.create_calendar(session=s, calendar_in=calendar_in, actor=ADMIN)
        )


def test_bad_hours_and_zones_are_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as weekly:
        WeeklyHours(tuesday="18:00-09:00")
    assert "tuesday" in str(weekly.value)
    with pytest.raises(ValidationError) as zone:
        CalendarCreate(code="x", name="x", time_zone="Asia/Beijing")
    assert "time_zone" in str(zone.value)
    with pytest.raises(ValidationError) as changed_zone:
        CalendarUpdate(time_zone="Mars/Olympus")
    assert "time_zone" in str(changed_zone.value)
    with pytest.raises(ValidationError) as day:
        CalendarDayIn(falls_on=date(2026, 3, 5), kind="hours", reason="x")  # type: ignore[arg-type]
    assert "hours" in str(day.value)


def test_an_unknown_calendar_or_date_is_refused(db: Database) -> None:
    with pytest.raises(CalendarNotFound):
        db.read(lambda s: calendars.business_calendar(session=s, code="nope"))
    calendar_in = CalendarCreate(code="hq", name="总部")
    db.write(lambda s: calendars.create_calendar(session=s, calendar_in=calendar_in, actor=ADMIN))
    with pytest.raises(InvalidInput) as error:
        db.write(
            lambda s: calendars.remove_calendar_day(
                session=s, code="hq", falls_on=date(2026, 1, 1), reason="x", actor=ADMIN
            )
        )
    assert error.value.field == "falls_on"


def test_the_upgrade_seeds_the_table_from_the_package(sqlite_db: Database) -> None:
    history = sqlite_db.read(lambda s: calendars.public_holiday_history(session=s, year=2025))
    assert [(v.version, v.changed_by) for v in history] == [(1, "migration")]
    assert any(d.falls_on == date(2025, 2, 8) and d.kind == "workday" for d in history[0].days)
    assert history[0].created_at <= datetime.now(UTC)
