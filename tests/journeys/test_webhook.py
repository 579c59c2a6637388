"""The webhook step: each entry's call is a signed ``journey.webhook`` event delivered to
the step's subscription alone, through the webhooks' retrying delivery, once per entry
however often the step runs; the step's figures show where the calls are."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.events import webhooks
from patron.events.delivery import WebhookSender
from patron.events.schemas import SubscriptionIn
from patron.journeys import JourneyIn, create_journey, journey_stats
from patron.journeys.engine import run_due_batch
from tests.events.receiver import Receiver, running_receiver
from tests.helpers import ACTOR, post_order
from tests.journeys.helpers import entries, local, shop, tick

START = local(2027, 3, 15, 10, 0)


class Clock:
    """The instant the sender signs with and the receiver checks against."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def receiver(clock: Clock) -> Iterator[Receiver]:
    with running_receiver(clock) as found:
        yield found


def _subscribe(db: Database, receiver: Receiver, name: str = "CRM 外呼") -> int:
    subscription_in = SubscriptionIn(name=name, url=receiver.url, event_types=["journey.webhook"])
    created = db.write(
        lambda s: webhooks.create_subscription(
            session=s, subscription_in=subscription_in, actor=ACTOR
        )
    )
    receiver.secret = created.secret
    return created.subscription.id


def _journey(db: Database, subscription_id: int) -> int:
    journey_in = JourneyIn.model_validate(
        {
            "name": "下单后通知外呼系统",
            "trigger": {"kind": "event", "event": "order.created"},
            "steps": [{"kind": "webhook", "subscription_id": subscription_id}, {"kind": "exit"}],
            "goal": None,
        }
    )
    return db.write(
        lambda s: create_journey(session=s, journey_in=journey_in, actor=ACTOR, enabled=True)
    ).id


def _figures(db: Database, journey_id: int) -> dict[str, int]:
    stats = db.read(lambda s: journey_stats(session=s, journey_id=journey_id))
    return stats.steps[0].outcomes


def test_each_entry_calls_the_webhook_once_signed_and_the_figures_show_it(
    db: Database, receiver: Receiver, clock: Clock
) -> None:
    people = shop(db, 小王="1990-05-01", 小李="1991-06-01")
    subscription = _subscribe(db, receiver)
    with running_receiver(clock) as other:  # a subscriber to the type gets none of them
        _subscribe(db, other, "另一个系统")
        _test_calls(db, receiver, other, clock, people, _journey(db, subscription))


def _test_calls(
    db: Database,
    receiver: Receiver,
    other: Receiver,
    clock: Clock,
    people: dict[str, int],
    journey: int,
) -> None:
    for n, cid in enumerate(people.values()):
        post_order(db, f"W{n}", customer={"id": cid}, at=START)
    tick(db, START)
    tick(db, START + timedelta(minutes=1))  # nothing left to run
    db.write(lambda s: run_due_batch(session=s, now=START + timedelta(minutes=2)))
    assert _figures(db, journey) == {"webhook": 2, "webhook:pending": 2}

    report = WebhookSender(db, clock=clock).send_all_due()
    assert report.delivered == 2
    assert receiver.bad_signatures == 0 and other.requests == 0
    by_customer = {body["customer_id"]: body for body in receiver.received}
    assert sorted(by_customer) == sorted(people.values())
    done = {e.customer_id: e for e in entries(db, journey)}
    for cid, body in by_customer.items():
        assert body["type"] == "journey.webhook"
        assert body["data"]["journey_id"] == journey
        assert body["data"]["step_key"] == "s1"
        assert body["data"]["entry_id"] == done[cid].id
        assert body["id"] == f"journey.webhook:{journey}.s1.{done[cid].id}"
        assert done[cid].status == "exited"
    assert _figures(db, journey) == {"webhook": 2, "webhook:delivered": 2}


def test_a_lone_entry_calls_only_the_steps_subscription(
    db: Database, receiver: Receiver, clock: Clock
) -> None:
    """One entry in a batch is one event: it still goes to the step's subscription alone, not
    to every subscriber of ``journey.webhook`` (an order's single event takes a shorter path)."""
    people = shop(db, 小王="1990-05-01")
    subscription = _subscribe(db, receiver)
    with running_receiver(clock) as other:
        _subscribe(db, other, "另一个系统")
        journey = _journey(db, subscription)
        post_order(db, "L1", customer={"id": people["小王"]}, at=START)
        tick(db, START)
        WebhookSender(db, clock=clock).send_all_due()
        assert [b["customer_id"] for b in receiver.received] == [people["小王"]]
        assert other.requests == 0
    assert _figures(db, journey) == {"webhook": 1, "webhook:delivered": 1}


def test_a_step_run_again_after_a_kill_calls_no_one_twice(
    db: Database, receiver: Receiver, clock: Clock
) -> None:
    people = shop(db, 小王="1990-05-01")
    journey = _journey(db, _subscribe(db, receiver))
    post_order(db, "K1", customer={"id": people["小王"]}, at=START)

    class Killed(Exception):
        pass

    def killed(session: object) -> None:
        run_due_batch(session=session, now=START)  # type: ignore[arg-type]
        raise Killed

    from patron.journeys.scheduler import _order_events

    db.write(lambda s: _order_events(s, START))
    with pytest.raises(Killed):
        db.write(killed)
    tick(db, START)
    tick(db, START + timedelta(minutes=1))
    WebhookSender(db, clock=clock).send_all_due()
    assert len(receiver.received) == 1
    assert _figures(db, journey) == {"webhook": 1, "webhook:delivered": 1}


def test_an_endpoint_down_gets_the_calls_later_through_the_retries(
    db: Database, receiver: Receiver, clock: Clock
) -> None:
    people = shop(db, 小王="1990-05-01")
    journey = _journey(db, _subscribe(db, receiver))
    post_order(db, "D1", customer={"id": people["小王"]}, at=START)
    tick(db, START)
    receiver.status = 503
    sender = WebhookSender(db, clock=clock)
    for _ in range(30):  # half an hour down, tried with back-off
        sender.send_all_due()
        clock.now += timedelta(minutes=1)
    assert receiver.received == [] and receiver.requests >= 3
    assert _figures(db, journey) == {"webhook": 1, "webhook:pending": 1}
    receiver.status = 200
    for _ in range(120):
        if receiver.received:
            break
        sender.send_all_due()
        clock.now += timedelta(minutes=1)
    assert [b["customer_id"] for b in receiver.received] == [people["小王"]]
    assert _figures(db, journey) == {"webhook": 1, "webhook:delivered": 1}


def test_a_webhook_step_must_name_a_subscription_that_exists(db: Database) -> None:
    journey_in = JourneyIn.model_validate(
        {
            "name": "无订阅",
            "trigger": {"kind": "event", "event": "order.created"},
            "steps": [{"kind": "tag", "add": "x"}, {"kind": "webhook", "subscription_id": 999}],
        }
    )
    with pytest.raises(InvalidInput) as refused:
        db.write(lambda s: create_journey(session=s, journey_in=journey_in, actor=ACTOR))
    assert refused.value.field == "steps.1.subscription_id"
