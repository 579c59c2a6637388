"""Claims of a stopped worker are taken back: what never reached a provider is sent again,
what was handed over is never sent twice; and the providers' budgets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from patron.core.db import Database
from patron.core.settings import Settings
from patron.engagement import service as outbox
from patron.engagement.dispatch import Dispatcher
from patron.engagement.models import MessageStatus
from patron.engagement.ratelimit import take_tokens
from tests.engagement.builders import MORNING, enqueue, message_of
from tests.engagement.stand_ins import StandIns
from tests.helpers import reachable_customer

NOW = MORNING + timedelta(minutes=1)
LATER = NOW + timedelta(minutes=5)  # past the lease below


def _claim_and_stop(db: Database) -> outbox.Claim:
    """A worker claims the batch, then is killed before sending anything."""
    return db.write(lambda s: outbox.claim_due(session=s, now=NOW, limit=10, lease_s=120))


def test_a_claim_whose_worker_stopped_before_sending_goes_back_and_is_sent_once(
    db: Database, servers: StandIns, configure: Callable[..., Settings]
) -> None:
    who = reachable_customer(db, email="zhang.wei@example.cn")
    enqueue(db, [who])
    _claim_and_stop(db)
    settings = configure()
    early = Dispatcher(db, settings=settings, clock=lambda: NOW + timedelta(seconds=30))
    assert early.sweep() == {"requeued": 0, "unconfirmed": 0}  # the lease still runs
    assert early.dispatch_due().claimed == 0  # and a claimed message is not due

    later = Dispatcher(db, settings=settings, clock=lambda: LATER)
    assert later.sweep() == {"requeued": 1, "unconfirmed": 0}
    assert later.dispatch_due().sent == 1
    later.close_thread()
    assert servers.smtp.per_recipient() == {"zhang.wei@example.cn": 1}
    assert message_of(db, who).attempts == 1


def test_a_message_handed_over_before_its_worker_stopped_is_never_sent_again(
    db: Database, servers: StandIns, configure: Callable[..., Settings]
) -> None:
    who = reachable_customer(db)
    enqueue(db, [who], channel="sms")
    claim = _claim_and_stop(db)
    message_id = claim.messages[0].id
    db.write(
        lambda s: outbox.mark_handed_over(
            session=s, message_id=message_id, token=claim.token, provider="aliyun", now=NOW
        )
    )
    later = Dispatcher(db, settings=configure(), clock=lambda: LATER)
    assert later.sweep() == {"requeued": 0, "unconfirmed": 1}
    assert later.dispatch_due().claimed == 0
    done = message_of(db, who, channel="sms")
    assert (done.status, done.reason) == (MessageStatus.SENT, "unconfirmed")
    assert [(a.outcome, a.code) for a in done.history] == [("unconfirmed", "worker_stopped")]
    assert servers.aliyun.received == []  # (the stand-in never got the last byte here)


def test_a_provider_that_drops_repeats_is_simply_asked_again(
    db: Database, servers: StandIns, configure: Callable[..., Settings]
) -> None:
    who = reachable_customer(db, phone="13900003333")
    enqueue(db, [who], channel="sms")
    settings = configure(sms="webhook")
    # The first worker delivered the message and was killed before recording it.
    first = Dispatcher(db, settings=settings, clock=lambda: NOW)
    claim = _claim_and_stop(db)
    message_id = claim.messages[0].id
    db.write(
        lambda s: outbox.mark_handed_over(
            session=s, message_id=message_id, token=claim.token, provider="webhook", now=NOW
        )
    )
    from patron.engagement.channels.base import Outgoing, SmsBody

    adapter = first._adapter("sms")
    adapter.send(
        Outgoing(
            message_id, "sms", True, "+8613900003333", SmsBody(text="hi"), f"patron-{message_id}"
        ),
        lambda: True,
    )
    later = Dispatcher(db, settings=settings, clock=lambda: LATER)
    assert later.sweep() == {"requeued": 1, "unconfirmed": 0}
    assert later.dispatch_due().sent == 1
    assert servers.webhook.per_recipient() == {"+8613900003333": 1}
    first.close_thread()
    later.close_thread()


def test_a_worker_whose_claim_was_taken_back_sends_nothing(
    db: Database, servers: StandIns, configure: Callable[..., Settings]
) -> None:
    who = reachable_customer(db)
    enqueue(db, [who])
    stale = _claim_and_stop(db)
    later = Dispatcher(db, settings=configure(), clock=lambda: LATER)
    later.sweep()
    fresh = db.write(lambda s: outbox.claim_due(session=s, now=LATER, limit=10, lease_s=120))
    assert [m.id for m in fresh.messages] == [m.id for m in stale.messages]
    handed = db.write(
        lambda s: outbox.mark_handed_over(
            session=s,
            message_id=stale.messages[0].id,
            token=stale.token,
            provider="smtp",
            now=LATER,
        )
    )
    assert handed is False  # the old worker, waking up, may not hand it over


def test_a_providers_budget_refills_at_its_rate(db: Database) -> None:
    def take(want: int, seconds: float) -> tuple[int, float]:
        at = NOW + timedelta(seconds=seconds)
        return db.write(
            lambda s: take_tokens(session=s, provider="aliyun", want=want, rate=2.0, now=at)
        )

    assert take(5, 0) == (2, 0.5)  # one second's worth to start with
    granted, wait = take(5, 0)
    assert granted == 0 and 0 < wait <= 0.5
    assert take(5, 1.0)[0] == 2
    assert take(1, 1.6)[0] == 1
