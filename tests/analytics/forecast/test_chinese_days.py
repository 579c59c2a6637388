"""Holiday regressors: official days where announced, computed ones (marked provisional)
after, and the Spring Festival's windows from the lunar date."""

from __future__ import annotations

from datetime import date

from patron.analytics.forecast.chinese_days import day_flags, days_between, spring_festival


def test_national_day_is_off_and_a_swapped_weekend_day_is_worked() -> None:
    flags = day_flags([date(2025, 10, 1), date(2025, 9, 28), date(2025, 10, 15)])
    assert flags.columns["day_off"].tolist() == [1.0, 0.0, 0.0]
    assert flags.columns["worked_weekend"].tolist() == [0.0, 1.0, 0.0]  # Sunday worked
    assert flags.provisional_years == ()


def test_a_year_not_yet_announced_falls_back_to_computed_days_marked_provisional() -> None:
    flags = day_flags([date(2027, 10, 1), date(2027, 10, 20)])
    assert flags.columns["day_off"].tolist() == [1.0, 0.0]
    assert flags.provisional_years == (2027,)


def test_spring_festival_windows_follow_the_lunar_date() -> None:
    assert spring_festival(2026) == date(2026, 2, 17)
    assert spring_festival(2027) == date(2027, 2, 6)
    days = days_between(date(2026, 1, 20), date(2026, 3, 10))
    flags = day_flags(days)
    stock_up = [d for d, v in zip(days, flags.columns["sf_stock_up"], strict=True) if v]
    last_week = [d for d, v in zip(days, flags.columns["sf_last_week"], strict=True) if v]
    assert stock_up[0] == date(2026, 1, 27) and stock_up[-1] == date(2026, 2, 9)
    assert last_week == days_between(date(2026, 2, 10), date(2026, 2, 16))
