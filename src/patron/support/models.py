"""Support tables: public holidays by year (versioned), business calendars and their dates.

Public holidays and adjusted working days are kept per year as versions that are never
updated: a year's newest version is in force, the older ones say what it was, who changed
it, when and why. They are seeded from the ``chinesecalendar`` package and can be edited by
an administrator (a new version) when the State Council publishes a year the package does
not know yet, or corrects one.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.clock import utcnow
from patron.core.models import Base, BigId, IdPk, UTCDateTime


class PublicDayKind(StrEnum):
    HOLIDAY = "holiday"  # 放假: a day off
    WORKDAY = "workday"  # 调休上班: a weekend day worked in lieu


class HolidaySource(StrEnum):
    LIBRARY = "chinesecalendar"  # seeded from the package
    STAFF = "staff"  # entered or corrected by an administrator


class CalendarDayKind(StrEnum):
    CLOSED = "closed"  # the calendar's own holiday
    OPEN = "open"  # an extra working day, on the calendar's working-day hours
    HOURS = "hours"  # an override: exactly these hours that day (none: closed)


class PublicHolidayYear(Base):
    """One version of one year's public holidays and adjusted working days."""

    __tablename__ = "public_holiday_year"
    __table_args__ = (UniqueConstraint("year", "version"),)

    id: Mapped[IdPk]
    year: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, … within the year
    source: Mapped[str] = mapped_column(String(32))  # HolidaySource
    source_version: Mapped[str | None] = mapped_column(String(32))  # the package's version
    reason: Mapped[str] = mapped_column(String(255))
    changed_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PublicHolidayDay(Base):
    """A day of one version: a holiday, or a weekend day worked in lieu."""

    __tablename__ = "public_holiday_day"
    __table_args__ = (UniqueConstraint("year_id", "falls_on"),)

    id: Mapped[IdPk]
    year_id: Mapped[int] = mapped_column(BigId, ForeignKey("public_holiday_year.id"))
    falls_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))  # PublicDayKind
    name: Mapped[str] = mapped_column(String(64))  # e.g. "Spring Festival"


class BusinessCalendarRow(Base):
    """Where and when an SLA clock runs: a zone and weekly hours, for the chain (no store)
    or one store. ``revision`` goes up with every change, so a deadline can tell whether it
    was computed on the calendar as it is now."""

    __tablename__ = "business_calendar"

    id: Mapped[IdPk]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    store_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("store.id"), unique=True)
    time_zone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    # Seven lists of [start, end] minutes from midnight, Monday first.
    weekly_hours: Mapped[list[Any]] = mapped_column(JSON)
    # The hours of an adjusted or extra working day; None: the first weekday's.
    workday_hours: Mapped[list[Any] | None] = mapped_column(JSON)
    observes_public_holidays: Mapped[bool] = mapped_column(Boolean, default=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    changed_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BusinessCalendarDay(Base):
    """A dated entry of one calendar: its own holiday, an extra working day, or an
    administrator's hours for that date."""

    __tablename__ = "business_calendar_day"
    __table_args__ = (UniqueConstraint("calendar_id", "falls_on"),)

    id: Mapped[IdPk]
    calendar_id: Mapped[int] = mapped_column(BigId, ForeignKey("business_calendar.id"))
    falls_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))  # CalendarDayKind
    hours: Mapped[list[Any] | None] = mapped_column(JSON)  # for HOURS: [[start, end], …]
    reason: Mapped[str] = mapped_column(String(255))
    changed_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
