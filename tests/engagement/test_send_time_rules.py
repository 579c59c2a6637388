"""Quiet hours and frequency caps as the dispatcher applies them at send time, in each
customer's store's zone, across campaigns and channels; transactional messages pass both.
Each test fails if its rule is taken out of the dispatcher."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from patron.core.db import Database
from patron.core.settings import Settings
from patron.engagement.dispatch import Dispatcher
from patron.engagement.models import MessageStatus
from tests.engagement.builders import enqueue, message_of
from tests.engagement.stand_ins import StandIns
from tests.helpers import add_store, reachable_customer

TEN_PM_SHANGHAI = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
EIGHT_AM_NEXT_DAY = datetime(2026, 3, 11, 0, 0, tzinfo=UTC)


def _dispatcher(db: Database, settings: Settings, at: datetime) -> Dispatcher:
    return Dispatcher(db, settings=settings, clock=lambda: at)


def test_a_marketing_sms_at_night_waits_for_the_morning(
    db: Database, servers: StandIns, configure: Callable[..., Settings]
) -> None:
    settings = configure()
    who = reachable_customer(db, store=add_store(db, "SH01", "上海南京路店"))
    enqueue(db, [who], channel="sms", send_at=TEN_PM_SHANGHAI - timedelta(minutes=5))

    report = _dispatcher(db, settings, TEN_PM_SHANGHAI).dispatch_due()
    assert report.deferred == 1 and servers.aliyun.received == []
    waiting = message_of(db, who, channel="sms")
    assert (waiting.status, waiting.reason) == (MessageStatus.QUEUED, "quiet_hours")
    assert waiting.next_attempt_at == EIGHT_AM_NEXT_DAY
    assert waiting.attempts == 0  # waiting is not an attempt

    assert _dispatcher(db, settings, EIGHT_AM_NEXT_DAY).dispatch_due().sent == 1
    assert len(servers.aliyun.received) == 1


def test_a_transactional_sms_at_night_goes_at_once(
    db: Database, servers: StandIns, configure: Callable[..., Settings]
) -> None:
    who = reachable_customer(db)
    enqueue(db, [who], channel="sms", purpose="transactional", send_at=TEN_PM_SHANGHAI)
    assert _dispatcher(db, configure(), TEN_PM_SHANGHAI).dispatch_due().sent == 1


def test_quiet_hours_follow_the_clock_of_the_customers_store(
    db: Database, servers: StandIns, configure: Callable[..., Settings]
) -> None:
    # 21:30 in Shanghai is 19:30 in Urumqi: the Urumqi store's member still gets the SMS.
    at = datetime(2026, 3, 10, 13, 30, tzinfo=UTC)
    urumqi = reachable_customer(
        db, store=add_store(db, "XJ01", "乌鲁木齐店", timezone="Asia/Urumqi")
    )
    shanghai = reachable_customer(db, store=add_store(db, "SH01", "上海南京路店"))
    enqueue(db, [urumqi, shanghai], channel="sms", send_at=at)
    report = _dispatcher(db, configure(), at).dispatch_due()
    assert (report.sent, report.deferred) == (1, 1)
    assert message_of(db, urumqi, channel="sms").status == MessageStatus.SENT
    assert message_of(db, shanghai, channel="sms").status == MessageStatus.QUEUED


def test_a_second_marketing_sms_the_same_day_is_skipped_even_from_another_campaign(
    db: Database, servers: StandIns, configure: Callable[..., Settings]
) -> None:
    settings = configure()
    who = reachable_customer(db)
    morning = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)  # 09:00 Shanghai
    enqueue(db, [who], channel="sms", source=("campaign", "spring"), send_at=morning)
    _dispatcher(db, settings, morning).dispatch_due()
    afternoon = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
    enqueue(db, [who], channel="sms", source=("campaign", "member-day"), send_at=afternoon)
    _dispatcher(db, settings, afternoon).dispatch_due()

    capped = message_of(db, who, source=("campaign", "member-day"), channel="sms")
    assert (capped.status, capped.reason) == (MessageStatus.SKIPPED, "frequency_cap")
    assert len(servers.aliyun.received) == 1

    next_day = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)
    enqueue(db, [who], channel="sms", source=("campaign", "weekend"), send_at=next_day)
    _dispatcher(db, settings, next_day).dispatch_due()
    assert len(servers.aliyun.received) == 2


def test_the_weekly_cap_counts_every_channel_and_transactional_messages_pass(
    db: Database, servers: StandIns, configure: Callable[..., Settings]
) -> None:
    settings = configure()
    who = reachable_customer(db)
    monday = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
    for n, channel in enumerate(("email", "wechat")):
        at = monday + timedelta(days=n)
        enqueue(db, [who], channel=channel, source=("campaign", f"c{n}"), send_at=at)
        assert _dispatcher(db, settings, at).dispatch_due().sent == 1
    thursday = monday + timedelta(days=3)
    enqueue(db, [who], channel="sms", source=("campaign", "c3"), send_at=thursday)
    enqueue(
        db,
        [who],
        channel="sms",
        purpose="transactional",
        source=("order", "A100"),
        send_at=thursday,
    )
    report = _dispatcher(db, settings, thursday).dispatch_due()
    assert (report.sent, report.skipped) == (1, 1)
    assert message_of(db, who, source=("campaign", "c3"), channel="sms").reason == "frequency_cap"
    assert message_of(db, who, source=("order", "A100"), channel="sms").status == MessageStatus.SENT


def test_when_campaigns_compete_for_one_customer_the_higher_priority_wins(
    db: Database, servers: StandIns, configure: Callable[..., Settings]
) -> None:
    at = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    who = reachable_customer(db)
    enqueue(db, [who], channel="sms", source=("campaign", "newsletter"), send_at=at, priority=0)
    enqueue(db, [who], channel="sms", source=("campaign", "win-back"), send_at=at, priority=10)
    _dispatcher(db, configure(), at).dispatch_due()
    assert (
        message_of(db, who, source=("campaign", "win-back"), channel="sms").status
        == MessageStatus.SENT
    )
    assert (
        message_of(db, who, source=("campaign", "newsletter"), channel="sms").reason
        == "frequency_cap"
    )


@pytest.mark.postgres
def test_the_daily_cap_holds_when_two_workers_decide_for_one_customer_at_once(
    pg_db: Database, servers: StandIns, configure: Callable[..., Settings]
) -> None:
    settings = configure(dispatch_batch="1")
    at = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    people = [reachable_customer(pg_db) for _ in range(12)]
    for who in people:  # each customer's two messages side by side in the queue
        enqueue(pg_db, [who], channel="sms", source=("campaign", "a"), send_at=at)
        enqueue(pg_db, [who], channel="sms", source=("campaign", "b"), send_at=at)

    def work() -> None:
        d = _dispatcher(pg_db, settings, at)
        while d.dispatch_due().claimed:
            pass
        d.close_thread()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(servers.aliyun.per_recipient().values()) == [1] * 12
