"""Ticket tables: tickets, their entries (notes, replies, status changes), photos, repairs,
the category tree, SLA policies and the SLA events of each ticket's clocks.

See docs/support.md for the workflow and the clocks.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.clock import utcnow
from patron.core.models import Base, BigId, IdPk, UTCDateTime


class TicketType(StrEnum):
    COMPLAINT = "complaint"
    RETURN = "return"
    EXCHANGE = "exchange"
    REPAIR = "repair"
    ENQUIRY = "enquiry"
    SUGGESTION = "suggestion"


class TicketStatus(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WAITING_CUSTOMER = "waiting_customer"
    WAITING_SUPPLIER = "waiting_supplier"
    RESOLVED = "resolved"
    CLOSED = "closed"


class TicketChannel(StrEnum):
    STORE = "store"
    PHONE = "phone"
    WECHAT = "wechat"
    WEB_FORM = "web_form"
    EMAIL = "email"
    SURVEY = "survey"  # opened by a detractor's answer


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class EntryKind(StrEnum):
    NOTE = "note"  # internal: staff only
    REPLY = "reply"  # to the customer: stops the first-reply clock
    STATUS = "status"  # a transition (from → to)
    ASSIGN = "assign"  # to a person or a store's queue
    MONEY = "money"  # a refund, an exchange order
    REPAIR = "repair"  # a change of the repair's record


class SlaClock(StrEnum):
    FIRST_REPLY = "first_reply"
    RESOLUTION = "resolution"


class SlaEventKind(StrEnum):
    WARNING = "warning"
    BREACH = "breach"
    ESCALATED_STORE = "escalated_store"  # to the store's manager
    ESCALATED_CHAIN = "escalated_chain"  # to the chain's managers


class TicketCategory(Base):
    """A node of the category tree (产品质量 / 破损, 服务态度 …); ``path`` is its codes from
    the top, slash-separated, so that a prefix finds a branch."""

    __tablename__ = "ticket_category"

    id: Mapped[IdPk]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    parent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("ticket_category.id"))
    path: Mapped[str] = mapped_column(String(255), unique=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))


class Ticket(Base):
    __tablename__ = "ticket"
    __table_args__ = (
        Index("ix_ticket_store_status", "store_id", "status"),
        Index("ix_ticket_customer", "customer_id"),
        Index("ix_ticket_assignee_status", "assignee_id", "status"),
    )

    id: Mapped[IdPk]
    ticket_type: Mapped[str] = mapped_column(String(16))  # TicketType
    status: Mapped[str] = mapped_column(String(24), default=TicketStatus.NEW)
    channel: Mapped[str] = mapped_column(String(16))  # TicketChannel
    priority: Mapped[str] = mapped_column(String(16), default=Priority.NORMAL)
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    order_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("orders.id"))
    # The order's lines the ticket is about: [{"line_no": 1, "quantity": "1"}].
    order_lines: Mapped[str] = mapped_column(Text, default="[]")
    category_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("ticket_category.id"))
    store_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("store.id"))
    assignee_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("staff_user.id"))
    tier_code: Mapped[str | None] = mapped_column(String(32))  # the customer's, at opening
    # SLA: the policy applied and the due times it gave (None: no policy, or a clock paused).
    sla_policy_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("sla_policy.id"))
    first_reply_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolve_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    # Money through the ticket: the refund and the exchange's new order, once each.
    refund_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("refund.id"))
    exchange_order_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("orders.id"))
    # A follow-up of a survey answer (a detractor's).
    survey_response_id: Mapped[int | None] = mapped_column(BigInteger)
    opened_by: Mapped[str] = mapped_column(String(120))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TicketEntry(Base):
    """What happened on a ticket, in order; never updated."""

    __tablename__ = "ticket_entry"
    __table_args__ = (Index("ix_ticket_entry_ticket", "ticket_id", "id"),)

    id: Mapped[IdPk]
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("ticket.id"))
    kind: Mapped[str] = mapped_column(String(16))  # EntryKind
    body: Mapped[str] = mapped_column(Text, default="")
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    author_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("staff_user.id"))
    author: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TicketAttachment(Base):
    """A photo, stored under the data directory (never the web root) by its SHA-256."""

    __tablename__ = "ticket_attachment"

    id: Mapped[IdPk]
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("ticket.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    added_by: Mapped[str] = mapped_column(String(120))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TicketRepair(Base):
    """A repair's record: RMA number, supplier, diagnosis, cost and warranty."""

    __tablename__ = "ticket_repair"

    id: Mapped[IdPk]
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("ticket.id"), unique=True)
    rma_number: Mapped[str | None] = mapped_column(String(64), unique=True)
    supplier: Mapped[str | None] = mapped_column(String(120))
    diagnosis: Mapped[str | None] = mapped_column(Text)
    cost_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    sku: Mapped[str | None] = mapped_column(String(64))
    purchased_on: Mapped[date | None] = mapped_column(Date)
    warranty_months: Mapped[int | None] = mapped_column(Integer)
    warranty_ends_on: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SlaPolicy(Base):
    """Targets in working minutes for tickets of a type, priority and customer tier; a
    field left empty matches any, and the most specific policy wins."""

    __tablename__ = "sla_policy"
    __table_args__ = (UniqueConstraint("ticket_type", "priority", "tier_code"),)

    id: Mapped[IdPk]
    name: Mapped[str] = mapped_column(String(120))
    ticket_type: Mapped[str | None] = mapped_column(String(16))
    priority: Mapped[str | None] = mapped_column(String(16))
    tier_code: Mapped[str | None] = mapped_column(String(32))
    first_reply_minutes: Mapped[int] = mapped_column(Integer)
    resolve_minutes: Mapped[int] = mapped_column(Integer)
    warn_percent: Mapped[int] = mapped_column(Integer, default=80)
    # Working minutes after a breach before it goes from the store manager to the chain.
    chain_after_minutes: Mapped[int] = mapped_column(Integer, default=240)
    changed_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SlaEvent(Base):
    """A warning, a breach or an escalation of one clock of one ticket, once each."""

    __tablename__ = "sla_event"
    __table_args__ = (UniqueConstraint("ticket_id", "clock", "kind"),)

    id: Mapped[IdPk]
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("ticket.id"))
    clock: Mapped[str] = mapped_column(String(16))  # SlaClock
    kind: Mapped[str] = mapped_column(String(24))  # SlaEventKind
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    notified: Mapped[str] = mapped_column(String(255), default="")  # staff names told
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
