"""Journeys on the job queue (PATRON_JOURNEYS=queue): ``patron worker`` runs the
scheduler's tick as a periodic queue job on PostgreSQL, and its webhook sender sends what a
journey's webhook step queued, signed, to a real local receiver (docs/journeys.md)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.settings import get_settings
from patron.events import webhooks
from patron.events.schemas import SubscriptionIn
from patron.journeys import JourneyIn, create_journey, journey_stats
from patron.journeys.embedded import start_journeys
from tests.engagement.processes import process_env, start, stop, wait_until
from tests.events.receiver import Receiver, running_receiver
from tests.helpers import ACTOR, post_order
from tests.journeys.helpers import entries, shop

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver(utcnow) as found:
        yield found


def _journey(db: Database, receiver: Receiver) -> int:
    subscription_in = SubscriptionIn(name="外呼系统", url=receiver.url, event_types=["journey.x"])
    created = db.write(
        lambda s: webhooks.create_subscription(
            session=s, subscription_in=subscription_in, actor=ACTOR
        )
    )
    receiver.secret = created.secret
    journey_in = JourneyIn.model_validate(
        {
            "name": "下单后外呼",
            "trigger": {"kind": "event", "event": "order.created"},
            "steps": [
                {"kind": "webhook", "subscription_id": created.subscription.id},
                {"kind": "tag", "add": "已外呼"},
            ],
            "goal": None,
        }
    )
    return db.write(
        lambda s: create_journey(session=s, journey_in=journey_in, actor=ACTOR, enabled=True)
    ).id


def test_the_worker_runs_journeys_on_the_queue_and_sends_their_webhooks(
    tmp_path: Path, pg_db: Database, queue_schema: str, receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    db = pg_db
    people = shop(db, 小王="1990-05-01", 小李="1991-06-01")
    journey = _journey(db, receiver)
    for n, cid in enumerate(people.values()):
        post_order(db, f"Q{n}", customer={"id": cid}, at=utcnow())
    env = process_env(
        {},
        tmp_path,
        PATRON_DATABASE_URL=db.url,
        PATRON_QUEUE_SCHEMA=queue_schema,
        PATRON_QUEUE_NAME=f"journeys-{uuid.uuid4().hex[:8]}",
        PATRON_JOURNEYS="queue",
        PATRON_JOURNEYS_POLL_S="1",
    )
    # the server leaves the tick to the queue
    monkeypatch.setenv("PATRON_JOURNEYS", "queue")
    get_settings.cache_clear()
    assert start_journeys(db) is None

    log = tmp_path / "worker.log"
    worker = start(["worker"], env, log)
    try:
        wait_until(
            lambda: (
                len(receiver.received) == 2
                and all(e.status == "done" for e in entries(db, journey))
            ),
            timeout_s=90,
            what="both entries walked and their webhooks delivered",
            log=log,
        )
    finally:
        stop(worker)
    assert worker.returncode == 0
    assert receiver.bad_signatures == 0
    assert sorted(b["customer_id"] for b in receiver.received) == sorted(people.values())
    assert {b["data"]["journey_id"] for b in receiver.received} == {journey}
    stats = db.read(lambda s: journey_stats(session=s, journey_id=journey))
    assert stats.steps[0].outcomes == {"webhook": 2, "webhook:delivered": 2}
    assert stats.steps[1].outcomes == {"tagged": 2}
