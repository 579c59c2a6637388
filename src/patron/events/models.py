"""The event stream, the visitors stitched to customers, and outgoing webhooks.

``event`` is one stream for two kinds of event (docs/events.md):

- **behaviour events** a web shop or mini-program posts to ``POST /api/v1/events`` (a page
  or product viewed, a search, a cart changed …), keyed by the sender's ``event_id``;
- **domain events** the services publish in the same transaction as their change
  (``order.created``, ``customer.merged`` …).

Its integer ``id`` grows with every row and is the readers' cursor (``read_after``). No
personal data is stored: a device id or openid is kept only as its keyed blind index
(``anonymous_key``), and properties hold codes and amounts, never names or phone numbers.

A webhook subscription names event types and an endpoint; each matching domain event gets
one ``webhook_delivery`` row, written with the event, and each try at sending it one
``webhook_attempt`` row (``events/delivery.py``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.clock import utcnow
from patron.core.crypto import Encrypted
from patron.core.models import Base, BigId, IdPk, UTCDateTime


class EventKind(StrEnum):
    BEHAVIOUR = "behaviour"
    DOMAIN = "domain"


class Event(Base):
    __tablename__ = "event"
    __table_args__ = (
        # A customer's events in order (the 360 page, merges, the access export).
        Index("ix_event_customer_id_id", "customer_id", "id"),
        # Earlier anonymous events of a visitor who has just identified.
        Index("ix_event_anonymous_key_id", "anonymous_key", "id"),
        # The retention run's cut.
        Index("ix_event_received_at", "received_at"),
    )

    id: Mapped[IdPk]
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[int | None] = mapped_column(BigId)
    anonymous_key: Mapped[str | None] = mapped_column(String(64))
    store_id: Mapped[int | None] = mapped_column(BigId)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    properties: Mapped[dict[str, Any]] = mapped_column(JSON)


class EventVisitor(Base):
    """A device or openid (its blind index) known to belong to a customer: later anonymous
    events of the visitor carry the customer at once."""

    __tablename__ = "event_visitor"

    anonymous_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"), index=True)
    identified_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    # The endpoint answered 410 Gone: nothing more is sent until staff resume it.
    DISABLED = "disabled"


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscription"

    id: Mapped[IdPk]
    name: Mapped[str] = mapped_column(String(120))
    url: Mapped[str] = mapped_column(String(500))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    # Encrypted at rest; the previous secret keeps signing beside the new one for a day after
    # a rotation, so a receiver can switch over without refusing a delivery.
    secret: Mapped[str] = mapped_column(Encrypted("webhook_subscription.secret"))
    previous_secret: Mapped[str | None] = mapped_column(
        Encrypted("webhook_subscription.previous_secret")
    )
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=SubscriptionStatus.ACTIVE)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    # Retried for a day, or refused by the endpoint (a 4xx other than 408, 409, 425, 429).
    FAILED = "failed"


class WebhookDelivery(Base):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_row_id"),
        # The sender's worklist: pending rows by when they are due.
        Index(
            "ix_webhook_delivery_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        # In order per customer: a customer's earlier deliveries still open hold later ones.
        Index("ix_webhook_delivery_subscription_id_customer_id", "subscription_id", "customer_id"),
    )

    id: Mapped[IdPk]
    subscription_id: Mapped[int] = mapped_column(BigId, ForeignKey("webhook_subscription.id"))
    event_row_id: Mapped[int] = mapped_column(BigId)
    event_type: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Retries stop a day after this (a manual redelivery starts the day again).
    first_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(255))


class WebhookAttempt(Base):
    """One try at a delivery: the endpoint's status code (None when it did not answer), how
    long it took, and what went wrong."""

    __tablename__ = "webhook_attempt"
    __table_args__ = (UniqueConstraint("delivery_id", "number"),)

    id: Mapped[IdPk]
    delivery_id: Mapped[int] = mapped_column(BigId, ForeignKey("webhook_delivery.id"))
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(255))
