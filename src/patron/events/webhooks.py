"""Webhook subscriptions: which event types go to which endpoint, with which secret; the
deliveries queued for each published event; the signature; the delivery log and manual
redelivery. Sending is ``events/delivery.py`` (docs/events.md).

The signature is Stripe's scheme: the header ``Patron-Signature: t=<unix time>,v1=<hex>``
where ``<hex>`` is HMAC-SHA256 of ``"<t>.<raw body>"`` under the subscription's secret.
For a day after a rotation a second ``v1=`` signs with the previous secret.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import socket
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import Table, event, func, select
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.core import caches
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.db import core_rows, database_key, insert_rows
from patron.core.settings import get_settings
from patron.events.exceptions import DeliveryNotFound, EndpointRefused, SubscriptionNotFound
from patron.events.models import (
    DeliveryStatus,
    SubscriptionStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from patron.events.schemas import (
    AttemptRead,
    DeliveryRead,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionRead,
)

SIGNATURE_HEADER = "Patron-Signature"
# How long the previous secret keeps signing after a rotation.
ROTATION_OVERLAP = timedelta(hours=24)
_DELIVERY = cast(Table, WebhookDelivery.__table__)
# Built once: every order posted asks it (a statement built per call costs more than the query).
_ACTIVE_SUBSCRIPTIONS = select(WebhookSubscription.id, WebhookSubscription.event_types).where(
    WebhookSubscription.status == SubscriptionStatus.ACTIVE
)

# The active subscriptions, kept per database for at most this long: every published event
# asks which subscriptions take its type. A change saved in this process empties the copy
# (and again when its transaction ends); other processes see it within the bound
# (docs/operations.md).
SUBSCRIPTION_SECONDS = 10.0
_kept: dict[str, tuple[float, list[tuple[int, frozenset[str]]]]] = {}
_kept_lock = threading.Lock()


def _active_subscriptions(session: Session) -> list[tuple[int, frozenset[str]]]:
    """(id, event types) of each active subscription, from this process's copy when fresh."""
    key = database_key(session)
    now = time.monotonic()
    kept = _kept.get(key)
    if kept is not None and now - kept[0] < SUBSCRIPTION_SECONDS:
        return kept[1]
    rows = [(r[0], frozenset(r[1] or ())) for r in core_rows(session, _ACTIVE_SUBSCRIPTIONS)]
    if not session.info.get(_CHANGED):  # never keep what this transaction changed unsaved
        with _kept_lock:
            _kept[key] = (now, rows)
    return rows


def kept_subscribers(database: str, event_type: str) -> bool | None:
    """Whether an active subscription takes ``event_type``, from this process's copy of
    the subscriptions of the database keyed ``database`` while it is fresh, read without a
    session; None when it is not kept."""
    kept = _kept.get(database)
    if kept is None or time.monotonic() - kept[0] >= SUBSCRIPTION_SECONDS:
        return None
    return any(event_type in types for _, types in kept[1])


def forget_subscriptions() -> None:
    """Drop the kept subscriptions (a change was saved here; tests start over)."""
    with _kept_lock:
        _kept.clear()


_CHANGED = "patron.webhook_subscriptions_changed"


def mark_changed(session: Session) -> None:
    """This transaction changes subscriptions: forget the kept copy now and when it ends
    (so a copy read by another request before the commit does not outlive it)."""
    forget_subscriptions()
    if not session.info.get(_CHANGED):
        session.info[_CHANGED] = True

        def done(s: Session) -> None:
            s.info.pop(_CHANGED, None)
            forget_subscriptions()

        event.listen(session, "after_commit", done, once=True)
        event.listen(session, "after_rollback", done, once=True)


caches.register("events.subscriptions", forget_subscriptions, max_age_s=SUBSCRIPTION_SECONDS)


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secrets_: Sequence[str], timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    parts = [f"t={timestamp}"]
    for secret in secrets_:
        mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
        parts.append(f"v1={mac.hexdigest()}")
    return ",".join(parts)


# ------------------------------------------------------------------------------ endpoints


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return not ip.is_global


def check_endpoint(url: str, *, resolve: bool = False) -> None:
    """Refuse an endpoint that is not HTTPS or that is (or resolves to) a private address,
    unless PATRON_WEBHOOK_ALLOW_PRIVATE says a local receiver is meant."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise EndpointRefused("unreadable", url)
    if get_settings().webhooks_may_call_private:
        return
    if parts.scheme != "https":
        raise EndpointRefused("scheme", url)
    host = parts.hostname
    try:
        literal = _is_private(host)
    except ValueError:
        literal = host == "localhost" or host.endswith(".localhost")
    if literal:
        raise EndpointRefused("private", url)
    if resolve:
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except OSError:
            return  # not found now: the attempt fails and is retried
        if any(_is_private(str(info[4][0])) for info in infos):
            raise EndpointRefused("private", url)


# ------------------------------------------------------------------------------ subscriptions


def _get(session: Session, subscription_id: int) -> WebhookSubscription:
    found = session.get(WebhookSubscription, subscription_id)
    if found is None:
        raise SubscriptionNotFound(subscription_id)
    return found


def list_subscriptions(*, session: Session) -> list[SubscriptionRead]:
    rows = session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id))
    return [SubscriptionRead.model_validate(r) for r in rows]


def get_subscription(*, session: Session, subscription_id: int) -> SubscriptionRead:
    return SubscriptionRead.model_validate(_get(session, subscription_id))


def create_subscription(
    *, session: Session, subscription_in: SubscriptionIn, actor: Actor
) -> SubscriptionCreated:
    """A new subscription, active at once; its secret is in the answer and nowhere else
    readable later."""
    check_endpoint(subscription_in.url)
    now = utcnow()
    secret = new_secret()
    row = WebhookSubscription(
        name=subscription_in.name,
        url=subscription_in.url,
        event_types=subscription_in.event_types,
        secret=secret,
        status=SubscriptionStatus.ACTIVE,
        created_by=actor.name[:120],
        created_at=now,
        updated_at=now,
    )
    mark_changed(session)
    session.add(row)
    session.flush()
    _audit(session, actor, "webhook.create", row, {"url": row.url, "types": row.event_types})
    return SubscriptionCreated(subscription=SubscriptionRead.model_validate(row), secret=secret)


def set_subscription_status(
    *, session: Session, subscription_id: int, active: bool, actor: Actor
) -> SubscriptionRead:
    """Pause a subscription (its deliveries wait, nothing new is queued) or resume it."""
    row = _get(session, subscription_id)
    mark_changed(session)
    row.status = SubscriptionStatus.ACTIVE if active else SubscriptionStatus.PAUSED
    row.updated_at = utcnow()
    session.flush()
    _audit(session, actor, "webhook.resume" if active else "webhook.pause", row, {})
    return SubscriptionRead.model_validate(row)


def rotate_secret(*, session: Session, subscription_id: int, actor: Actor) -> SubscriptionCreated:
    """A new secret, shown once; the old one signs beside it for a day."""
    row = _get(session, subscription_id)
    now = utcnow()
    secret = new_secret()
    row.previous_secret = row.secret
    row.previous_secret_until = now + ROTATION_OVERLAP
    row.secret = secret
    row.updated_at = now
    session.flush()
    _audit(session, actor, "webhook.rotate", row, {})
    return SubscriptionCreated(subscription=SubscriptionRead.model_validate(row), secret=secret)


def signing_secrets(row: WebhookSubscription, now: datetime) -> list[str]:
    found = [row.secret]
    until = row.previous_secret_until
    if row.previous_secret and until is not None and until > now:
        found.append(row.previous_secret)
    return found


def _audit(
    session: Session, actor: Actor, action: str, row: WebhookSubscription, details: dict[str, Any]
) -> None:
    record_audit(
        session=session,
        actor=actor,
        action=action,
        target_kind="webhook_subscription",
        target_id=row.id,
        details=details or None,
    )


# ------------------------------------------------------------------------------ deliveries


def queue_deliveries(
    *,
    session: Session,
    events: Sequence[tuple[int, str, int | None]],
    now: datetime,
    subscription_id: int | None = None,
) -> int:
    """A delivery of each (event row id, type, customer id) to every active subscription to
    its type, in the events' transaction; or, given ``subscription_id``, to that
    subscription alone whatever its types and status (a journey's webhook step: a paused
    subscription's deliveries wait for it to resume)."""
    if subscription_id is not None:
        _get(session, subscription_id)
        targets = [(subscription_id, event) for event in events]
    else:
        subscriptions = _active_subscriptions(session)
        targets = [
            (sid, event) for event in events for sid, types in subscriptions if event[1] in types
        ]
    if not targets:
        return 0
    deliveries = [
        {
            "subscription_id": target,
            "event_row_id": event_row_id,
            "event_type": event_type,
            "customer_id": customer_id,
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            "created_at": now,
            "first_due_at": now,
            "next_attempt_at": now,
        }
        for target, (event_row_id, event_type, customer_id) in targets
    ]
    insert_rows(session.connection(), _DELIVERY, deliveries, want_ids=False)
    return len(deliveries)


def delivery_counts(*, session: Session, event_row_ids: Sequence[int]) -> dict[str, int]:
    """How many deliveries of these events are in each status (a journey's webhook step's
    figures)."""
    counts: dict[str, int] = {}
    ids = sorted(set(event_row_ids))
    for start in range(0, len(ids), 1_000):
        rows = session.execute(
            select(WebhookDelivery.status, func.count())
            .where(WebhookDelivery.event_row_id.in_(ids[start : start + 1_000]))
            .group_by(WebhookDelivery.status)
        )
        for status, n in rows:
            counts[str(status)] = counts.get(str(status), 0) + int(n)
    return counts


def list_deliveries(
    *,
    session: Session,
    subscription_id: int | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[DeliveryRead]:
    statement = select(WebhookDelivery)
    if subscription_id is not None:
        statement = statement.where(WebhookDelivery.subscription_id == subscription_id)
    if status:
        statement = statement.where(WebhookDelivery.status == status)
    rows = session.scalars(statement.order_by(WebhookDelivery.id.desc()).limit(limit))
    return [DeliveryRead.model_validate(r) for r in rows]


def list_attempts(*, session: Session, delivery_id: int) -> list[AttemptRead]:
    if session.get(WebhookDelivery, delivery_id) is None:
        raise DeliveryNotFound(delivery_id)
    rows = session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.number)
    )
    return [AttemptRead.model_validate(r) for r in rows]


def attempts_of(*, session: Session, delivery_ids: Sequence[int]) -> dict[int, list[AttemptRead]]:
    """The attempts of several deliveries, in their order, by delivery, in one query (the
    deliveries page shows a hundred deliveries with their attempts)."""
    attempts: dict[int, list[AttemptRead]] = {delivery_id: [] for delivery_id in delivery_ids}
    if not attempts:
        return attempts
    rows = session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(list(attempts)))
        .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)
    )
    for row in rows:
        attempts[row.delivery_id].append(AttemptRead.model_validate(row))
    return attempts


def redeliver(*, session: Session, delivery_id: int, actor: Actor) -> DeliveryRead:
    """Send a delivery again now (delivered or given up): retries start a new day. It keeps
    its place in its customer's order."""
    row = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if row is None:
        raise DeliveryNotFound(delivery_id)
    now = utcnow()
    if row.status != DeliveryStatus.SENDING:
        row.status = DeliveryStatus.PENDING
        row.first_due_at = now
        row.next_attempt_at = now
        row.finished_at = None
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="webhook.redeliver",
        target_kind="webhook_delivery",
        target_id=row.id,
    )
    return DeliveryRead.model_validate(row)
