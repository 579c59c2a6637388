"""The send-time rules for marketing messages, as plain functions of plain data.

- Quiet hours: a marketing message that falls in a quiet window of its channel, in the
  customer's local time, waits for the window's end (it is deferred, not dropped).
- Frequency caps: at most N marketing messages over D calendar days in the customer's zone,
  on one channel or on all of them, across every campaign and journey. "A day" is a calendar
  day in the customer's zone; a cap over 7 days counts today and the 6 days before it.
- Transactional messages bypass both.

:func:`decide` puts them together for one message; the dispatcher (``dispatch.py``) gives it
the customer's zone, what the customer was sent lately, and the settings' rules.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from patron.core.settings import MessageCap, QuietHours


def _local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    # fold=0: the first of a repeated wall time; a time in a gap lands just after the gap.
    return datetime.combine(day, at, tzinfo=zone).replace(fold=0).astimezone(UTC)


def window_start(now: datetime, *, days: int, zone: ZoneInfo) -> datetime:
    """The start of the ``days`` calendar days in ``zone`` that end with today."""
    today = now.astimezone(zone).date()
    return _local_instant(today - timedelta(days=days - 1), time.min, zone)


def _in_window(clock: time, window: QuietHours) -> bool:
    if window.start < window.end:
        return window.start <= clock < window.end
    return clock >= window.start or clock < window.end


def quiet_until(
    now: datetime, *, channel: str, zone: ZoneInfo, windows: Iterable[QuietHours]
) -> datetime | None:
    """When a marketing message on ``channel`` may go, if ``now`` is in one of its quiet
    windows (local time in ``zone``); None when it may go now. Overlapping or back-to-back
    windows are followed to the end of the last one."""
    mine = [w for w in windows if w.channel in (None, channel)]
    moment = now
    for _ in range(len(mine) + 1):
        local = moment.astimezone(zone)
        clock = local.time().replace(tzinfo=None)
        hit = next((w for w in mine if _in_window(clock, w)), None)
        if hit is None:
            return None if moment == now else moment
        day = local.date()
        if clock >= hit.end:  # an evening inside a window that spans midnight
            day += timedelta(days=1)
        moment = _local_instant(day, hit.end, zone)
    return moment


@dataclass(frozen=True)
class Sent:
    """A marketing message the customer was sent (or is being sent): when, and on what."""

    at: datetime
    channel: str


def cap_reached(
    now: datetime,
    *,
    channel: str,
    zone: ZoneInfo,
    history: Sequence[Sent],
    caps: Iterable[MessageCap],
) -> MessageCap | None:
    """The first cap one more marketing message on ``channel`` would break, or None."""
    for cap in caps:
        if cap.channel not in (None, channel):
            continue
        since = window_start(now, days=cap.days, zone=zone)
        counted = sum(1 for s in history if s.at >= since and cap.channel in (None, s.channel))
        if counted >= cap.limit:
            return cap
    return None


class Verdict(StrEnum):
    SEND = "send"
    DEFER = "defer"
    SKIP = "skip"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str | None = None  # for a skip or a deferral: quiet_hours, frequency_cap, too_late
    until: datetime | None = None  # for a deferral


SEND = Decision(Verdict.SEND)


def decide(
    now: datetime,
    *,
    channel: str,
    marketing: bool,
    zone: ZoneInfo,
    history: Sequence[Sent],
    caps: Iterable[MessageCap],
    quiet: Iterable[QuietHours],
    not_after: datetime | None = None,
) -> Decision:
    """Send, wait for the end of quiet hours, or skip, for one message at ``now``.

    Quiet hours come first: a message deferred to the morning meets the caps of the day it
    is sent on. A message that would have to wait past its ``not_after`` is skipped.
    """
    if not_after is not None and now > not_after:
        return Decision(Verdict.SKIP, "too_late")
    if not marketing:
        return SEND
    until = quiet_until(now, channel=channel, zone=zone, windows=quiet)
    if until is not None:
        if not_after is not None and until > not_after:
            return Decision(Verdict.SKIP, "quiet_hours")
        return Decision(Verdict.DEFER, "quiet_hours", until)
    if cap_reached(now, channel=channel, zone=zone, history=history, caps=caps) is not None:
        return Decision(Verdict.SKIP, "frequency_cap")
    return SEND


def retry_delay(
    attempt: int,
    *,
    base_s: float,
    max_s: float,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds before try number ``attempt + 1``: doubling from ``base_s`` up to ``max_s``,
    drawn from the upper half so retries of a batch spread out; never sooner than the
    provider's own Retry-After."""
    ceiling = min(max_s, base_s * 2 ** max(0, attempt - 1))
    draw = (rng or random).uniform(ceiling / 2, ceiling)
    return max(draw, retry_after_s or 0.0)
