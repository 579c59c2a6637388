"""A slow webhook endpoint does not hold up messages: webhook deliveries are sent by a
consumer of their own beside message dispatch, inside ``patron serve`` (embedded) and in
``patron worker`` (the job queue), so a receiver that takes seconds to answer each of a
backlog of deliveries delays none of the messages sent meanwhile (docs/events.md)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from patron import events
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.settings import get_settings
from patron.engagement.embedded import start_dispatch
from patron.events import webhooks
from patron.events.schemas import SubscriptionIn
from tests.engagement.builders import enqueue
from tests.engagement.processes import all_final, process_env, start, stop, wait_until
from tests.engagement.stand_ins import StandIns
from tests.events.receiver import Receiver, running_receiver
from tests.helpers import ACTOR, reachable_customer

pytestmark = pytest.mark.slow

SLOW_S = 3.0  # each webhook request waits this long for its answer
BACKLOG = 120  # webhook deliveries due: with one request at a time, six minutes of work
PEOPLE = 5
# Messages sent while the backlog is being worked through are all final within this; a
# message held behind the webhooks would wait for a batch of them (50 × SLOW_S).
MESSAGES_WITHIN_S = 30.0


@pytest.fixture
def slow_receiver() -> Iterator[Receiver]:
    with running_receiver(utcnow) as receiver:
        receiver.delay_s = SLOW_S
        yield receiver


def _backlog(db: Database, receiver: Receiver) -> None:
    """``BACKLOG`` deliveries due to the slow receiver, none held behind another (events
    without a customer are not kept in order with one another)."""
    subscription_in = SubscriptionIn(name="ERP", url=receiver.url, event_types=["tier.changed"])
    created = db.write(
        lambda s: webhooks.create_subscription(
            session=s, subscription_in=subscription_in, actor=ACTOR
        )
    )
    receiver.secret = created.secret
    db.write(
        lambda s: events.publish_many(
            s,
            [
                events.DomainEvent("tier.changed", None, None, {"n": n}, f"slow:{n}", None)
                for n in range(BACKLOG)
            ],
        )
    )


def _messages_meanwhile(db: Database, receiver: Receiver, log: Path | None = None) -> None:
    """Once the slow receiver is busy, queue messages and wait for all of them to be final
    within ``MESSAGES_WITHIN_S``."""
    wait_until(lambda: receiver.requests >= 1, timeout_s=60, what="a webhook answered", log=log)
    time.sleep(2 * SLOW_S)  # every sender that would take the backlog has taken its share
    people = [reachable_customer(db) for _ in range(PEOPLE)]
    enqueue(db, people, channel="email", purpose="transactional", send_at=utcnow())
    wait_until(
        all_final(db, PEOPLE),
        timeout_s=MESSAGES_WITHIN_S,
        what=f"the messages sent within {MESSAGES_WITHIN_S:.0f} s beside the slow webhooks",
        log=log,
    )


def test_a_slow_webhook_endpoint_does_not_delay_messages_in_the_server(
    db: Database,
    servers: StandIns,
    slow_receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _backlog(db, slow_receiver)
    for name, value in servers.env(sms="aliyun").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PATRON_DISPATCH", "embedded")
    monkeypatch.setenv("PATRON_DISPATCH_POLL_S", "0.2")
    get_settings.cache_clear()
    running = start_dispatch(db)
    assert running is not None
    try:
        _messages_meanwhile(db, slow_receiver)
    finally:
        running.stop()
    assert slow_receiver.received  # the webhooks went on meanwhile
    assert slow_receiver.requests < BACKLOG  # … and were still at it


@pytest.mark.postgres
def test_a_slow_webhook_endpoint_does_not_delay_messages_in_the_worker(
    tmp_path: Path,
    pg_db: Database,
    servers: StandIns,
    slow_receiver: Receiver,
    queue_schema: str,
) -> None:
    _backlog(pg_db, slow_receiver)
    env = process_env(
        servers.env(sms="aliyun"),
        tmp_path,
        PATRON_DATABASE_URL=pg_db.url,
        PATRON_QUEUE_SCHEMA=queue_schema,
        PATRON_QUEUE_NAME=f"slow-{uuid.uuid4().hex[:8]}",
    )
    log = tmp_path / "worker.log"
    worker = start(["worker", "--concurrency", "2"], env, log)
    try:
        _messages_meanwhile(pg_db, slow_receiver, log)
    finally:
        stop(worker)
    # SIGTERM: the worker left at once, its webhook sender with it (the attempt under way
    # finished, the rest of its batch given back)
    assert worker.returncode == 0
    assert slow_receiver.received
    assert slow_receiver.requests < BACKLOG
    pending = pg_db.read(
        lambda s: webhooks.list_deliveries(session=s, status="sending", limit=BACKLOG)
    )
    assert pending == []  # nothing left claimed for a lease to run out
