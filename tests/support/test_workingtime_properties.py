"""Properties of the SLA clock over random instants, durations and pauses, on the real
Chinese calendar (2004-2026 known, later years provisional)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from patron.support.workingtime import (
    CLOSED,
    BusinessCalendar,
    Pause,
    add_business_minutes,
    add_business_time,
    business_time_between,
    hours,
)
from tests.support.helpers import china

CALENDARS = [
    BusinessCalendar(public=china()),
    BusinessCalendar(
        weekly=(*(hours("08:30-12:00", "13:00-17:30"),) * 5, hours("10:00-14:00"), CLOSED),
        public=china(),
        extra_workdays={datetime(2025, 5, 4).date(): "stocktaking"},
    ),
    BusinessCalendar(weekly=(hours("00:00-24:00"),) * 7),
]

instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2027, 6, 30), timezones=st.just(UTC)
)
calendars = st.sampled_from(CALENDARS)
minutes = st.integers(min_value=0, max_value=30 * 9 * 60)


@st.composite
def pause_lists(draw: st.DrawFn) -> list[Pause]:
    out = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(instants)
        length = draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=5)))
        out.append(Pause(start, start + length))
    return out


@settings(max_examples=150, deadline=None)
@given(calendar=calendars, start=instants, wanted=minutes, pauses=pause_lists())
def test_adding_then_measuring_gives_the_same_minutes(
    calendar: BusinessCalendar, start: datetime, wanted: int, pauses: list[Pause]
) -> None:
    due = add_business_minutes(calendar, start, wanted, pauses=pauses)
    assert due.at is not None and due.at >= start
    elapsed = business_time_between(calendar, start, due.at, pauses=pauses)
    assert elapsed.duration == timedelta(minutes=wanted)
    assert elapsed.minutes == wanted


@settings(max_examples=150, deadline=None)
@given(calendar=calendars, start=instants, a=minutes, b=minutes)
def test_more_time_is_never_due_sooner(
    calendar: BusinessCalendar, start: datetime, a: int, b: int
) -> None:
    low, high = sorted((a, b))
    first = add_business_minutes(calendar, start, low).at
    second = add_business_minutes(calendar, start, high).at
    assert first is not None and second is not None
    assert first <= second


@settings(max_examples=150, deadline=None)
@given(calendar=calendars, a=instants, b=instants, wanted=minutes)
def test_a_later_start_is_never_due_sooner(
    calendar: BusinessCalendar, a: datetime, b: datetime, wanted: int
) -> None:
    early, late = sorted((a, b))
    first = add_business_minutes(calendar, early, wanted).at
    second = add_business_minutes(calendar, late, wanted).at
    assert first is not None and second is not None
    assert first <= second


@settings(max_examples=150, deadline=None)
@given(calendar=calendars, start=instants, a=instants, b=instants, pauses=pause_lists())
def test_working_time_grows_with_the_end_and_never_exceeds_the_wall_clock(
    calendar: BusinessCalendar, start: datetime, a: datetime, b: datetime, pauses: list[Pause]
) -> None:
    near, far = sorted((max(start, a), max(start, b)))
    short = business_time_between(calendar, start, near, pauses=pauses).duration
    long = business_time_between(calendar, start, far, pauses=pauses).duration
    assert timedelta(0) <= short <= long <= far - start
    # and splitting the span anywhere adds up
    rest = business_time_between(calendar, near, far, pauses=pauses).duration
    assert short + rest == long


@settings(max_examples=100, deadline=None)
@given(calendar=calendars, start=instants, wanted=st.timedeltas(timedelta(0), timedelta(days=20)))
def test_any_duration_round_trips_to_the_microsecond(
    calendar: BusinessCalendar, start: datetime, wanted: timedelta
) -> None:
    due = add_business_time(calendar, start, wanted)
    assert due.at is not None
    assert business_time_between(calendar, start, due.at).duration == wanted
