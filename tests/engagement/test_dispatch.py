"""The dispatcher against the stand-ins, on SQLite and PostgreSQL: one message per recipient,
retries with back-off, failures with the provider's reason, and the send-time checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from patron.core.db import Database
from patron.core.settings import Settings
from patron.engagement import checks
from patron.engagement import enqueue as enqueueing
from patron.engagement import service as outbox
from patron.engagement.dispatch import Dispatcher
from patron.engagement.models import MessageStatus
from tests.engagement.builders import MORNING, enqueue, message_of
from tests.engagement.stand_ins import StandIns
from tests.helpers import add_store, reachable_customer


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(MORNING + timedelta(minutes=1))


@pytest.fixture
def dispatcher(
    db: Database, configure: Callable[..., Settings], clock: Clock
) -> Iterator[Callable[..., Dispatcher]]:
    made: list[Dispatcher] = []

    def make(**settings: str) -> Dispatcher:
        d = Dispatcher(db, settings=configure(**settings), clock=clock)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close_thread()


def test_each_recipient_gets_one_email_with_their_own_name_and_coupon(
    db: Database, servers: StandIns, dispatcher: Callable[..., Dispatcher]
) -> None:
    add_store(db, "SH01", "上海南京路店")
    people = [reachable_customer(db, store="SH01", name=n) for n in ("王小明", "李娜", "张伟")]
    assert enqueue(db, people).created == 3

    report = dispatcher().dispatch_due()

    assert (report.claimed, report.sent) == (3, 3)
    assert sorted(servers.smtp.per_recipient().values()) == [1, 1, 1]
    subjects = sorted(d.message["Subject"] for d in servers.smtp.delivered)
    assert subjects == sorted(f"{n}，会员日全场 8 折" for n in ("王小明", "李娜", "张伟"))
    text = servers.smtp.delivered[0].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "凭券 SH-8F3K 到上海南京路店全场 8 折" in text
    sent = message_of(db, people[0])
    assert sent.status == MessageStatus.SENT
    assert sent.provider == "smtp" and sent.provider_message_id
    assert [(a.number, a.outcome) for a in sent.history] == [(1, "sent")]
    assert dispatcher().dispatch_due().claimed == 0  # nothing left to claim


def test_enqueueing_the_same_run_again_adds_nothing_and_merged_customers_are_left_out(
    db: Database, servers: StandIns
) -> None:
    from patron.customers import service as customers
    from tests.helpers import ACTOR

    first, second, gone = (reachable_customer(db) for _ in range(3))
    db.write(
        lambda s: customers.merge_customers(
            session=s, survivor_id=first, merged_id=gone, reason="same person", actor=ACTOR
        )
    )
    result = enqueue(db, [first, second, gone, 999_999])
    assert (result.created, result.already_queued, result.left_out) == (2, 0, [gone, 999_999])
    again = enqueue(db, [first, second])
    assert (again.created, again.already_queued) == (0, 2)


@pytest.mark.parametrize("coupon", ["SH-8F3K", None])
def test_a_few_recipients_written_inline_are_written_as_through_the_temporary_table(
    db: Database, monkeypatch: pytest.MonkeyPatch, coupon: str | None
) -> None:
    """A journey's step or a ticket's update enqueues one message without a temporary
    table; the messages, the counts and who is left out are the same either way."""
    from patron.customers import service as customers
    from patron.engagement.models import OutboxMessage
    from tests.helpers import ACTOR

    people = [reachable_customer(db) for _ in range(4)]
    db.write(
        lambda s: customers.merge_customers(
            session=s, survivor_id=people[0], merged_id=people[3], reason="same", actor=ACTOR
        )
    )
    wanted = [*people, 999_999]
    seen = []
    for inline, source in [(100, "inline"), (0, "table")]:
        monkeypatch.setattr(enqueueing, "_INLINE_RECIPIENTS", inline)
        result = enqueue(db, wanted, source=("campaign", source), coupon=coupon)
        again = enqueue(db, wanted[:1], source=("campaign", source), coupon=coupon)
        messages = [message_of(db, cid, source=("campaign", source)) for cid in people[:3]]
        ids = [m.id for m in messages]
        variables = db.read(lambda s, ids=ids: [s.get(OutboxMessage, i).variables for i in ids])
        seen.append(
            (
                (result.created, result.already_queued, result.left_out),
                (again.created, again.already_queued),
                [(m.customer_id, m.status, m.next_attempt_at, m.not_after) for m in messages],
                variables,
            )
        )
    assert seen[0] == seen[1]
    assert seen[0][0] == (3, 0, [people[3], 999_999])
    assert seen[0][3] == [{"coupon_code": coupon} if coupon else None] * 3


def test_enqueueing_the_recipients_a_query_selects_leaves_out_the_same_and_adds_nothing_twice(
    db: Database,
) -> None:
    from sqlalchemy import literal, select, union_all

    from patron.customers import service as customers
    from patron.engagement.schemas import EnqueueResult, MessagesIn
    from tests.engagement.builders import CONTENT
    from tests.helpers import ACTOR

    first, second, gone = (reachable_customer(db) for _ in range(3))
    db.write(
        lambda s: customers.merge_customers(
            session=s, survivor_id=first, merged_id=gone, reason="same person", actor=ACTOR
        )
    )

    def send(session: Any, ids: list[int]) -> EnqueueResult:
        content_id = outbox.create_content(session=session, content_in=CONTENT["sms"])
        chosen = union_all(*(select(literal(i).label("customer_id")) for i in ids)).subquery()
        return outbox.enqueue_selected(
            session=session,
            messages_in=MessagesIn(
                source_kind="campaign",
                source_id="7",
                channel="sms",
                purpose="marketing",
                content_id=content_id,
                recipients=[],
                send_at=MORNING,
            ),
            customer_ids=select(chosen.c.customer_id),
        )

    result = db.write(lambda s: send(s, [first, second, gone, 999_999]))
    assert (result.created, result.already_queued, result.left_out) == (2, 0, [gone, 999_999])
    again = db.write(lambda s: send(s, [first, second]))
    assert (again.created, again.already_queued, again.left_out) == (0, 2, [])
    message = message_of(db, second, source=("campaign", "7"), channel="sms")
    assert message.status == MessageStatus.QUEUED


def test_two_dispatchers_never_claim_the_same_message(
    db: Database, servers: StandIns, dispatcher: Callable[..., Dispatcher], clock: Clock
) -> None:
    people = [reachable_customer(db) for _ in range(6)]
    enqueue(db, people)
    now = clock()
    first = db.write(lambda s: outbox.claim_due(session=s, now=now, limit=4, lease_s=60))
    second = db.write(lambda s: outbox.claim_due(session=s, now=now, limit=4, lease_s=60))
    one = {m.id for m in first.messages}
    two = {m.id for m in second.messages}
    assert (len(one), len(two)) == (4, 2)
    assert not one & two


def test_a_temporary_failure_is_retried_after_a_back_off_and_sent_once(
    db: Database, servers: StandIns, dispatcher: Callable[..., Dispatcher], clock: Clock
) -> None:
    who = reachable_customer(db, email="li.na@example.cn")
    enqueue(db, [who])
    servers.smtp.script.fail("li.na@example.cn", "451 4.3.0 Try again later")
    send = dispatcher(dispatch_retry_base_s="60")

    assert send.dispatch_due().retried == 1
    waiting = message_of(db, who)
    assert waiting.status == MessageStatus.QUEUED
    assert waiting.reason == "retry" and waiting.attempts == 1
    assert timedelta(seconds=30) <= waiting.next_attempt_at - clock() <= timedelta(seconds=60)
    assert send.dispatch_due().claimed == 0  # not due yet

    clock.advance(seconds=61)
    assert send.dispatch_due().sent == 1
    done = message_of(db, who)
    assert done.status == MessageStatus.SENT and done.attempts == 2
    assert [a.outcome for a in done.history] == ["retry", "sent"]
    assert servers.smtp.per_recipient() == {"li.na@example.cn": 1}


def test_retries_stop_at_the_cap(
    db: Database, servers: StandIns, dispatcher: Callable[..., Dispatcher], clock: Clock
) -> None:
    who = reachable_customer(db, phone="13900001111")
    enqueue(db, [who], channel="sms", purpose="transactional")
    servers.aliyun.script.always("13900001111", "isp.SYSTEM_ERROR")
    send = dispatcher(dispatch_max_attempts="3", dispatch_retry_base_s="1")
    for _ in range(3):
        send.dispatch_due()
        clock.advance(seconds=5)
    failed = message_of(db, who, channel="sms")
    assert (failed.status, failed.reason, failed.attempts) == (MessageStatus.FAILED, "gave_up", 3)
    assert send.dispatch_due().claimed == 0


def test_an_invalid_number_fails_at_once_with_the_providers_reason(
    db: Database, servers: StandIns, dispatcher: Callable[..., Dispatcher]
) -> None:
    who = reachable_customer(db, phone="13900002222")
    enqueue(db, [who], channel="sms", purpose="transactional")
    servers.tencent.script.fail("+8613900002222", "InvalidParameterValue.IncorrectPhoneNumber")
    dispatcher(sms="tencent").dispatch_due()
    failed = message_of(db, who, channel="sms")
    assert (failed.status, failed.reason) == (MessageStatus.FAILED, "invalid_recipient")
    assert failed.history[0].code == "InvalidParameterValue.IncorrectPhoneNumber"


def test_an_account_problem_fails_the_message_and_pauses_the_provider_for_the_rest(
    db: Database, servers: StandIns, dispatcher: Callable[..., Dispatcher], clock: Clock
) -> None:
    people = [reachable_customer(db) for _ in range(3)]
    enqueue(db, people, channel="sms", purpose="transactional")
    report = dispatcher(aliyun_access_key_secret="revoked").dispatch_due()
    assert (report.failed, report.deferred) == (1, 2)
    statuses = sorted((message_of(db, p, channel="sms").reason or "") for p in people)
    assert statuses == ["account", "provider_paused", "provider_paused"]
    assert servers.aliyun.received == []


def test_a_message_past_its_maximum_lateness_is_skipped_not_sent_late(
    db: Database, servers: StandIns, dispatcher: Callable[..., Dispatcher], clock: Clock
) -> None:
    who = reachable_customer(db)
    enqueue(db, [who], not_after=MORNING + timedelta(hours=1))
    clock.advance(hours=2)
    assert dispatcher().dispatch_due().skipped == 1
    skipped = message_of(db, who)
    assert (skipped.status, skipped.reason) == (MessageStatus.SKIPPED, "too_late")
    assert servers.smtp.delivered == []


def test_a_customer_without_an_address_on_the_channel_is_skipped(
    db: Database, servers: StandIns, dispatcher: Callable[..., Dispatcher]
) -> None:
    who = reachable_customer(db, email=None)
    enqueue(db, [who])
    dispatcher().dispatch_due()
    assert message_of(db, who).reason == "no_address"


def test_a_placeholder_without_a_value_fails_the_message_instead_of_sending_a_hole(
    db: Database, servers: StandIns, dispatcher: Callable[..., Dispatcher]
) -> None:
    who = reachable_customer(db)
    enqueue(db, [who], coupon=None)
    dispatcher().dispatch_due()
    failed = message_of(db, who)
    assert (failed.status, failed.reason) == (MessageStatus.FAILED, "rejected")
    assert failed.history[0].code == "template_error"
    assert "coupon_code" in (failed.detail or "")
    assert servers.smtp.delivered == []


def test_a_registered_send_check_skips_with_its_reason(
    db: Database, servers: StandIns, dispatcher: Callable[..., Dispatcher]
) -> None:
    allowed, refused = reachable_customer(db), reachable_customer(db)
    enqueue(db, [allowed, refused])

    def no_marketing_for(session: object, candidates: object) -> dict[int, str]:
        return {c.message_id: "withdrawn_consent" for c in candidates if c.customer_id == refused}  # type: ignore[attr-defined]

    checks.register_send_check("test-consent", no_marketing_for)
    try:
        dispatcher().dispatch_due()
    finally:
        checks.unregister_send_check("test-consent")
    assert message_of(db, refused).reason == "withdrawn_consent"
    assert message_of(db, refused).status == MessageStatus.SKIPPED
    assert message_of(db, allowed).status == MessageStatus.SENT
    assert len(servers.smtp.delivered) == 1
