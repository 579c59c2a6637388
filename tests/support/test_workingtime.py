"""The SLA clock as pure functions: opening hours, nights, weekends, Chinese public holidays
and their adjusted working days, pauses, and years not announced yet. No database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from patron.support.exceptions import EndBeforeStart, InvalidHours, NaiveInstant, NoWorkingHours
from patron.support.workingtime import (
    CLOSED,
    SHANGHAI,
    BusinessCalendar,
    DayKind,
    Pause,
    PublicHolidays,
    add_business_minutes,
    business_minutes_between,
    format_hours,
    hours,
    is_open,
    next_opening,
)
from tests.support.helpers import china

OFFICE = BusinessCalendar(public=china())
LUNCH = BusinessCalendar(
    weekly=(*(hours("09:00-12:00", "13:00-18:00"),) * 5, hours("10:00-16:00"), CLOSED),
    public=china(),
)


def sh(*args: int) -> datetime:
    """A wall-clock time in Shanghai."""
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def deadline(calendar: BusinessCalendar, start: datetime, minutes: int, **kw) -> datetime:  # type: ignore[no-untyped-def]
    result = add_business_minutes(calendar, start, minutes, **kw)
    assert result.at is not None
    return result.at.astimezone(SHANGHAI)


def test_an_hour_asked_for_at_half_past_five_on_friday_is_due_on_monday_morning() -> None:
    assert deadline(OFFICE, sh(2026, 3, 6, 17, 30), 60) == sh(2026, 3, 9, 9, 30)


def test_the_clock_stops_over_the_night_and_over_lunch() -> None:
    assert deadline(LUNCH, sh(2026, 3, 3, 11, 30), 60) == sh(2026, 3, 3, 13, 30)
    assert deadline(LUNCH, sh(2026, 3, 3, 17, 0), 120) == sh(2026, 3, 4, 10, 0)
    assert deadline(LUNCH, sh(2026, 3, 3, 22, 0), 30) == sh(2026, 3, 4, 9, 30)


def test_a_saturday_half_day_counts_and_sunday_does_not() -> None:
    assert deadline(LUNCH, sh(2026, 3, 6, 17, 0), 120) == sh(2026, 3, 7, 11, 0)
    assert deadline(LUNCH, sh(2026, 3, 7, 15, 0), 120) == sh(2026, 3, 9, 10, 0)


def test_time_that_runs_out_at_closing_is_due_at_closing_not_the_next_morning() -> None:
    assert deadline(OFFICE, sh(2026, 3, 3, 9, 0), 9 * 60) == sh(2026, 3, 3, 18, 0)


def test_no_time_at_all_is_due_at_once_even_when_closed() -> None:
    start = sh(2026, 3, 7, 23, 0)
    assert deadline(OFFICE, start, 0) == start


def test_the_2026_spring_festival_closes_nine_days_and_opens_two_saturdays() -> None:
    # 2026: off from Sunday 15 to Monday 23 February; Saturdays 14 and 28 February worked
    assert OFFICE.day(date(2026, 2, 14)).kind == DayKind.ADJUSTED_WORKDAY
    assert OFFICE.day(date(2026, 2, 16)).kind == DayKind.PUBLIC_HOLIDAY
    # Friday evening → the Saturday worked in lieu
    assert deadline(OFFICE, sh(2026, 2, 13, 17, 0), 120) == sh(2026, 2, 14, 10, 0)
    # the last working hour before the holiday → the Tuesday after it
    assert deadline(OFFICE, sh(2026, 2, 14, 17, 30), 60) == sh(2026, 2, 24, 9, 30)
    # a complaint on the eve of the festival waits out the whole holiday
    assert deadline(OFFICE, sh(2026, 2, 16, 10, 0), 60) == sh(2026, 2, 24, 10, 0)
    # the second Saturday worked counts: Friday 27 evening → Saturday 28
    assert deadline(OFFICE, sh(2026, 2, 27, 17, 30), 60) == sh(2026, 2, 28, 9, 30)


def test_the_2025_spring_festival_counts_six_working_days_in_a_fortnight() -> None:
    # 2025: off from Tuesday 28 January to Tuesday 4 February; Sunday 26 January and
    # Saturday 8 February worked. From Friday 24 January 18:00 to Saturday 8 February 18:00:
    # 26 and 27 January, 5, 6, 7 and 8 February.
    elapsed = business_minutes_between(OFFICE, sh(2025, 1, 24, 18, 0), sh(2025, 2, 8, 18, 0))
    assert elapsed.minutes == 6 * 9 * 60
    assert not elapsed.provisional
    assert deadline(OFFICE, sh(2025, 1, 24, 18, 0), 60) == sh(2025, 1, 26, 10, 0)


def test_a_late_evening_utc_instant_is_looked_up_on_the_next_chinese_day() -> None:
    # 16:30 UTC on Saturday 14 February 2026 is 00:30 on Sunday 15 in Shanghai: the
    # festival has begun. Read by its UTC date it would be the Saturday worked in lieu,
    # which is what the package itself answers for the instant.
    instant = datetime(2026, 2, 14, 16, 30, tzinfo=UTC)
    assert chinese_calendar.is_workday(instant)  # the package truncates to the UTC date
    round_the_clock = BusinessCalendar(
        weekly=(hours("00:00-24:00"),) * 5 + (CLOSED, CLOSED), public=china()
    )
    assert not is_open(round_the_clock, instant)
    assert deadline(round_the_clock, instant, 30) == sh(2026, 2, 24, 0, 30)


def test_a_year_not_announced_counts_monday_to_friday_and_is_provisional() -> None:
    known_to_2026 = BusinessCalendar(public=china(through=2026))
    guess = add_business_minutes(known_to_2026, sh(2026, 12, 31, 17, 0), 120)
    # 1 January 2027 is a Friday: a working day until the State Council says otherwise
    assert guess.at == sh(2027, 1, 1, 10, 0)
    assert guess.provisional
    assert known_to_2026.day(date(2027, 1, 1)).provisional
    announced = PublicHolidays(
        holidays={**known_to_2026.public.holidays, date(2027, 1, 1): "new_years_day"},  # type: ignore[union-attr]
        workdays=known_to_2026.public.workdays,  # type: ignore[union-attr]
        years=frozenset({*range(2004, 2027), 2027}),
    )
    again = add_business_minutes(BusinessCalendar(public=announced), sh(2026, 12, 31, 17, 0), 120)
    assert again.at == sh(2027, 1, 4, 10, 0)
    assert not again.provisional


def test_a_deadline_inside_a_known_year_is_not_provisional() -> None:
    assert not add_business_minutes(OFFICE, sh(2026, 6, 1, 9, 0), 600).provisional
    elapsed = business_minutes_between(
        BusinessCalendar(public=china(through=2026)), sh(2026, 12, 30, 9, 0), sh(2027, 1, 5, 9, 0)
    )
    assert elapsed.provisional


def test_a_calendar_without_public_holidays_works_through_the_festival() -> None:
    shop = BusinessCalendar(weekly=(hours("10:00-22:00"),) * 7)
    assert deadline(shop, sh(2026, 2, 17, 21, 30), 60) == sh(2026, 2, 18, 10, 30)


def test_the_calendars_own_dates_and_overrides_come_before_the_rules() -> None:
    calendar = BusinessCalendar(
        public=china(),
        holidays={date(2026, 3, 4): "staff outing"},
        extra_workdays={date(2026, 3, 8): "stocktaking"},  # a Sunday
        overrides={
            date(2026, 3, 5): (hours("13:00-15:00"), "training in the morning"),
            date(2026, 2, 17): (hours("10:00-12:00"), "festival hotline"),
        },
    )
    assert calendar.day(date(2026, 3, 4)).kind == DayKind.HOLIDAY
    assert deadline(calendar, sh(2026, 3, 3, 17, 0), 120) == sh(2026, 3, 5, 14, 0)
    assert deadline(calendar, sh(2026, 3, 6, 17, 0), 120) == sh(2026, 3, 8, 10, 0)
    assert deadline(calendar, sh(2026, 2, 16, 10, 0), 60) == sh(2026, 2, 17, 11, 0)


def test_a_pause_while_waiting_for_the_customer_stops_the_clock() -> None:
    start = sh(2026, 3, 2, 9, 0)  # Monday
    waiting = Pause(sh(2026, 3, 2, 10, 0), sh(2026, 3, 3, 10, 0))
    assert deadline(OFFICE, start, 240, pauses=[waiting]) == sh(2026, 3, 3, 13, 0)
    elapsed = business_minutes_between(OFFICE, start, sh(2026, 3, 3, 13, 0), pauses=[waiting])
    assert elapsed.minutes == 240


def test_a_pause_still_open_holds_the_deadline_back() -> None:
    start = sh(2026, 3, 2, 9, 0)
    still_waiting = [Pause(sh(2026, 3, 2, 10, 0))]
    assert add_business_minutes(OFFICE, start, 30, pauses=still_waiting).at == sh(2026, 3, 2, 9, 30)
    assert add_business_minutes(OFFICE, start, 120, pauses=still_waiting).at is None
    measured = business_minutes_between(OFFICE, start, sh(2026, 3, 5, 9, 0), pauses=still_waiting)
    assert measured.minutes == 60


def test_overlapping_pauses_count_once() -> None:
    start = sh(2026, 3, 2, 9, 0)
    pauses = [
        Pause(sh(2026, 3, 2, 10, 0), sh(2026, 3, 2, 12, 0)),
        Pause(sh(2026, 3, 2, 11, 0), sh(2026, 3, 2, 13, 0)),
    ]
    assert (
        business_minutes_between(OFFICE, start, sh(2026, 3, 2, 18, 0), pauses=pauses).minutes
        == 6 * 60
    )


def test_naive_datetimes_are_refused_naming_the_field() -> None:
    with pytest.raises(NaiveInstant) as start:
        add_business_minutes(OFFICE, datetime(2026, 3, 2, 9, 0), 60)
    assert start.value.field == "start"
    with pytest.raises(NaiveInstant) as end:
        business_minutes_between(OFFICE, sh(2026, 3, 2, 9, 0), datetime(2026, 3, 2, 10, 0))
    assert end.value.field == "end"
    with pytest.raises(NaiveInstant) as pause:
        add_business_minutes(
            OFFICE, sh(2026, 3, 2, 9, 0), 60, pauses=[Pause(datetime(2026, 3, 2, 9, 30))]
        )
    assert pause.value.field == "pauses.0.start"


def test_an_end_before_the_start_is_refused() -> None:
    with pytest.raises(EndBeforeStart):
        business_minutes_between(OFFICE, sh(2026, 3, 2, 10, 0), sh(2026, 3, 2, 9, 0))
    with pytest.raises(InvalidHours):
        add_business_minutes(OFFICE, sh(2026, 3, 2, 10, 0), -5)


def test_a_calendar_that_never_opens_is_refused_rather_than_looping() -> None:
    with pytest.raises(NoWorkingHours):
        add_business_minutes(BusinessCalendar(weekly=(CLOSED,) * 7), sh(2026, 3, 2, 9, 0), 1)


def test_opening_hours_are_read_as_people_write_them() -> None:
    assert format_hours(hours("9:00-12:00, 13:30-18:00")) == "09:00-12:00, 13:30-18:00"
    assert hours("09：00～12：00；13:00至17:00") == hours("09:00-12:00", "13:00-17:00")
    assert hours("00:00-24:00")[0].minutes == 24 * 60
    for bad in ("18:00-09:00", "9-18", "09:00-12:00, 11:00-13:00", "25:00-26:00", "09:70-10:00"):
        with pytest.raises(InvalidHours) as error:
            hours(bad)
        assert error.value.field == "hours"


def test_a_week_must_have_seven_days() -> None:
    with pytest.raises(InvalidHours):
        BusinessCalendar(weekly=(hours("09:00-18:00"),) * 5)


def test_escalations_wait_for_the_next_opening() -> None:
    assert is_open(OFFICE, sh(2026, 3, 2, 9, 0))
    assert not is_open(OFFICE, sh(2026, 3, 2, 18, 0))
    saturday_night = sh(2026, 2, 14, 23, 0)
    assert next_opening(OFFICE, saturday_night).at == sh(2026, 2, 24, 9, 0)
    now = sh(2026, 3, 2, 11, 0)
    assert next_opening(OFFICE, now).at == now


def test_a_day_that_springs_forward_is_an_hour_short() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    always = BusinessCalendar(weekly=(hours("00:00-24:00"),) * 7, zone=berlin)
    start = datetime(2026, 3, 28, 0, 0, tzinfo=berlin)  # the clocks go forward on the 29th
    end = datetime(2026, 3, 30, 0, 0, tzinfo=berlin)
    assert business_minutes_between(always, start, end).duration == timedelta(hours=47)


def test_the_working_time_is_exact_to_the_second() -> None:
    start = sh(2026, 3, 2, 9, 0, 30)
    assert deadline(OFFICE, start, 1) == sh(2026, 3, 2, 9, 1, 30)
    elapsed = business_minutes_between(OFFICE, start, sh(2026, 3, 2, 9, 2, 0))
    assert elapsed.duration == timedelta(seconds=90)
    assert elapsed.minutes == 1
