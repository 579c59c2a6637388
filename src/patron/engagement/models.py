"""Messages on their way out: the outbox, each delivery attempt, the content messages share,
and each provider's sending budget.

One ``outbox_message`` row per message, unique by (source kind, source id, customer,
channel) and written in the same transaction as the decision to send it (a campaign's run,
a journey's step, an order's receipt). The dispatcher claims due rows atomically, records
each attempt on its own ``outbox_attempt`` row, and moves the message through
queued → sending → sent / delivered / failed / bounced / skipped (the life of a message is
told in :mod:`patron.engagement.dispatch`).

No personal data is stored here: the address, the name and the store are read from the
customer's profile when the message is sent.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.clock import utcnow
from patron.core.models import Base, BigId, IdPk, UTCDateTime


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WECHAT = "wechat"


class Purpose(StrEnum):
    """Marketing messages need consent and obey caps and quiet hours; transactional ones
    (a receipt, a points statement the customer asked for) bypass caps and quiet hours."""

    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    BOUNCED = "bounced"
    SKIPPED = "skipped"
    # Held back by its source (a paused campaign) until released: not due, not final.
    HELD = "held"


FINAL_STATUSES = frozenset(
    {
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
        MessageStatus.FAILED,
        MessageStatus.BOUNCED,
        MessageStatus.SKIPPED,
    }
)


class MessageContent(Base):
    """What a set of messages says, with placeholders: one row per campaign, channel and
    language rather than one copy per recipient."""

    __tablename__ = "message_content"

    id: Mapped[IdPk]
    channel: Mapped[str] = mapped_column(String(16))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    __table_args__ = (
        # One message per source, customer and channel: a campaign run written twice, or a
        # journey step retried, adds nothing.
        UniqueConstraint("source_kind", "source_id", "customer_id", "channel"),
        # The dispatcher's worklist: queued rows by when they are due, small however long
        # the history grows.
        Index(
            "ix_outbox_message_due",
            "next_attempt_at",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
        # Claims whose worker stopped: found by the end of their lease.
        Index(
            "ix_outbox_message_claimed",
            "claimed_until",
            postgresql_where=text("status = 'sending'"),
            sqlite_where=text("status = 'sending'"),
        ),
        # What a customer was sent lately, for the frequency caps.
        Index("ix_outbox_message_customer_id_sent_at", "customer_id", "sent_at"),
    )

    id: Mapped[IdPk]
    source_kind: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16))
    content_id: Mapped[int] = mapped_column(BigId, ForeignKey("message_content.id"))
    # Values for the content's placeholders that the profile does not hold (a coupon code,
    # points): never personal data, which is read from the profile at send time.
    variables: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.QUEUED)
    # Why a message was skipped or failed, as a code (``frequency_cap``, ``invalid_recipient``);
    # ``detail`` carries the provider's own code and words.
    reason: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The maximum lateness: a message still unsent by then is skipped, not sent late.
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When a queue worker's relay last handed the row to the job queue (``patron worker``).
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The claim: who holds the row (a token of the claiming batch) and until when.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Written just before the provider can act on the request (see channels/base.py): a
    # claim that ends without an outcome was delivered if and only if this is set.
    handed_over_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the send decision passed the send-time checks; what the frequency caps count.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(128))


class OutboxAttempt(Base):
    """One try at handing a message to its provider, and what came of it."""

    __tablename__ = "outbox_attempt"
    __table_args__ = (UniqueConstraint("message_id", "number"),)

    id: Mapped[IdPk]
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("outbox_message.id"))
    number: Mapped[int] = mapped_column(Integer)
    provider: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # None while the request is with the provider; then an Outcome (channels/base.py).
    outcome: Mapped[str | None] = mapped_column(String(24))
    code: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(255))
    provider_message_id: Mapped[str | None] = mapped_column(String(128))


class DispatchBudget(Base):
    """A provider's token bucket, shared by every dispatcher on the database: sending rates
    hold across the server's threads and every ``patron worker`` process."""

    __tablename__ = "dispatch_budget"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
