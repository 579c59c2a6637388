"""Support schemas: business calendars, their dated entries, public holidays by year."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from patron.core.schemas import RecordId, Schema, ShortCode, Text
from patron.support.exceptions import InvalidHours
from patron.support.models import CalendarDayKind, PublicDayKind
from patron.support.workingtime import Hours, format_hours, hours

# One day's opening hours as people write them: "09:00-12:00, 13:00-18:00"; "" = closed.
HoursText = Annotated[str, Field(max_length=200)]
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def read_hours(text: str, field: str) -> Hours:
    """Parse one day's hours, naming ``field`` when they cannot be read."""
    try:
        return hours(text) if text.strip() else ()
    except InvalidHours as exc:
        raise InvalidHours(field, exc.message.split(": ", 1)[-1]) from None


class WeeklyHours(Schema):
    """Opening hours per weekday; an empty string is a closed day."""

    monday: HoursText = "09:00-18:00"
    tuesday: HoursText = "09:00-18:00"
    wednesday: HoursText = "09:00-18:00"
    thursday: HoursText = "09:00-18:00"
    friday: HoursText = "09:00-18:00"
    saturday: HoursText = ""
    sunday: HoursText = ""

    @model_validator(mode="after")
    def _readable(self) -> WeeklyHours:
        for name in WEEKDAYS:
            try:
                value = getattr(self, name)
                if value.strip():
                    hours(value)
            except InvalidHours as exc:
                raise ValueError(f"{name}: {exc.message.split(': ', 1)[-1]}") from None
        return self

    def as_hours(self) -> tuple[Hours, ...]:
        return tuple(read_hours(getattr(self, name), name) for name in WEEKDAYS)

    @classmethod
    def of(cls, week: tuple[Hours, ...]) -> WeeklyHours:
        return cls(**{name: format_hours(day) for name, day in zip(WEEKDAYS, week, strict=True)})


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


class CalendarCreate(Schema):
    code: ShortCode
    name: Text
    store_id: RecordId | None = None
    time_zone: str = "Asia/Shanghai"
    weekly: WeeklyHours = WeeklyHours()
    # The hours of an adjusted or extra working day; None: the first weekday's.
    workday_hours: HoursText | None = None
    observes_public_holidays: bool = True

    _zone = field_validator("time_zone")(_known_zone)

    @field_validator("workday_hours")
    @classmethod
    def _workday(cls, value: str | None) -> str | None:
        if value is not None:
            read_hours(value, "workday_hours")
        return value


class CalendarUpdate(Schema):
    name: Text | None = None
    time_zone: str | None = None
    weekly: WeeklyHours | None = None
    workday_hours: HoursText | None = None
    observes_public_holidays: bool | None = None
    # The revision the change was made from: refused if someone saved another since.
    expected_revision: int | None = None

    _zone = field_validator("time_zone")(lambda v: v if v is None else _known_zone(v))

    @field_validator("workday_hours")
    @classmethod
    def _workday(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            read_hours(value, "workday_hours")
        return value


class CalendarDayIn(Schema):
    """A dated entry: ``closed`` (the calendar's own holiday), ``open`` (an extra working
    day on the working-day hours) or ``hours`` (exactly ``hours`` that day)."""

    falls_on: date
    kind: CalendarDayKind
    hours: HoursText | None = None
    reason: Text

    @model_validator(mode="after")
    def _hours_for_hours(self) -> CalendarDayIn:
        if self.kind == CalendarDayKind.HOURS:
            if self.hours is None:
                raise ValueError("hours: give the hours for that day ('' for closed)")
            read_hours(self.hours, "hours")
        elif self.hours:
            raise ValueError("hours: only an entry of kind 'hours' carries hours")
        return self


class CalendarDayRead(Schema):
    falls_on: date
    kind: CalendarDayKind
    hours: str | None
    reason: str
    changed_by: str
    created_at: datetime


class CalendarRead(Schema):
    id: int
    code: str
    name: str
    store_id: int | None
    time_zone: str
    weekly: WeeklyHours
    workday_hours: str | None
    observes_public_holidays: bool
    revision: int
    changed_by: str
    updated_at: datetime
    days: list[CalendarDayRead]


class PublicDayIn(Schema):
    falls_on: date
    kind: PublicDayKind
    name: Annotated[str, Field(min_length=1, max_length=64)]


class PublicHolidaysIn(Schema):
    """A year's public holidays and adjusted working days, whole: they replace the year's."""

    year: Annotated[int, Field(ge=2000, le=2199)]
    days: list[PublicDayIn]
    reason: Text

    @model_validator(mode="after")
    def _in_the_year(self) -> PublicHolidaysIn:
        seen: set[date] = set()
        for i, day in enumerate(self.days):
            if day.falls_on.year != self.year:
                raise ValueError(f"days.{i}.falls_on: is not in {self.year}")
            if day.falls_on in seen:
                raise ValueError(f"days.{i}.falls_on: {day.falls_on} is listed twice")
            seen.add(day.falls_on)
        return self


class PublicHolidayYearRead(Schema):
    year: int
    version: int
    source: str
    source_version: str | None
    reason: str
    changed_by: str
    created_at: datetime
    days: list[PublicDayIn]
