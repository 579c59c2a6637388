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
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.db import insert_rows
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
    session.add(row)
    session.flush()
    _audit(session, actor, "webhook.create", row, {"url": row.url, "types": row.event_types})
    return SubscriptionCreated(subscription=SubscriptionRead.model_validate(row), secret=secret)


def set_subscription_status(
    *, session: Session, subscription_id: int, active: bool, actor: Actor
) -> SubscriptionRead:
    """Pause a subscription (its deliveries wait, nothing new is queued) or resume it."""
    row = _get(session, subscription_id)
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
        rows = session.execute(_ACTIVE_SUBSCRIPTIONS).all()
        targets = [
            (r.id, event) for event in events for r in rows if event[1] in (r.event_types or [])
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
