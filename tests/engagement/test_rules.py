"""Quiet hours, frequency caps and retry back-off, as plain functions (no database)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from patron.core.settings import MessageCap, QuietHours
from patron.engagement.rules import (
    Decision,
    Sent,
    Verdict,
    cap_reached,
    decide,
    quiet_until,
    retry_delay,
    window_start,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
URUMQI = ZoneInfo("Asia/Urumqi")  # UTC+6: two hours behind Shanghai
NEW_YORK = ZoneInfo("America/New_York")
NO_SMS_AT_NIGHT = [QuietHours(start=time(21, 0), end=time(8, 0), channel="sms")]
CAPS = [MessageCap(limit=2, days=7), MessageCap(limit=1, days=1, channel="sms")]


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone).astimezone(UTC)  # type: ignore[misc]


# ------------------------------------------------------------------ quiet hours


def test_a_marketing_sms_at_ten_at_night_waits_until_eight_the_next_morning() -> None:
    now = local(SHANGHAI, 2026, 3, 10, 22, 0)
    until = quiet_until(now, channel="sms", zone=SHANGHAI, windows=NO_SMS_AT_NIGHT)
    assert until == local(SHANGHAI, 2026, 3, 11, 8, 0)


def test_a_marketing_sms_in_the_small_hours_waits_until_eight_the_same_morning() -> None:
    now = local(SHANGHAI, 2026, 3, 10, 3, 30)
    until = quiet_until(now, channel="sms", zone=SHANGHAI, windows=NO_SMS_AT_NIGHT)
    assert until == local(SHANGHAI, 2026, 3, 10, 8, 0)


@pytest.mark.parametrize("hour", [8, 12, 20])
def test_a_marketing_sms_in_the_day_goes_now(hour: int) -> None:
    now = local(SHANGHAI, 2026, 3, 10, hour, 0)
    assert quiet_until(now, channel="sms", zone=SHANGHAI, windows=NO_SMS_AT_NIGHT) is None


def test_quiet_hours_of_sms_leave_email_alone() -> None:
    now = local(SHANGHAI, 2026, 3, 10, 23, 0)
    assert quiet_until(now, channel="email", zone=SHANGHAI, windows=NO_SMS_AT_NIGHT) is None


def test_quiet_hours_are_read_on_the_customers_own_clock() -> None:
    # 21:30 in Shanghai is 19:30 in Urumqi: quiet for a Shanghai customer, not for Urumqi's.
    now = local(SHANGHAI, 2026, 3, 10, 21, 30)
    assert quiet_until(now, channel="sms", zone=URUMQI, windows=NO_SMS_AT_NIGHT) is None
    assert quiet_until(now, channel="sms", zone=SHANGHAI, windows=NO_SMS_AT_NIGHT) == local(
        SHANGHAI, 2026, 3, 11, 8, 0
    )


def test_back_to_back_quiet_windows_defer_to_the_end_of_the_last() -> None:
    windows = [
        QuietHours(start=time(21, 0), end=time(8, 0)),
        QuietHours(start=time(8, 0), end=time(9, 30), channel="sms"),
    ]
    now = local(SHANGHAI, 2026, 3, 10, 23, 0)
    assert quiet_until(now, channel="sms", zone=SHANGHAI, windows=windows) == local(
        SHANGHAI, 2026, 3, 11, 9, 30
    )


def test_a_quiet_window_ending_in_a_clock_change_gap_ends_just_after_the_gap() -> None:
    # New York skipped 02:00-03:00 on 2026-03-08.
    windows = [QuietHours(start=time(23, 0), end=time(2, 30))]
    now = local(NEW_YORK, 2026, 3, 7, 23, 30)
    until = quiet_until(now, channel="sms", zone=NEW_YORK, windows=windows)
    assert until is not None
    assert until.astimezone(NEW_YORK).hour == 3


# ------------------------------------------------------------------ caps


def test_a_week_is_today_and_the_six_calendar_days_before_it_in_the_customers_zone() -> None:
    now = local(SHANGHAI, 2026, 3, 10, 0, 30)
    assert window_start(now, days=7, zone=SHANGHAI) == local(SHANGHAI, 2026, 3, 4, 0, 0)
    assert window_start(now, days=1, zone=SHANGHAI) == local(SHANGHAI, 2026, 3, 10, 0, 0)


def test_a_second_sms_on_the_same_local_day_breaks_the_daily_sms_cap() -> None:
    now = local(SHANGHAI, 2026, 3, 10, 18, 0)
    history = [Sent(local(SHANGHAI, 2026, 3, 10, 9, 0), "sms")]
    cap = cap_reached(now, channel="sms", zone=SHANGHAI, history=history, caps=CAPS)
    assert cap == MessageCap(limit=1, days=1, channel="sms")


def test_an_sms_sent_before_local_midnight_does_not_count_for_the_next_day() -> None:
    # 23:50 yesterday in Shanghai is 15:50 UTC, the same UTC day as now: the day is local.
    now = local(SHANGHAI, 2026, 3, 10, 8, 30)
    history = [Sent(local(SHANGHAI, 2026, 3, 9, 23, 50), "sms")]
    assert cap_reached(now, channel="sms", zone=SHANGHAI, history=history, caps=CAPS) is None


def test_the_weekly_cap_counts_every_channel() -> None:
    now = local(SHANGHAI, 2026, 3, 10, 12, 0)
    history = [
        Sent(local(SHANGHAI, 2026, 3, 5, 12, 0), "email"),
        Sent(local(SHANGHAI, 2026, 3, 8, 12, 0), "wechat"),
    ]
    cap = cap_reached(now, channel="email", zone=SHANGHAI, history=history, caps=CAPS)
    assert cap == MessageCap(limit=2, days=7)


def test_messages_older_than_the_week_do_not_count() -> None:
    now = local(SHANGHAI, 2026, 3, 10, 12, 0)
    history = [
        Sent(local(SHANGHAI, 2026, 3, 3, 23, 59), "email"),
        Sent(local(SHANGHAI, 2026, 3, 8, 12, 0), "wechat"),
    ]
    assert cap_reached(now, channel="email", zone=SHANGHAI, history=history, caps=CAPS) is None


def test_an_email_today_leaves_the_daily_sms_cap_alone() -> None:
    now = local(SHANGHAI, 2026, 3, 10, 12, 0)
    history = [Sent(local(SHANGHAI, 2026, 3, 10, 9, 0), "email")]
    assert cap_reached(now, channel="sms", zone=SHANGHAI, history=history, caps=CAPS) is None


# ------------------------------------------------------------------ the decision


def _decide(now: datetime, **kwargs: Any) -> Decision:
    args: dict[str, Any] = {
        "channel": "sms",
        "marketing": True,
        "zone": SHANGHAI,
        "history": [],
        "caps": CAPS,
        "quiet": NO_SMS_AT_NIGHT,
    }
    args.update(kwargs)
    return decide(now, **args)


def test_marketing_in_quiet_hours_is_deferred_not_skipped() -> None:
    decision = _decide(local(SHANGHAI, 2026, 3, 10, 22, 0))
    assert decision.verdict == Verdict.DEFER
    assert decision.until == local(SHANGHAI, 2026, 3, 11, 8, 0)


def test_a_capped_marketing_message_is_skipped_with_its_reason() -> None:
    now = local(SHANGHAI, 2026, 3, 10, 12, 0)
    decision = _decide(now, history=[Sent(now - timedelta(hours=1), "sms")])
    assert (decision.verdict, decision.reason) == (Verdict.SKIP, "frequency_cap")


def test_transactional_messages_bypass_caps_and_quiet_hours() -> None:
    now = local(SHANGHAI, 2026, 3, 10, 23, 0)
    decision = _decide(now, marketing=False, history=[Sent(now - timedelta(hours=1), "sms")])
    assert decision.verdict == Verdict.SEND


def test_a_message_past_its_maximum_lateness_is_skipped_even_when_transactional() -> None:
    now = local(SHANGHAI, 2026, 3, 10, 12, 0)
    decision = _decide(now, marketing=False, not_after=now - timedelta(minutes=1))
    assert (decision.verdict, decision.reason) == (Verdict.SKIP, "too_late")


def test_a_deferral_that_would_end_after_the_maximum_lateness_is_a_skip() -> None:
    now = local(SHANGHAI, 2026, 3, 10, 22, 0)
    decision = _decide(now, not_after=now + timedelta(hours=2))
    assert (decision.verdict, decision.reason) == (Verdict.SKIP, "quiet_hours")


def test_a_message_deferred_to_the_morning_meets_that_days_cap_not_last_nights() -> None:
    evening = local(SHANGHAI, 2026, 3, 10, 22, 0)
    history = [Sent(local(SHANGHAI, 2026, 3, 10, 10, 0), "sms")]
    assert _decide(evening, history=history).verdict == Verdict.DEFER
    morning = local(SHANGHAI, 2026, 3, 11, 8, 0)
    assert _decide(morning, history=history).verdict == Verdict.SEND


# ------------------------------------------------------------------ retries


def test_retries_back_off_doubling_up_to_the_ceiling() -> None:
    rng = random.Random(1)
    delays = [retry_delay(n, base_s=30, max_s=600, rng=rng) for n in range(1, 8)]
    ceilings = [30, 60, 120, 240, 480, 600, 600]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling


def test_a_providers_retry_after_is_never_cut_short() -> None:
    assert retry_delay(1, base_s=30, max_s=600, retry_after_s=900) == 900
