"""Working time: a business calendar and a clock that runs only in its opening hours.

Pure functions of plain data, no database. A calendar is a time zone, weekly opening hours
(several ranges a day), the country's public holidays and adjusted working days (调休), the
calendar's own dated holidays and extra working days, and dated overrides of the hours. For
one local day the first of these that speaks wins::

    override  >  own holiday / own extra working day  >  public holiday / adjusted working day
              >  weekly hours

A day in a year whose public holidays have not been announced yet is counted by the weekly
hours alone (Monday to Friday for an office), and every result that touched such a day is
*provisional*: recompute it when the year's holidays arrive.

Instants are timezone-aware (a naive one is refused: nobody can know which zone it meant)
and every date look-up is made on the local date in the calendar's zone, never on the UTC
date: 23:30 UTC on 14 February 2026 is already 15 February, Spring Festival, in Shanghai.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from types import MappingProxyType
from zoneinfo import ZoneInfo

from patron.support.exceptions import (
    EndBeforeStart,
    InvalidHours,
    NaiveInstant,
    NoWorkingHours,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
MINUTES_IN_DAY = 24 * 60
# Adding time gives up after this many days in a row without a working minute: a calendar
# closed for longer than a year would otherwise never reach its deadline.
MAX_CLOSED_DAYS = 400

_EMPTY: Mapping[date, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """An opening range inside one local day, in minutes from midnight (end 1440 = 24:00)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= MINUTES_IN_DAY:
            raise InvalidHours(
                "hours", f"{_clock(self.start)}-{_clock(self.end)} is not a range within a day"
            )

    @property
    def minutes(self) -> int:
        return self.end - self.start

    def __str__(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"


Hours = tuple[Span, ...]
CLOSED: Hours = ()

_RANGE = re.compile(r"^\s*(\d{1,2})[:：](\d{2})\s*(?:-|–|—|~|～|至|到)\s*(\d{1,2})[:：](\d{2})\s*$")


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minute(hour: str, minute: str, text: str) -> int:
    h, m = int(hour), int(minute)
    if m >= 60 or h > 24 or (h == 24 and m):
        raise InvalidHours("hours", f"{text.strip()!r} is not a time of day")
    return h * 60 + m


def hours(*ranges: str | tuple[int, int] | Span) -> Hours:
    """Opening ranges for one day, sorted; refuses ranges that overlap.

    Each range is ``"09:00-12:00"`` (also ``09：00～12：00``, ``9:00至12:00``), a pair of
    minutes from midnight, or a ``Span``. ``hours()`` is a closed day.
    """
    spans: list[Span] = []
    for item in ranges:
        if isinstance(item, Span):
            spans.append(item)
        elif isinstance(item, str):
            parts = [p for p in re.split(r"[,，;；、]", item) if p.strip()]
            for part in parts:
                m = _RANGE.match(part)
                if not m:
                    raise InvalidHours("hours", f"{part.strip()!r} is not a range like 09:00-18:00")
                opens, closes = _minute(m[1], m[2], part), _minute(m[3], m[4], part)
                if closes <= opens:
                    raise InvalidHours(
                        "hours",
                        f"{part.strip()!r} ends before it starts (split overnight hours at 24:00)",
                    )
                spans.append(Span(opens, closes))
        else:
            spans.append(Span(int(item[0]), int(item[1])))
    spans.sort()
    for before, after in itertools.pairwise(spans):
        if after.start < before.end:
            raise InvalidHours("hours", f"{before} and {after} overlap")
    return tuple(spans)


def format_hours(day: Hours) -> str:
    """``09:00-12:00, 13:00-18:00``; an empty string for a closed day."""
    return ", ".join(str(s) for s in day)


class DayKind(StrEnum):
    """Why a local day has the hours it has."""

    WEEKLY = "weekly"  # the weekly hours
    PUBLIC_HOLIDAY = "public_holiday"  # a public holiday: closed
    ADJUSTED_WORKDAY = "adjusted_workday"  # a weekend day worked in lieu (调休上班)
    HOLIDAY = "holiday"  # the calendar's own dated holiday: closed
    EXTRA_WORKDAY = "extra_workday"  # the calendar's own dated extra working day
    OVERRIDE = "override"  # hours set for that date by an administrator


@dataclass(frozen=True, slots=True)
class PublicHolidays:
    """A country's public holidays and adjusted working days, by year announced.

    ``years`` are the years whose arrangements are known; a date in another year is neither
    a holiday nor an adjusted working day, and results that depend on it are provisional.
    """

    holidays: Mapping[date, str] = field(default_factory=lambda: _EMPTY)
    workdays: Mapping[date, str] = field(default_factory=lambda: _EMPTY)
    years: frozenset[int] = frozenset()

    def knows(self, year: int) -> bool:
        return year in self.years


@dataclass(frozen=True, slots=True)
class DayPlan:
    """One local day: its opening hours, why, and whether that may still change."""

    on: date
    hours: Hours
    kind: DayKind
    name: str | None = None  # the holiday's or the override's name
    provisional: bool = False


_MON_TO_FRI = hours("09:00-18:00")
OFFICE_WEEK: tuple[Hours, ...] = (*(_MON_TO_FRI,) * 5, CLOSED, CLOSED)


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Where and when a clock runs. ``weekly`` has seven entries, Monday first.

    ``workday_hours`` are the hours of an adjusted working day or an extra working day; by
    default those of the first weekday (Monday to Friday) that has any. With ``public`` None
    the calendar keeps no public holidays (a shop open every day of the year).
    """

    weekly: tuple[Hours, ...] = OFFICE_WEEK
    zone: ZoneInfo = SHANGHAI
    public: PublicHolidays | None = None
    holidays: Mapping[date, str] = field(default_factory=lambda: _EMPTY)
    extra_workdays: Mapping[date, str] = field(default_factory=lambda: _EMPTY)
    overrides: Mapping[date, tuple[Hours, str]] = field(default_factory=dict)
    workday_hours: Hours | None = None

    def __post_init__(self) -> None:
        if len(self.weekly) != 7:
            raise InvalidHours("weekly", "needs seven days, Monday first")
        for i, day in enumerate(self.weekly):
            if tuple(sorted(day)) != day or any(
                a.end > b.start for a, b in itertools.pairwise(day)
            ):
                raise InvalidHours(f"weekly.{i}", "ranges must be sorted and must not overlap")

    @property
    def working_day_hours(self) -> Hours:
        if self.workday_hours is not None:
            return self.workday_hours
        return next((day for day in self.weekly[:5] if day), _MON_TO_FRI)

    def day(self, on: date) -> DayPlan:
        """The plan of one local date."""
        if on in self.overrides:
            day_hours, reason = self.overrides[on]
            return DayPlan(on, day_hours, DayKind.OVERRIDE, reason or None)
        if on in self.holidays:
            return DayPlan(on, CLOSED, DayKind.HOLIDAY, self.holidays[on] or None)
        if on in self.extra_workdays:
            return DayPlan(
                on, self.working_day_hours, DayKind.EXTRA_WORKDAY, self.extra_workdays[on] or None
            )
        public = self.public
        if public is not None:
            if not public.knows(on.year):
                return DayPlan(on, self.weekly[on.weekday()], DayKind.WEEKLY, provisional=True)
            if on in public.holidays:
                return DayPlan(on, CLOSED, DayKind.PUBLIC_HOLIDAY, public.holidays[on])
            if on in public.workdays:
                return DayPlan(
                    on, self.working_day_hours, DayKind.ADJUSTED_WORKDAY, public.workdays[on]
                )
        return DayPlan(on, self.weekly[on.weekday()], DayKind.WEEKLY)


@dataclass(frozen=True, slots=True)
class Pause:
    """The clock stood still from ``start`` to ``end`` (waiting for the customer or a
    supplier); ``end`` None: it still does."""

    start: datetime
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class Deadline:
    """When the working time runs out. ``at`` is None while an open pause holds the clock
    before it gets there; ``provisional`` when a day it crossed is in a year whose public
    holidays are not known yet."""

    at: datetime | None
    provisional: bool


@dataclass(frozen=True, slots=True)
class Elapsed:
    """Working time between two instants, exact; ``minutes`` is it in whole minutes."""

    duration: timedelta
    provisional: bool

    @property
    def minutes(self) -> int:
        return self.duration // timedelta(minutes=1)


def aware(value: datetime, field: str) -> datetime:
    """``value`` in UTC; a naive datetime is refused, naming ``field``."""
    if not isinstance(value, datetime):
        raise NaiveInstant(field, "must be a date and time with its time zone")
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveInstant(field, "has no time zone; give an aware instant (e.g. UTC)")
    return value.astimezone(UTC)


def _pauses(pauses: Iterable[Pause]) -> list[tuple[datetime, datetime | None]]:
    """Checked, sorted and merged; an open pause swallows everything after its start."""
    spans: list[tuple[datetime, datetime | None]] = []
    for i, pause in enumerate(pauses):
        start = aware(pause.start, f"pauses.{i}.start")
        end = None if pause.end is None else aware(pause.end, f"pauses.{i}.end")
        if end is not None and end < start:
            raise EndBeforeStart(f"pauses.{i}.end", "is before the pause's start")
        spans.append((start, end))
    spans.sort(key=lambda s: s[0])
    merged: list[tuple[datetime, datetime | None]] = []
    for start, end in spans:
        if merged:
            last_start, last_end = merged[-1]
            if last_end is None:
                break
            if start <= last_end:
                merged[-1] = (last_start, None if end is None else max(last_end, end))
                continue
        merged.append((start, end))
    return merged


def _local(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock minute of a local day (1440: the next midnight)."""
    if minute == MINUTES_IN_DAY:
        return datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone).astimezone(UTC)


def _walk(
    calendar: BusinessCalendar,
    start: datetime,
    pauses: Sequence[tuple[datetime, datetime | None]],
) -> Iterator[tuple[DayPlan, list[tuple[datetime, datetime]]]]:
    """Each local day from the one ``start`` falls on, with its working intervals in UTC
    after ``start``, pauses cut out. Ends at the start of an open pause, else runs for ever
    (callers bound it)."""
    zone = calendar.zone
    stop = pauses[-1][0] if pauses and pauses[-1][1] is None else None
    closed = [p for p in pauses if p[1] is not None]
    day = start.astimezone(zone).date()
    while True:
        if stop is not None and _local(day, 0, zone) >= stop:
            return
        plan = calendar.day(day)
        intervals: list[tuple[datetime, datetime]] = []
        for span in plan.hours:
            a = max(_local(day, span.start, zone), start)
            b = _local(day, span.end, zone)
            if stop is not None:
                b = min(b, stop)
            if a < b:
                intervals.extend(_cut(a, b, closed))
        yield plan, intervals
        day += timedelta(days=1)


def _cut(
    a: datetime, b: datetime, pauses: Sequence[tuple[datetime, datetime | None]]
) -> Iterator[tuple[datetime, datetime]]:
    """[a, b) less the (sorted, merged, closed) pauses."""
    at = a
    for p_start, p_end in pauses:
        assert p_end is not None
        if p_end <= at:
            continue
        if p_start >= b:
            break
        if p_start > at:
            yield at, p_start
        at = p_end
        if at >= b:
            return
    if at < b:
        yield at, b


def add_business_time(
    calendar: BusinessCalendar,
    start: datetime,
    duration: timedelta,
    *,
    pauses: Iterable[Pause] = (),
) -> Deadline:
    """The instant at which ``duration`` of working time from ``start`` has run.

    No time (zero) is ``start`` itself; otherwise the deadline falls inside opening hours,
    at the closing minute when the time runs out exactly then (not the next morning).
    """
    at = aware(start, "start")
    if duration < timedelta(0):
        raise InvalidHours("duration", "must not be negative")
    checked = _pauses(pauses)
    if duration == timedelta(0):
        return Deadline(at, False)
    left = duration
    provisional = False
    closed_days = 0
    for plan, intervals in _walk(calendar, at, checked):
        provisional = provisional or plan.provisional
        for lo, hi in intervals:
            if hi - lo >= left:
                return Deadline(lo + left, provisional)
            left -= hi - lo
        closed_days = 0 if plan.hours else closed_days + 1
        if closed_days > MAX_CLOSED_DAYS:
            raise NoWorkingHours(
                "calendar", f"has no working hours for {MAX_CLOSED_DAYS} days after {plan.on}"
            )
    return Deadline(None, provisional)  # an open pause holds the clock


def add_business_minutes(
    calendar: BusinessCalendar,
    start: datetime,
    minutes: int,
    *,
    pauses: Iterable[Pause] = (),
) -> Deadline:
    """``add_business_time`` in whole minutes (an SLA's targets are)."""
    return add_business_time(calendar, start, timedelta(minutes=minutes), pauses=pauses)


def business_time_between(
    calendar: BusinessCalendar,
    start: datetime,
    end: datetime,
    *,
    pauses: Iterable[Pause] = (),
) -> Elapsed:
    """Working time from ``start`` to ``end``, pauses left out."""
    lo_at, hi_at = aware(start, "start"), aware(end, "end")
    if hi_at < lo_at:
        raise EndBeforeStart("end", "is before the start")
    checked = _pauses(pauses)
    total = timedelta(0)
    provisional = False
    for plan, intervals in _walk(calendar, lo_at, checked):
        if _local(plan.on, 0, calendar.zone) > hi_at:
            break
        provisional = provisional or plan.provisional
        for lo, hi in intervals:
            if lo >= hi_at:
                break
            total += min(hi, hi_at) - lo
    return Elapsed(total, provisional)


def business_minutes_between(
    calendar: BusinessCalendar,
    start: datetime,
    end: datetime,
    *,
    pauses: Iterable[Pause] = (),
) -> Elapsed:
    """Alias of ``business_time_between``; read ``.minutes`` for whole minutes."""
    return business_time_between(calendar, start, end, pauses=pauses)


def is_open(calendar: BusinessCalendar, at: datetime) -> bool:
    """Whether ``at`` falls in opening hours (start included, closing minute excluded)."""
    instant = aware(at, "at")
    plan = calendar.day(instant.astimezone(calendar.zone).date())
    return any(
        _local(plan.on, s.start, calendar.zone) <= instant < _local(plan.on, s.end, calendar.zone)
        for s in plan.hours
    )


def next_opening(calendar: BusinessCalendar, at: datetime) -> Deadline:
    """``at`` itself when open, else the next instant the calendar opens: when an escalation
    may go out without waking anyone at midnight or on a Sunday."""
    instant = aware(at, "at")
    provisional = False
    closed_days = 0
    for plan, intervals in _walk(calendar, instant, []):
        provisional = provisional or plan.provisional
        if intervals:
            return Deadline(intervals[0][0], provisional)
        closed_days = 0 if plan.hours else closed_days + 1
        if closed_days > MAX_CLOSED_DAYS:
            raise NoWorkingHours(
                "calendar", f"has no working hours for {MAX_CLOSED_DAYS} days after {plan.on}"
            )
    raise AssertionError("unreachable: a walk without pauses never ends")  # pragma: no cover
