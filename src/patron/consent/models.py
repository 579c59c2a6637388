"""The consent ledger: every grant and withdrawal as an append-only event, and the current
state per customer, channel and purpose (docs/consent.md)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.clock import utcnow
from patron.core.models import Base, BigId, IdPk, UTCDateTime


class ConsentChannel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    WECHAT = "wechat"
    PHONE = "phone"


class ConsentPurpose(StrEnum):
    """Marketing needs a grant; service messages go unless the channel was withdrawn."""

    MARKETING = "marketing"
    SERVICE = "service"


class ConsentSource(StrEnum):
    TILL = "till"
    MINI_PROGRAM = "mini_program"
    WEB_FORM = "web_form"
    IMPORT = "import"
    UNSUBSCRIBE = "unsubscribe"
    CONSOLE = "console"


class ConsentEvent(Base):
    """One grant or withdrawal, never changed or deleted: the legal record."""

    __tablename__ = "consent_event"
    __table_args__ = (Index("ix_consent_event_customer_id_at", "customer_id", "at"),)

    id: Mapped[IdPk]
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16))
    granted: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(16))
    notice_version: Mapped[str | None] = mapped_column(String(32))
    # Who recorded it (a staff name, an API key, "unsubscribe link") and what it answers (the
    # message an unsubscribe came from): never personal data.
    recorded_by: Mapped[str | None] = mapped_column(String(120))
    reference: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ConsentState(Base):
    """The latest event per customer, channel and purpose: what the send check reads."""

    __tablename__ = "consent_state"
    __table_args__ = (UniqueConstraint("customer_id", "channel", "purpose"),)

    id: Mapped[IdPk]
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16))
    granted: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(16))
    notice_version: Mapped[str | None] = mapped_column(String(32))
    event_id: Mapped[int] = mapped_column(BigId, ForeignKey("consent_event.id"))
