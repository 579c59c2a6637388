from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from patron import events
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.events import service as events_service
from patron.events import webhooks
from patron.events.delivery import WebhookSender, retry_delay
from patron.events.models import DeliveryStatus, Event, WebhookAttempt, WebhookDelivery
from patron.events.schemas import SubscriptionIn
from tests.events.receiver import Receiver, running_receiver, verify
from tests.helpers import ACTOR, sign_up


class FrozenClock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    """One frozen clock for the events' times, the sender and the receiver."""
    frozen = FrozenClock()
    monkeypatch.setattr(events_service, "utcnow", frozen)
    monkeypatch.setattr(webhooks, "utcnow", frozen)
    return frozen


@pytest.fixture
def receiver(clock: FrozenClock) -> Iterator[Receiver]:
    with running_receiver(clock) as found:
        yield found


def _subscribe(db: Database, receiver: Receiver, *types: str) -> int:
    subscription_in = SubscriptionIn(
        name="ERP", url=receiver.url, event_types=list(types or ["tier.changed"])
    )
    created = db.write(
        lambda s: webhooks.create_subscription(
            session=s, subscription_in=subscription_in, actor=ACTOR
        )
    )
    receiver.secret = created.secret
    return created.subscription.id


def _publish(db: Database, customer_id: int, name: str) -> str:
    event_id = f"tier.changed:{name}"
    db.write(
        lambda s: events.publish(
            s, "tier.changed", customer_id=customer_id, properties={"tier": name}, event_id=event_id
        )
    )
    return event_id


def test_deliveries_are_signed_and_the_receiver_verifies_them(
    db: Database, receiver: Receiver, clock: FrozenClock
) -> None:
    customer = sign_up(db, phone="13800138000")
    _subscribe(db, receiver, "tier.changed", "customer.created")
    sent = _publish(db, customer, "gold")
    report = WebhookSender(db, clock=clock).send_all_due()
    assert report.delivered == 1
    assert receiver.bad_signatures == 0
    (body,) = receiver.received
    assert (body["id"], body["type"], body["customer_id"]) == (sent, "tier.changed", customer)
    assert body["data"] == {"tier": "gold"}
    assert receiver.headers[0]["Patron-Event-Type"] == "tier.changed"
    # a receiver with another secret, or a replay after the tolerance, refuses it
    header = receiver.headers[0]["Patron-Signature"]
    assert not verify("whsec_other", header, b"{}", clock())


def test_an_endpoint_down_for_an_hour_gets_every_event_afterwards_in_order_per_customer(
    db: Database, receiver: Receiver, clock: FrozenClock
) -> None:
    first = sign_up(db, phone="13800138000")
    second = sign_up(db, phone="13900139000")
    subscription = _subscribe(db, receiver)
    wanted = {first: [], second: []}  # type: dict[int, list[str]]
    for n, customer in enumerate([first, second, first, first, second, first]):
        wanted[customer].append(_publish(db, customer, f"t{n}"))
    sender = WebhookSender(db, clock=clock)
    receiver.status = 503
    for minute in range(0, 200):
        if minute == 60:
            receiver.status = 200
        sender.send_all_due()
        clock.advance(minutes=1)
    assert receiver.order_of(first) == wanted[first]
    assert receiver.order_of(second) == wanted[second]
    assert receiver.bad_signatures == 0
    deliveries = db.read(
        lambda s: webhooks.list_deliveries(session=s, subscription_id=subscription)
    )
    assert {d.status for d in deliveries} == {DeliveryStatus.DELIVERED}
    # while the endpoint was down only each customer's earliest event was tried
    head = next(d for d in deliveries if d.event_type == "tier.changed" and d.attempts > 1)
    attempts = db.read(lambda s: webhooks.list_attempts(session=s, delivery_id=head.id))
    assert [a.status_code for a in attempts][:3] == [503, 503, 503]
    assert attempts[-1].status_code == 200
    later = [d for d in deliveries if d.attempts == 1]
    assert len(later) == 4  # the others went through once, at the first try after the hour
    # the deliveries page reads every delivery's attempts in one query, the same as one by one
    batch = db.read(
        lambda s: webhooks.attempts_of(session=s, delivery_ids=[d.id for d in deliveries])
    )
    for delivery in deliveries:
        one = db.read(lambda s, d=delivery.id: webhooks.list_attempts(session=s, delivery_id=d))
        assert batch[delivery.id] == one and len(one) == delivery.attempts


def test_retries_stop_after_a_day_and_the_customers_next_event_goes(
    db: Database, receiver: Receiver, clock: FrozenClock
) -> None:
    customer = sign_up(db, phone="13800138000")
    _subscribe(db, receiver)
    stuck = _publish(db, customer, "gold")
    after = _publish(db, customer, "silver")
    sender = WebhookSender(db, clock=clock)
    receiver.status = 500
    for _ in range(30):  # given up after the try at 19 h; the next event tried from 20 h
        sender.send_all_due()
        clock.advance(hours=1)
    statuses = db.read(lambda s: webhooks.list_deliveries(session=s))
    assert sorted(d.status for d in statuses) == ["failed", "pending"]
    receiver.status = 200
    clock.advance(hours=7)
    sender.send_all_due()
    assert receiver.order_of(customer) == [after]
    failed = next(d for d in statuses if d.status == "failed")
    # staff send the given-up one again by hand
    db.write(lambda s: webhooks.redeliver(session=s, delivery_id=failed.id, actor=ACTOR))
    sender.send_all_due()
    assert receiver.order_of(customer) == [after, stuck]


def test_a_refusing_endpoint_is_not_retried_and_gone_disables_the_subscription(
    db: Database, receiver: Receiver, clock: FrozenClock
) -> None:
    customer = sign_up(db, phone="13800138000")
    subscription = _subscribe(db, receiver)
    _publish(db, customer, "gold")
    receiver.status = 422
    sender = WebhookSender(db, clock=clock)
    assert sender.send_all_due().failed == 1
    receiver.status = 410
    _publish(db, customer, "silver")
    assert sender.send_all_due().failed == 1
    found = db.read(lambda s: webhooks.get_subscription(session=s, subscription_id=subscription))
    assert found.status == "disabled"
    _publish(db, customer, "bronze")  # nothing is queued to a disabled subscription
    assert len(db.read(lambda s: webhooks.list_deliveries(session=s))) == 2


def test_after_a_rotation_both_secrets_sign_for_a_day(
    db: Database, receiver: Receiver, clock: FrozenClock
) -> None:
    customer = sign_up(db, phone="13800138000")
    subscription = _subscribe(db, receiver)
    old = receiver.secret
    rotated = db.write(
        lambda s: webhooks.rotate_secret(session=s, subscription_id=subscription, actor=ACTOR)
    )
    assert rotated.secret != old
    _publish(db, customer, "gold")
    WebhookSender(db, clock=clock).send_all_due()  # the receiver still holds the old secret
    assert len(receiver.received) == 1
    header, body = receiver.headers[0]["Patron-Signature"], receiver.bodies[0]
    assert verify(rotated.secret, header, body, clock())  # and so does one that switched
    assert verify(old, header, body, clock())
    clock.advance(hours=25)
    _publish(db, customer, "silver")
    WebhookSender(db, clock=clock).send_all_due()
    assert receiver.bad_signatures == 1  # a day later only the new secret signs


def test_a_stalled_claim_goes_back_and_is_sent_once(
    db: Database, receiver: Receiver, clock: FrozenClock
) -> None:
    from patron.events.delivery import claim_due

    customer = sign_up(db, phone="13800138000")
    _subscribe(db, receiver)
    _publish(db, customer, "gold")
    claimed = db.write(lambda s: claim_due(session=s, now=clock(), limit=10, lease_s=60))
    assert len(claimed) == 1  # a process claimed it and died before sending
    sender = WebhookSender(db, clock=clock)
    assert sender.send_all_due().claimed == 0
    clock.advance(seconds=61)
    assert sender.sweep() == 1
    sender.send_all_due()
    assert len(receiver.received) == 1


def test_a_sender_told_to_stop_gives_back_what_it_has_not_tried(
    db: Database, receiver: Receiver, clock: FrozenClock
) -> None:
    """A stopping sender finishes the attempt under way and gives the rest of its batch
    back, due as before and with no attempt counted, for the next sender, rather than
    working through the batch first or leaving it claimed until the lease ends."""
    import threading

    from patron.events.delivery import _Claimed, _Outcome

    customers = [sign_up(db, phone=f"1380013800{n}") for n in range(3)]
    _subscribe(db, receiver)
    sent = [_publish(db, customer, f"t{n}") for n, customer in enumerate(customers)]
    stop = threading.Event()

    class Stopped(WebhookSender):
        """Told to stop while its first delivery is with the receiver."""

        def _post(self, item: _Claimed, started: datetime) -> _Outcome:
            outcome = super()._post(item, started)
            stop.set()
            return outcome

    report = Stopped(db, clock=clock).send_due(stop=stop)
    assert (report.claimed, report.delivered, report.released) == (3, 1, 2)
    assert [e["id"] for e in receiver.received] == sent[:1]
    rows = db.read(
        lambda s: [
            (r.status, r.attempts, r.claimed_until)
            for r in s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
        ]
    )
    assert rows == [
        (DeliveryStatus.DELIVERED, 1, None),
        (DeliveryStatus.PENDING, 0, None),
        (DeliveryStatus.PENDING, 0, None),
    ]
    again = WebhookSender(db, clock=clock).send_due()
    assert (again.claimed, again.delivered) == (2, 2)
    assert sorted(e["id"] for e in receiver.received) == sorted(sent)
    attempts = db.read(lambda s: [a.number for a in s.scalars(select(WebhookAttempt))])
    assert sorted(attempts) == [1, 1, 1]  # each tried once, numbered as its first


def test_back_off_grows_four_times_and_is_capped() -> None:
    assert [retry_delay(n, jitter=0) for n in (1, 2, 3)] == [5.0, 20.0, 80.0]
    assert retry_delay(30, jitter=0) == 6 * 3600.0


def test_back_off_is_jittered_within_a_fifth_either_way() -> None:
    rng = random.Random(7)
    for attempts, base in ((1, 5.0), (3, 80.0), (30, 6 * 3600.0)):
        delays = [retry_delay(attempts, rng=rng) for _ in range(200)]
        assert all(base * 0.8 <= d <= base * 1.2 for d in delays)
        assert len(set(delays)) == 200  # no two alike
        assert min(delays) < base * 0.9 and max(delays) > base * 1.1  # spread over the band


def test_deliveries_failing_together_come_back_at_different_times(
    db: Database, receiver: Receiver, clock: FrozenClock
) -> None:
    _subscribe(db, receiver)
    for n in range(12):
        _publish(db, sign_up(db, phone=f"1380013{n:04d}"), f"t{n}")
    receiver.status = 503
    assert WebhookSender(db, clock=clock).send_all_due().retrying == 12
    due = db.read(
        lambda s: list(
            s.scalars(select(WebhookDelivery.next_attempt_at).order_by(WebhookDelivery.id))
        )
    )
    waits = [(at - clock()).total_seconds() for at in due]
    assert all(4.0 <= w <= 6.0 for w in waits)
    assert len(set(waits)) > 6  # not one burst 5 s later


def test_webhook_endpoints_must_be_https_and_public_outside_tests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from patron.core.settings import get_settings
    from patron.events.exceptions import EndpointRefused

    monkeypatch.setattr(get_settings(), "webhook_allow_private", False)
    for url in ("http://erp.example.cn/hook", "https://127.0.0.1/hook", "https://10.0.0.8/x"):
        with pytest.raises(EndpointRefused) as refused:
            webhooks.check_endpoint(url)
        assert refused.value.field == "url"
    webhooks.check_endpoint("https://erp.example.cn/hook")


def test_the_dispatcher_inside_the_server_sends_webhooks(
    db: Database, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from patron.core.settings import get_settings
    from patron.engagement.embedded import start_dispatch

    receiver.clock = utcnow
    customer = sign_up(db, phone="13800138000")
    _subscribe(db, receiver)
    sent = _publish(db, customer, "gold")
    monkeypatch.setenv("PATRON_DISPATCH", "embedded")
    monkeypatch.setenv("PATRON_DISPATCH_POLL_S", "0.05")
    get_settings.cache_clear()
    running = start_dispatch(db)
    assert running is not None
    try:
        deadline = time.monotonic() + 60  # a wait for the thread, not a measure of speed
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        running.stop()
    assert receiver.order_of(customer) == [sent]


def test_the_kept_subscriptions_follow_a_change_made_in_this_process(db: Database) -> None:
    """Each process keeps the active subscriptions (docs/operations.md): one made or paused
    here counts from the next event on."""
    customer = sign_up(db, phone="13800139999")
    _publish(db, customer, "gold")  # the list (empty) is now kept
    subscription_in = SubscriptionIn(
        name="ERP", url="https://erp.example.cn/patron", event_types=["tier.changed"]
    )
    made = db.write(
        lambda s: webhooks.create_subscription(
            session=s, subscription_in=subscription_in, actor=ACTOR
        )
    )
    sid = made.subscription.id
    silver = _publish(db, customer, "silver")
    db.write(
        lambda s: webhooks.set_subscription_status(
            session=s, subscription_id=sid, active=False, actor=ACTOR
        )
    )
    _publish(db, customer, "bronze")
    queued = db.read(
        lambda s: s.scalars(
            select(WebhookDelivery.event_row_id).where(WebhookDelivery.subscription_id == sid)
        ).all()
    )
    silver_row = db.read(lambda s: s.scalar(select(Event.id).where(Event.event_id == silver)))
    assert queued == [silver_row]  # not gold (before it), not bronze (paused)
