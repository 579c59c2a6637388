"""Data-subject requests, the processing register and retention policies."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.clock import utcnow
from patron.core.models import Base, BigId, IdPk, UTCDateTime


class RequestKind(StrEnum):
    ACCESS = "access"  # a copy of everything held (access and portability)
    CORRECTION = "correction"
    ERASURE = "erasure"
    WITHDRAWAL = "withdrawal"  # consent withdrawn


class RequestStatus(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    REFUSED = "refused"


OPEN_STATUSES = frozenset({RequestStatus.NEW, RequestStatus.IN_PROGRESS})


class PrivacyRequest(Base):
    """One person's request about their personal information, from receipt to answer."""

    __tablename__ = "privacy_request"
    __table_args__ = (
        Index("ix_privacy_request_status_due_on", "status", "due_on"),
        Index("ix_privacy_request_customer_id", "customer_id"),
    )

    id: Mapped[IdPk]
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.NEW)
    # who asked (the person, a guardian, an agent) and through which channel
    requested_by: Mapped[str] = mapped_column(String(120))
    channel: Mapped[str] = mapped_column(String(20))
    # how the asker's identity was checked (never the document's number: a description)
    verification: Mapped[str] = mapped_column(String(255))
    details: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_on: Mapped[date] = mapped_column(Date)
    handler: Mapped[str | None] = mapped_column(String(120))
    outcome: Mapped[str | None] = mapped_column(Text)  # what was done, or why refused
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_on: Mapped[date | None] = mapped_column(Date)  # the last reminder's day
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ProcessingActivity(Base):
    """One line of the processing register: why data is processed, which, shared with
    whom, kept how long, on what legal basis."""

    __tablename__ = "processing_activity"

    id: Mapped[IdPk]
    purpose: Mapped[str] = mapped_column(String(200))
    data_kinds: Mapped[str] = mapped_column(Text)
    recipients: Mapped[str] = mapped_column(Text, default="")
    retention: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    updated_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class RetentionKind(StrEnum):
    INACTIVE_CUSTOMERS = "inactive_customers"  # anonymise after N months without activity
    INTERACTION_NOTES = "interaction_notes"  # delete notes older than N months


class RetentionPolicy(Base):
    __tablename__ = "retention_policy"

    id: Mapped[IdPk]
    kind: Mapped[str] = mapped_column(String(32), unique=True)
    keep_months: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class LegalHold(Base):
    """A reason personal data must be kept for now (a dispute, an authority's request):
    while one is in force the person cannot be erased (docs/privacy.md)."""

    __tablename__ = "legal_hold"
    __table_args__ = (Index("ix_legal_hold_customer_id", "customer_id"),)

    id: Mapped[IdPk]
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    reason: Mapped[str] = mapped_column(String(500))
    placed_by: Mapped[str] = mapped_column(String(120))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lifted_by: Mapped[str | None] = mapped_column(String(120))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
