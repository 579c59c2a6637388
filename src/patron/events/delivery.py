"""Sending webhook deliveries: claim what is due, POST it signed, record the attempt,
retry with back-off for a day (docs/events.md).

**In order per customer.** A delivery is due only when no earlier delivery of the same
subscription and customer is still open (pending or being sent): a customer's later event
waits until the earlier one is delivered or given up. Events without a customer are not
held by one another.

**Claims.** Due rows are claimed by moving them to ``sending`` with a lease, in one
statement that matches only rows still ``pending``; a claim left by a killed process goes
back to ``pending`` when its lease ends (:meth:`WebhookSender.sweep`). The attempt is
recorded on its own row with its status code and latency as soon as it ends.

**Retries**: 5 s after the first failure, then four times longer each time (20 s, 80 s,
5 min, 21 min, 85 min …, at most 6 h apart), each within a fifth either way at random
(jitter), for 24 hours from the first try; a
``Retry-After`` header is honoured within that. A 4xx answer other than 408, 409, 425 and
429 is final: retrying cannot fix it. 410 Gone also disables the subscription.

**A consumer of their own.** Deliveries are sent where messages are (``patron serve``'s
embedded dispatcher, ``patron worker``) but by a thread of their own,
:func:`send_until_stopped`, never in a message sender's thread or job slot: an endpoint
that takes seconds to answer each of a backlog of deliveries delays other deliveries, never
a message.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

import httpx
from sqlalchemy import CursorResult, and_, exists, select, update
from sqlalchemy.orm import Session, aliased

from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.settings import Settings, get_settings
from patron.events import webhooks
from patron.events.exceptions import EndpointRefused
from patron.events.models import (
    DeliveryStatus,
    Event,
    SubscriptionStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)

log = logging.getLogger(__name__)

FIRST_RETRY_S = 5.0
RETRY_FACTOR = 4.0
MAX_RETRY_S = 6 * 3600.0
RETRY_FOR = timedelta(hours=24)
RETRYABLE_4XX = frozenset({408, 409, 425, 429})
BATCH = 50


# Each wait is stretched or shrunk by up to a fifth at random, so deliveries that failed
# together (an endpoint down for an hour) do not all come back in the same second.
JITTER = 0.2
_random = random.Random()


def retry_delay(
    attempts: int, *, jitter: float | None = None, rng: random.Random | None = None
) -> float:
    """Seconds before the next try after ``attempts`` failed ones: the back-off, within
    ``jitter`` (a share, :data:`JITTER` when not given) of it either way."""
    jitter = JITTER if jitter is None else jitter
    rng = rng or _random
    base = min(MAX_RETRY_S, FIRST_RETRY_S * RETRY_FACTOR ** max(0, attempts - 1))
    return base * (1.0 + jitter * (2.0 * rng.random() - 1.0))


@dataclass(frozen=True, slots=True)
class _Claimed:
    delivery_id: int
    attempt: int
    url: str
    secrets: list[str]
    body: bytes
    event_id: str
    event_type: str


@dataclass
class SendReport:
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0  # claimed, then given back unsent: the sender was told to stop
    statuses: list[int | None] = field(default_factory=list)


def payload(event: Event) -> bytes:
    """The JSON body a receiver gets for ``event``."""
    document: dict[str, Any] = {
        "id": event.event_id,
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "customer_id": event.customer_id,
        "store_id": event.store_id,
        "sequence": event.id,
        "data": event.properties,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _due_ids(session: Session, now: datetime, limit: int) -> list[int]:
    earlier = aliased(WebhookDelivery)
    held = exists().where(
        and_(
            earlier.subscription_id == WebhookDelivery.subscription_id,
            earlier.customer_id == WebhookDelivery.customer_id,
            earlier.event_row_id < WebhookDelivery.event_row_id,
            earlier.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]),
        )
    )
    active = exists().where(
        WebhookSubscription.id == WebhookDelivery.subscription_id,
        WebhookSubscription.status == SubscriptionStatus.ACTIVE,
    )
    statement = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            active,
            ~held,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    return list(session.scalars(statement))


def claim_due(*, session: Session, now: datetime, limit: int, lease_s: float) -> list[_Claimed]:
    """Claim up to ``limit`` due deliveries (each customer's earliest open one only)."""
    ids = _due_ids(session, now, limit)
    if not ids:
        return []
    claimed = list(
        session.scalars(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids), WebhookDelivery.status == DeliveryStatus.PENDING)
            .values(
                status=DeliveryStatus.SENDING,
                claimed_until=now + timedelta(seconds=lease_s),
                attempts=WebhookDelivery.attempts + 1,
            )
            .returning(WebhookDelivery.id)
            .execution_options(synchronize_session=False)
        )
    )
    found: list[_Claimed] = []
    rows = session.execute(
        select(WebhookDelivery, Event, WebhookSubscription)
        .join(Event, Event.id == WebhookDelivery.event_row_id)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(WebhookDelivery.id.in_(claimed))
        .order_by(WebhookDelivery.id)
    )
    for delivery, event, subscription in rows:
        found.append(
            _Claimed(
                delivery_id=delivery.id,
                attempt=delivery.attempts,
                url=subscription.url,
                secrets=webhooks.signing_secrets(subscription, now),
                body=payload(event),
                event_id=event.event_id,
                event_type=event.type,
            )
        )
    return found


def sweep_stalled(*, session: Session, now: datetime) -> int:
    """Claims whose lease ended (their process died mid-send) go back to pending."""
    result = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.status == DeliveryStatus.SENDING,
            WebhookDelivery.claimed_until < now,
        )
        .values(status=DeliveryStatus.PENDING, claimed_until=None, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount or 0


def release_claims(*, session: Session, delivery_ids: list[int]) -> int:
    """Give back claims not tried (the sender stops): pending again, due as they were, the
    attempt counted at the claim taken back."""
    result = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id.in_(delivery_ids),
            WebhookDelivery.status == DeliveryStatus.SENDING,
        )
        .values(
            status=DeliveryStatus.PENDING,
            claimed_until=None,
            attempts=WebhookDelivery.attempts - 1,
        )
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount or 0


@dataclass(frozen=True, slots=True)
class _Outcome:
    status_code: int | None
    latency_ms: int
    error: str | None
    retry_after_s: float | None = None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def record_outcome(
    *, session: Session, claimed: _Claimed, outcome: _Outcome, now: datetime, started: datetime
) -> str:
    """Write the attempt and move the delivery on; returns its new status."""
    delivery = session.get(WebhookDelivery, claimed.delivery_id, with_for_update=True)
    assert delivery is not None
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            number=claimed.attempt,
            started_at=started,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
            error=(outcome.error or None) and str(outcome.error)[:255],
        )
    )
    if claimed.attempt == 1:
        # A day of retries from the first try, not from when the event was queued behind
        # its customer's earlier ones.
        delivery.first_due_at = started
    delivery.last_status_code = outcome.status_code
    delivery.last_error = (outcome.error or None) and str(outcome.error)[:255]
    delivery.claimed_until = None
    code = outcome.status_code
    if code is not None and 200 <= code < 300:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.finished_at = now
        return delivery.status
    final = code is not None and 400 <= code < 500 and code not in RETRYABLE_4XX
    if code == 410:
        subscription = session.get(WebhookSubscription, delivery.subscription_id)
        if subscription is not None:
            webhooks.mark_changed(session)
            subscription.status = SubscriptionStatus.DISABLED
    delay = max(retry_delay(delivery.attempts), outcome.retry_after_s or 0.0)
    next_at = now + timedelta(seconds=delay)
    if final or next_at > delivery.first_due_at + RETRY_FOR or outcome.error == "refused":
        delivery.status = DeliveryStatus.FAILED
        delivery.finished_at = now
        return delivery.status
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = next_at
    return delivery.status


def _record(
    claimed: _Claimed, outcome: _Outcome, now: datetime, started: datetime, session: Session
) -> str:
    return record_outcome(
        session=session, claimed=claimed, outcome=outcome, now=now, started=started
    )


def _release(delivery_ids: list[int], session: Session) -> int:
    return release_claims(session=session, delivery_ids=delivery_ids)


Clock = Callable[[], datetime]


class WebhookSender:
    """Claims due deliveries and sends them, one batch at a time."""

    def __init__(
        self,
        db: Database,
        *,
        settings: Settings | None = None,
        clock: Clock = utcnow,
        client: httpx.Client | None = None,
    ) -> None:
        self.db = db
        self.settings = settings or get_settings()
        self.clock = clock
        self.client = client or httpx.Client(
            timeout=self.settings.webhook_timeout_s, follow_redirects=False
        )

    def close(self) -> None:
        self.client.close()

    def sweep(self) -> int:
        now = self.clock()
        return self.db.write(lambda s: sweep_stalled(session=s, now=now))

    def send_due(self, *, limit: int = BATCH, stop: threading.Event | None = None) -> SendReport:
        """Claim a batch and send it, one delivery after another; once ``stop`` is set, the
        batch's deliveries not yet tried are given back rather than sent (an attempt under
        way is finished and recorded)."""
        now = self.clock()
        lease = self.settings.webhook_lease_s
        claimed = self.db.write(lambda s: claim_due(session=s, now=now, limit=limit, lease_s=lease))
        report = SendReport(claimed=len(claimed))
        for n, item in enumerate(claimed):
            if stop is not None and stop.is_set():
                rest = [c.delivery_id for c in claimed[n:]]
                report.released = self.db.write(partial(_release, rest))
                break
            started = self.clock()
            outcome = self._post(item, started)
            done = self.clock()
            status = self.db.write(partial(_record, item, outcome, done, started))
            report.statuses.append(outcome.status_code)
            if status == DeliveryStatus.DELIVERED:
                report.delivered += 1
            elif status == DeliveryStatus.FAILED:
                report.failed += 1
            else:
                report.retrying += 1
        return report

    def send_all_due(self, *, max_batches: int = 100) -> SendReport:
        """Send batches until nothing is due (a customer's next event becomes due as soon as
        the earlier one is delivered, so one call walks a backlog in order)."""
        total = SendReport()
        for _ in range(max_batches):
            report = self.send_due()
            total.claimed += report.claimed
            total.delivered += report.delivered
            total.retrying += report.retrying
            total.failed += report.failed
            total.statuses += report.statuses
            if not report.claimed:
                break
        return total

    def _post(self, item: _Claimed, started: datetime) -> _Outcome:
        try:
            webhooks.check_endpoint(item.url, resolve=True)
        except EndpointRefused:
            return _Outcome(None, 0, "refused")
        timestamp = int(started.timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Patron-Webhooks/1",
            webhooks.SIGNATURE_HEADER: webhooks.sign(item.secrets, timestamp, item.body),
            "Patron-Event-Id": item.event_id,
            "Patron-Event-Type": item.event_type,
            "Patron-Delivery-Id": str(item.delivery_id),
        }
        tick = time.perf_counter()
        try:
            response = self.client.post(item.url, content=item.body, headers=headers)
        except httpx.HTTPError as exc:
            elapsed = int((time.perf_counter() - tick) * 1000)
            return _Outcome(None, elapsed, f"{type(exc).__name__}: {exc}"[:255])
        elapsed = int((time.perf_counter() - tick) * 1000)
        error = None if response.is_success else response.text[:200] or response.reason_phrase
        return _Outcome(response.status_code, elapsed, error, _retry_after(response))


def send_until_stopped(
    db: Database, stop: threading.Event, *, settings: Settings | None = None
) -> None:
    """Send due deliveries until ``stop`` is set: batch after batch while some are due,
    else every ``PATRON_DISPATCH_POLL_S``; claims left by a killed process are taken back at
    start and every quarter lease. The database away, it waits longer each time, up to a
    minute. Run in a thread of its own (:func:`start_sender`)."""
    settings = settings or get_settings()
    sender = WebhookSender(db, settings=settings)
    poll = settings.dispatch_poll_s
    sweep_every = max(poll, settings.webhook_lease_s / 4)
    next_sweep = time.monotonic()
    failures = 0
    try:
        while not stop.is_set():
            claimed = 0
            try:
                if time.monotonic() >= next_sweep:
                    sender.sweep()
                    next_sweep = time.monotonic() + sweep_every
                claimed = sender.send_due(stop=stop).claimed
                failures = 0
            except Exception:
                failures += 1
                if failures == 1 or failures % 10 == 0:
                    log.exception("webhook delivery failed (%d times running)", failures)
            wait = min(60.0, poll * 2**failures) if failures else poll
            if (failures or not claimed) and stop.wait(wait):
                break
    finally:
        sender.close()


def start_sender(
    db: Database, stop: threading.Event, *, settings: Settings | None = None
) -> threading.Thread:
    """:func:`send_until_stopped` in a daemon thread, started."""
    thread = threading.Thread(
        target=send_until_stopped,
        args=(db, stop),
        kwargs={"settings": settings},
        name="patron-webhooks",
        daemon=True,
    )
    thread.start()
    return thread
