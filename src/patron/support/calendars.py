"""Business calendars and the public-holiday table behind SLA clocks.

Public holidays and adjusted working days live in the database, one version per change and
year (models.PublicHolidayYear), seeded from the ``chinesecalendar`` package. The package
raises for a year the State Council has not announced (it publishes the next year's in
October to December), so such a year simply has no version here: the clock falls back to
the weekly hours and marks what it computes provisional (see workingtime). When the year
arrives, by a newer package (``sync_public_holidays``) or typed in by an administrator
(``set_public_holidays``), each returns the years that changed so that the deadlines
computed on them can be computed again.

The functions here read and write tables; the clock itself is pure (workingtime).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from importlib import metadata
from types import MappingProxyType
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.errors import Conflict, InvalidInput
from patron.core.settings import get_settings
from patron.support.exceptions import CalendarNotFound
from patron.support.models import (
    BusinessCalendarDay,
    BusinessCalendarRow,
    CalendarDayKind,
    HolidaySource,
    PublicDayKind,
    PublicHolidayDay,
    PublicHolidayYear,
)
from patron.support.schemas import (
    CalendarCreate,
    CalendarDayIn,
    CalendarDayRead,
    CalendarRead,
    CalendarUpdate,
    PublicDayIn,
    PublicHolidaysIn,
    PublicHolidayYearRead,
    WeeklyHours,
    read_hours,
)
from patron.support.workingtime import (
    OFFICE_WEEK,
    BusinessCalendar,
    Hours,
    PublicHolidays,
    format_hours,
    hours,
)

DEFAULT_CODE = "default"

# A public day as kept: (date, kind, name).
PublicDay = tuple[date, PublicDayKind, str]


# --- public holidays ------------------------------------------------------------------


def library_version() -> str:
    return metadata.version("chinesecalendar")


def library_years() -> dict[int, list[PublicDay]]:
    """Every year the installed ``chinesecalendar`` knows, its days sorted. Names are the
    package's holiday codes (``spring_festival``), which the console translates."""
    from chinese_calendar import constants
    from chinese_calendar.constants import Holiday

    years: dict[int, list[PublicDay]] = {}
    for kind, days in (
        (PublicDayKind.HOLIDAY, constants.holidays),
        (PublicDayKind.WORKDAY, constants.workdays),
    ):
        for on, holiday in days.items():
            # the package keeps the English names (its Holiday values): keep their codes
            years.setdefault(on.year, []).append((on, kind, Holiday(holiday).name))
    return {year: sorted(days) for year, days in sorted(years.items())}


def _newest_versions(session: Session) -> dict[int, PublicHolidayYear]:
    newest = (
        select(PublicHolidayYear.year, func.max(PublicHolidayYear.version).label("version"))
        .group_by(PublicHolidayYear.year)
        .subquery()
    )
    rows = session.scalars(
        select(PublicHolidayYear).join(
            newest,
            (PublicHolidayYear.year == newest.c.year)
            & (PublicHolidayYear.version == newest.c.version),
        )
    )
    return {row.year: row for row in rows}


def _days_of(session: Session, version_ids: Iterable[int]) -> dict[int, list[PublicDay]]:
    out: dict[int, list[PublicDay]] = {}
    ids = list(version_ids)
    if not ids:
        return out
    rows = session.execute(
        select(
            PublicHolidayDay.year_id,
            PublicHolidayDay.falls_on,
            PublicHolidayDay.kind,
            PublicHolidayDay.name,
        )
        .where(PublicHolidayDay.year_id.in_(ids))
        .order_by(PublicHolidayDay.falls_on)
    )
    for year_id, on, kind, name in rows:
        out.setdefault(year_id, []).append((on, PublicDayKind(kind), name))
    return out


def _save_year(
    session: Session,
    *,
    year: int,
    days: list[PublicDay],
    source: HolidaySource,
    source_version: str | None,
    reason: str,
    changed_by: str,
    previous: PublicHolidayYear | None,
) -> PublicHolidayYear:
    row = PublicHolidayYear(
        year=year,
        version=(previous.version + 1) if previous else 1,
        source=source,
        source_version=source_version,
        reason=reason[:255],
        changed_by=changed_by[:120],
        created_at=utcnow(),
    )
    session.info.pop(_HOLIDAYS_KEY, None)
    session.add(row)
    session.flush()
    session.add_all(
        PublicHolidayDay(year_id=row.id, falls_on=on, kind=kind, name=name)
        for on, kind, name in days
    )
    session.flush()
    return row


def sync_public_holidays(
    *,
    session: Session,
    actor: Actor,
    library: Mapping[int, list[PublicDay]] | None = None,
) -> list[int]:
    """Bring in what the installed ``chinesecalendar`` knows: a year not in the table gets
    its first version, a year the package has corrected since gets a new one. A year whose
    newest version an administrator entered is left as it is (theirs stands; they can
    compare it with the package's in its history). Returns the years that changed.

    ``library`` stands in for the package's data (by year); tests and migrations pass it.
    """
    known = library_years() if library is None else library
    version = library_version()
    newest = _newest_versions(session)
    kept = _days_of(session, (row.id for row in newest.values()))
    changed: list[int] = []
    for year, days in sorted(known.items()):
        row = newest.get(year)
        if row is not None and (
            row.source == HolidaySource.STAFF or kept.get(row.id, []) == sorted(days)
        ):
            continue
        _save_year(
            session,
            year=year,
            days=sorted(days),
            source=HolidaySource.LIBRARY,
            source_version=version,
            reason=f"chinesecalendar {version}",
            changed_by=actor.name,
            previous=row,
        )
        changed.append(year)
    if changed:
        record_audit(
            session=session,
            actor=actor,
            action="support.public_holidays.sync",
            target_kind="public_holiday_year",
            details={"years": changed, "source_version": version},
        )
    return changed


def set_public_holidays(
    *, session: Session, holidays_in: PublicHolidaysIn, actor: Actor
) -> PublicHolidayYearRead:
    """A year's holidays and adjusted working days as an administrator gives them: a new
    version of the year, in force at once; the year's deadlines should be computed again."""
    previous = _newest_versions(session).get(holidays_in.year)
    days = sorted((d.falls_on, d.kind, d.name) for d in holidays_in.days)
    row = _save_year(
        session,
        year=holidays_in.year,
        days=days,
        source=HolidaySource.STAFF,
        source_version=None,
        reason=holidays_in.reason,
        changed_by=actor.name,
        previous=previous,
    )
    record_audit(
        session=session,
        actor=actor,
        action="support.public_holidays.set",
        target_kind="public_holiday_year",
        target_id=holidays_in.year,
        reason=holidays_in.reason,
        details={"version": row.version, "days": len(days)},
    )
    return _year_read(row, days)


def _year_read(row: PublicHolidayYear, days: list[PublicDay]) -> PublicHolidayYearRead:
    return PublicHolidayYearRead(
        year=row.year,
        version=row.version,
        source=row.source,
        source_version=row.source_version,
        reason=row.reason,
        changed_by=row.changed_by,
        created_at=row.created_at,
        days=[PublicDayIn(falls_on=on, kind=kind, name=name) for on, kind, name in days],
    )


def public_holiday_history(*, session: Session, year: int) -> list[PublicHolidayYearRead]:
    """Every version of a year, newest first."""
    rows = list(
        session.scalars(
            select(PublicHolidayYear)
            .where(PublicHolidayYear.year == year)
            .order_by(PublicHolidayYear.version.desc())
        )
    )
    days = _days_of(session, (r.id for r in rows))
    return [_year_read(r, days.get(r.id, [])) for r in rows]


_HOLIDAYS_KEY = "patron.support.public_holidays"


def public_holidays(session: Session) -> PublicHolidays:
    """The public holidays in force: each year's newest version. Read once per session (an
    SLA sweep asks for every ticket); saving a year in the session reads them afresh."""
    kept = session.info.get(_HOLIDAYS_KEY)
    if isinstance(kept, PublicHolidays):
        return kept
    found = _read_public_holidays(session)
    session.info[_HOLIDAYS_KEY] = found
    return found


def _read_public_holidays(session: Session) -> PublicHolidays:
    newest = _newest_versions(session)
    days = _days_of(session, (row.id for row in newest.values()))
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    for row in newest.values():
        for on, kind, name in days.get(row.id, []):
            (holidays if kind == PublicDayKind.HOLIDAY else workdays)[on] = name
    return PublicHolidays(
        holidays=MappingProxyType(holidays),
        workdays=MappingProxyType(workdays),
        years=frozenset(newest),
    )


# --- business calendars ---------------------------------------------------------------


def _spans(value: list[list[int]] | None) -> Hours:
    return hours(*((a, b) for a, b in value or []))


def _stored(day: Hours) -> list[list[int]]:
    return [[s.start, s.end] for s in day]


def _get_row(session: Session, code: str) -> BusinessCalendarRow | None:
    return session.scalar(select(BusinessCalendarRow).where(BusinessCalendarRow.code == code))


def _get_row_or_raise(session: Session, code: str) -> BusinessCalendarRow:
    row = _get_row(session, code)
    if row is None:
        raise CalendarNotFound(f"no business calendar {code!r}", code=code)
    return row


def create_calendar(*, session: Session, calendar_in: CalendarCreate, actor: Actor) -> CalendarRead:
    """A new calendar, for the chain (no store) or for one store."""
    if _get_row(session, calendar_in.code) is not None:
        raise Conflict(f"a calendar {calendar_in.code!r} exists", code=calendar_in.code)
    if calendar_in.store_id is not None and session.scalar(
        select(BusinessCalendarRow.id).where(BusinessCalendarRow.store_id == calendar_in.store_id)
    ):
        raise Conflict(
            "that store has a calendar already: change it instead",
            store_id=calendar_in.store_id,
        )
    now = utcnow()
    row = BusinessCalendarRow(
        code=calendar_in.code,
        name=calendar_in.name,
        store_id=calendar_in.store_id,
        time_zone=calendar_in.time_zone,
        weekly_hours=[_stored(day) for day in calendar_in.weekly.as_hours()],
        workday_hours=None
        if calendar_in.workday_hours is None
        else _stored(read_hours(calendar_in.workday_hours, "workday_hours")),
        observes_public_holidays=calendar_in.observes_public_holidays,
        revision=1,
        changed_by=actor.name[:120],
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="support.calendar.create",
        target_kind="business_calendar",
        target_id=row.id,
        details={"code": row.code},
    )
    return _read(session, row)


def update_calendar(
    *, session: Session, code: str, update_in: CalendarUpdate, actor: Actor
) -> CalendarRead:
    """Change a calendar's hours, zone or name; its revision goes up, so the deadlines
    computed on it can be found and computed again."""
    row = _get_row_or_raise(session, code)
    if update_in.expected_revision not in (None, row.revision):
        raise Conflict(
            f"the calendar was changed (revision {row.revision}, by {row.changed_by}) after "
            f"revision {update_in.expected_revision} was opened: start again from it",
            revision=row.revision,
        )
    changed: list[str] = []
    if update_in.name is not None and update_in.name != row.name:
        row.name = update_in.name
        changed.append("name")
    if update_in.time_zone is not None and update_in.time_zone != row.time_zone:
        row.time_zone = update_in.time_zone
        changed.append("time_zone")
    if update_in.weekly is not None:
        weekly = [_stored(day) for day in update_in.weekly.as_hours()]
        if weekly != row.weekly_hours:
            row.weekly_hours = weekly
            changed.append("weekly")
    if update_in.workday_hours is not None:
        text = update_in.workday_hours.strip()
        workday = _stored(read_hours(text, "workday_hours")) if text else None
        if workday != row.workday_hours:
            row.workday_hours = workday
            changed.append("workday_hours")
    if (
        update_in.observes_public_holidays is not None
        and update_in.observes_public_holidays != row.observes_public_holidays
    ):
        row.observes_public_holidays = update_in.observes_public_holidays
        changed.append("observes_public_holidays")
    if changed:
        _touch(session, row, actor, "support.calendar.update", {"changed": changed})
    return _read(session, row)


def _touch(
    session: Session,
    row: BusinessCalendarRow,
    actor: Actor,
    action: str,
    details: dict[str, object],
    reason: str | None = None,
) -> None:
    row.revision += 1
    row.changed_by = actor.name[:120]
    row.updated_at = utcnow()
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action=action,
        target_kind="business_calendar",
        target_id=row.id,
        reason=reason,
        details={"code": row.code, "revision": row.revision, **details},
    )


def set_calendar_day(
    *, session: Session, code: str, day_in: CalendarDayIn, actor: Actor
) -> CalendarRead:
    """Add or replace a calendar's entry for one date (its own holiday, an extra working
    day, or an administrator's hours)."""
    row = _get_row_or_raise(session, code)
    session.execute(
        delete(BusinessCalendarDay).where(
            BusinessCalendarDay.calendar_id == row.id,
            BusinessCalendarDay.falls_on == day_in.falls_on,
        )
    )
    session.add(
        BusinessCalendarDay(
            calendar_id=row.id,
            falls_on=day_in.falls_on,
            kind=day_in.kind,
            hours=_stored(read_hours(day_in.hours, "hours"))
            if day_in.kind == CalendarDayKind.HOURS and day_in.hours is not None
            else None,
            reason=day_in.reason,
            changed_by=actor.name[:120],
            created_at=utcnow(),
        )
    )
    _touch(
        session,
        row,
        actor,
        "support.calendar.day.set",
        {"falls_on": day_in.falls_on.isoformat(), "kind": str(day_in.kind)},
        reason=day_in.reason,
    )
    return _read(session, row)


def remove_calendar_day(
    *, session: Session, code: str, falls_on: date, reason: str, actor: Actor
) -> CalendarRead:
    """Drop a calendar's entry for one date: the day goes back to the weekly and public
    rules."""
    row = _get_row_or_raise(session, code)
    gone = session.execute(
        delete(BusinessCalendarDay).where(
            BusinessCalendarDay.calendar_id == row.id, BusinessCalendarDay.falls_on == falls_on
        )
    ).rowcount  # type: ignore[attr-defined]
    if not gone:
        raise InvalidInput("falls_on", f"the calendar has no entry on {falls_on}")
    _touch(
        session,
        row,
        actor,
        "support.calendar.day.remove",
        {"falls_on": falls_on.isoformat()},
        reason=reason,
    )
    return _read(session, row)


def _day_rows(session: Session, calendar_id: int) -> list[BusinessCalendarDay]:
    return list(
        session.scalars(
            select(BusinessCalendarDay)
            .where(BusinessCalendarDay.calendar_id == calendar_id)
            .order_by(BusinessCalendarDay.falls_on)
        )
    )


def _read(session: Session, row: BusinessCalendarRow) -> CalendarRead:
    return CalendarRead(
        id=row.id,
        code=row.code,
        name=row.name,
        store_id=row.store_id,
        time_zone=row.time_zone,
        weekly=WeeklyHours.of(tuple(_spans(day) for day in row.weekly_hours)),
        workday_hours=None
        if row.workday_hours is None
        else format_hours(_spans(row.workday_hours)),
        observes_public_holidays=row.observes_public_holidays,
        revision=row.revision,
        changed_by=row.changed_by,
        updated_at=row.updated_at,
        days=[
            CalendarDayRead(
                falls_on=d.falls_on,
                kind=CalendarDayKind(d.kind),
                hours=None if d.hours is None else format_hours(_spans(d.hours)),
                reason=d.reason,
                changed_by=d.changed_by,
                created_at=d.created_at,
            )
            for d in _day_rows(session, row.id)
        ],
    )


def get_calendar(*, session: Session, code: str) -> CalendarRead | None:
    row = _get_row(session, code)
    return None if row is None else _read(session, row)


def get_calendar_or_raise(*, session: Session, code: str) -> CalendarRead:
    return _read(session, _get_row_or_raise(session, code))


def _to_clock(
    session: Session, row: BusinessCalendarRow, public: PublicHolidays | None
) -> BusinessCalendar:
    holidays: dict[date, str] = {}
    extra: dict[date, str] = {}
    overrides: dict[date, tuple[Hours, str]] = {}
    for d in _day_rows(session, row.id):
        if d.kind == CalendarDayKind.CLOSED:
            holidays[d.falls_on] = d.reason
        elif d.kind == CalendarDayKind.OPEN:
            extra[d.falls_on] = d.reason
        else:
            overrides[d.falls_on] = (_spans(d.hours), d.reason)
    return BusinessCalendar(
        weekly=tuple(_spans(day) for day in row.weekly_hours),
        zone=ZoneInfo(row.time_zone),
        public=(public if public is not None else public_holidays(session))
        if row.observes_public_holidays
        else None,
        holidays=MappingProxyType(holidays),
        extra_workdays=MappingProxyType(extra),
        overrides=MappingProxyType(overrides),
        workday_hours=None if row.workday_hours is None else _spans(row.workday_hours),
    )


def business_calendar(*, session: Session, code: str) -> BusinessCalendar:
    """The clock's calendar for ``code``, with the public holidays in force."""
    return _to_clock(session, _get_row_or_raise(session, code), None)


def calendar_for_store(*, session: Session, store_id: int | None) -> BusinessCalendar:
    """The calendar an SLA clock uses for a store: the store's own, else the chain's
    (code ``default``), else office hours (Monday to Friday, 09:00-18:00) in the shop's
    zone with the public holidays."""
    row = None
    if store_id is not None:
        row = session.scalar(
            select(BusinessCalendarRow).where(BusinessCalendarRow.store_id == store_id)
        )
    if row is None:
        row = _get_row(session, DEFAULT_CODE)
    if row is not None:
        return _to_clock(session, row, None)
    return BusinessCalendar(
        weekly=OFFICE_WEEK, zone=get_settings().zone, public=public_holidays(session)
    )
