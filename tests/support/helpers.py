"""Shared builders for the support tests."""

from __future__ import annotations

from datetime import date

from patron.support.calendars import library_years
from patron.support.workingtime import PublicHolidays


def china(*, through: int | None = None) -> PublicHolidays:
    """China's public holidays as the installed chinesecalendar has them (up to ``through``)."""
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    years = {y: d for y, d in library_years().items() if through is None or y <= through}
    for days in years.values():
        for on, kind, name in days:
            (holidays if kind == "holiday" else workdays)[on] = name
    return PublicHolidays(holidays=holidays, workdays=workdays, years=frozenset(years))
