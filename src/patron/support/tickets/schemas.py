"""Ticket schemas: what opens, moves and reads a ticket."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from patron.core.schemas import RecordId, Schema, ShortCode, UtcInstant
from patron.customers.schemas import CustomerRef
from patron.orders.schemas import OrderLineIn, RefundRead
from patron.support.tickets.models import Priority, TicketChannel, TicketStatus, TicketType

Subject = Annotated[str, Field(min_length=1, max_length=200)]
Body = Annotated[str, Field(min_length=1, max_length=10_000)]


class TicketLineIn(Schema):
    line_no: Annotated[int, Field(ge=1, le=10_000)]
    quantity: Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=3)] = Decimal(1)


class TicketCreate(Schema):
    """A ticket: the customer is found by id, phone or openid as an order's is."""

    ticket_type: TicketType
    channel: TicketChannel = TicketChannel.STORE
    priority: Priority = Priority.NORMAL
    subject: Subject
    description: Annotated[str, Field(max_length=10_000)] = ""
    customer: CustomerRef
    order_id: RecordId | None = None
    lines: list[TicketLineIn] = Field(default_factory=list, max_length=200)
    category_code: ShortCode | None = None
    store_code: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    opened_at: UtcInstant | None = None  # now when left out

    @model_validator(mode="after")
    def _lines_need_order(self) -> TicketCreate:
        if self.lines and self.order_id is None:
            raise ValueError("lines: name the order (order_id) the lines belong to")
        if self.customer.is_empty():
            raise ValueError("customer: give an id, a phone or an openid")
        return self


class TransitionIn(Schema):
    status: TicketStatus
    note: Annotated[str, Field(max_length=2_000)] = ""


class AssignIn(Schema):
    """To a person (``staff_id``) or a store's queue (``store_code``, nobody in person)."""

    staff_id: RecordId | None = None
    store_code: Annotated[str, Field(min_length=1, max_length=32)] | None = None

    @model_validator(mode="after")
    def _someone(self) -> AssignIn:
        if self.staff_id is None and self.store_code is None:
            raise ValueError("staff_id: give a person or a store's queue (store_code)")
        return self


class EntryIn(Schema):
    kind: Literal["note", "reply"]
    body: Body


class CategoryIn(Schema):
    code: ShortCode
    parent_code: ShortCode | None = None
    name_zh: Annotated[str, Field(min_length=1, max_length=120)]
    name_en: Annotated[str, Field(min_length=1, max_length=120)]


class CategoryRead(Schema):
    id: int
    code: str
    path: str
    name_zh: str
    name_en: str


class EntryRead(Schema):
    id: int
    kind: str
    body: str
    from_status: str | None
    to_status: str | None
    author: str
    at: datetime


class AttachmentRead(Schema):
    id: int
    file_name: str
    content_type: str
    size_bytes: int
    added_by: str
    added_at: datetime


class RepairRead(Schema):
    rma_number: str | None
    supplier: str | None
    diagnosis: str | None
    cost_fen: int
    sku: str | None
    purchased_on: date | None
    warranty_months: int | None
    warranty_ends_on: date | None
    in_warranty: bool | None


class TicketRead(Schema):
    id: int
    ticket_type: str
    status: str
    channel: str
    priority: str
    subject: str
    description: str
    customer_id: int
    order_id: int | None
    lines: list[TicketLineIn]
    category_code: str | None
    store_id: int | None
    store_code: str | None
    assignee_id: int | None
    assignee: str | None
    tier_code: str | None
    first_reply_due_at: datetime | None
    resolve_due_at: datetime | None
    first_replied_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    escalation_level: int
    refund_id: int | None
    exchange_order_id: int | None
    opened_by: str
    opened_at: datetime
    updated_at: datetime


class TicketDetail(TicketRead):
    entries: list[EntryRead]
    attachments: list[AttachmentRead]
    repair: RepairRead | None


class TicketFilter(Schema):
    status: TicketStatus | None = None
    open_only: bool = False
    ticket_type: TicketType | None = None
    priority: Priority | None = None
    store_code: str | None = None
    assignee_id: int | None = None
    unassigned: bool = False  # the store's queue: nobody in person
    customer_id: int | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 100


class SlaPolicyIn(Schema):
    """Targets in working minutes; an empty type, priority or tier matches any."""

    name: Annotated[str, Field(min_length=1, max_length=120)]
    ticket_type: TicketType | None = None
    priority: Priority | None = None
    tier_code: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    first_reply_minutes: Annotated[int, Field(ge=1, le=60 * 24 * 60)]
    resolve_minutes: Annotated[int, Field(ge=1, le=60 * 24 * 365)]
    warn_percent: Annotated[int, Field(ge=1, le=99)] = 80
    chain_after_minutes: Annotated[int, Field(ge=1, le=60 * 24 * 60)] = 240


class SlaPolicyRead(SlaPolicyIn):
    id: int
    changed_by: str
    updated_at: datetime


class RepairIn(Schema):
    """What is known of a repair; fields left out stay as they were. Purchase date, SKU and
    warranty months come from the ticket's order and the product when not given."""

    rma_number: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    supplier: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    diagnosis: Annotated[str, Field(max_length=5_000)] | None = None
    cost_fen: Annotated[int, Field(ge=0, le=10**12)] | None = None
    sku: ShortCode | None = None
    purchased_on: date | None = None
    warranty_months: Annotated[int, Field(ge=0, le=1200)] | None = None


class ReturnRead(Schema):
    created: bool
    ticket_id: int
    refund: RefundRead


class ExchangeIn(Schema):
    """What the customer takes instead: the new order's lines."""

    lines: list[OrderLineIn] = Field(min_length=1, max_length=200)


class ExchangeRead(ReturnRead):
    order_id: int
    order_total_fen: int
