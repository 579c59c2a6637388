"""Chinese public holidays as regressors for daily sales.

Where the days come from:

- official arrangements (statutory days off and the weekend days worked in exchange, 调休)
  from ``chinesecalendar``, which holds each year the State Council has announced (to 2026 in
  1.11.0) and raises NotImplementedError for any later one — a new year is announced in
  October to December;
- for a year it does not hold yet, the statutory days computed by ``holidays`` (its China
  calendar follows the lunar dates), with no swapped working weekends: the day flags are
  then **provisional** and the forecast says so; the next run after the package is updated
  uses the official days;
- the Spring Festival date (春节, the lunar new year's first day) from ``holidays`` for
  every year, since stocking up before it and the lull after it follow the lunar date, not
  the days off.

A day is a local business date (the store's zone): pass dates, never datetimes, so a late
evening in UTC never lands on the next Chinese day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Regressor name → (first, last) offset in days from the Spring Festival's first day.
SPRING_FESTIVAL_WINDOWS: dict[str, tuple[int, int]] = {
    "sf_stock_up": (-21, -8),
    "sf_last_week": (-7, -1),
    "sf_holiday": (0, 6),
    "sf_after": (7, 20),
}
REGRESSORS: tuple[str, ...] = ("day_off", "worked_weekend", *SPRING_FESTIVAL_WINDOWS)


@dataclass(frozen=True, eq=False)
class DayFlags:
    """Regressor columns for a run of days (0/1 floats), and which years were provisional."""

    days: tuple[date, ...]
    columns: dict[str, FloatArray]
    provisional_years: tuple[int, ...]

    def matrix(self) -> FloatArray:
        return np.column_stack([self.columns[name] for name in REGRESSORS]).astype(np.float64)


@cache
def _announced(year: int) -> bool:
    import chinese_calendar

    try:
        chinese_calendar.is_holiday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@cache
def _estimated(year: int) -> frozenset[date]:
    """Statutory days off that ``holidays`` computes for a year not yet announced."""
    import holidays

    return frozenset(holidays.country_holidays("CN", years=year))


@cache
def spring_festival(year: int) -> date:
    """The first day of the lunar new year in ``year``."""
    import holidays

    for day, name in sorted(holidays.country_holidays("CN", years=year).items()):
        if "Spring Festival" in name or "春节" in name:
            return day
    raise LookupError(f"no Spring Festival found for {year}")  # never for a real year


def _official(day: date) -> tuple[bool, bool]:
    """(statutory day off, weekend day worked) from the announced arrangement."""
    import chinese_calendar

    on_holiday, name = chinese_calendar.get_holiday_detail(day)
    day_off = bool(on_holiday and name is not None)
    worked_weekend = day.weekday() >= 5 and chinese_calendar.is_workday(day)
    return day_off, worked_weekend


def day_flags(days: Sequence[date]) -> DayFlags:
    """The regressors (``REGRESSORS``) for each of ``days``."""
    rows = [_day_row(day) for day in days]
    matrix = np.array([row for row, _ in rows], dtype=np.float64).reshape(
        len(rows), len(REGRESSORS)
    )
    columns = {name: matrix[:, k].copy() for k, name in enumerate(REGRESSORS)}
    provisional = {day.year for day, (_, guessed) in zip(days, rows, strict=True) if guessed}
    return DayFlags(days=tuple(days), columns=columns, provisional_years=tuple(sorted(provisional)))


@cache
def _day_row(day: date) -> tuple[tuple[float, ...], bool]:
    """(the day's regressors in ``REGRESSORS`` order, whether they are provisional). Kept per
    day for the process: every series of a run shares the calendar, so a chain's thousands
    of series ask the calendar packages about each day once."""
    if _announced(day.year):
        day_off, worked = _official(day)
        guessed = False
    else:
        day_off, worked, guessed = day in _estimated(day.year), False, True
    offset = _spring_festival_offset(day)
    windows = tuple(
        float(first <= offset <= last) for first, last in SPRING_FESTIVAL_WINDOWS.values()
    )
    return (float(day_off), float(worked), *windows), guessed


def _spring_festival_offset(day: date) -> int:
    """Days from the nearest Spring Festival (negative before it)."""
    this = (day - spring_festival(day.year)).days
    following = (day - spring_festival(day.year + 1)).days
    return this if abs(this) <= abs(following) else following


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
