"""Tickets: open, read, list, move through the workflow, assign, note and reply.

Store-bound staff see and touch only their stores' tickets: another store's ticket is
"not found" to them, never "forbidden", so nothing of it is told (docs/support.md).
Every change is audited; the SLA clocks follow each change (support/sla.py).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.catalog import service as catalog
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.errors import InvalidInput
from patron.customers import service as customers
from patron.orders import service as orders
from patron.staff import service as staff
from patron.support import sla
from patron.support.exceptions import TicketNotFound, TicketRefused
from patron.support.tickets import workflow
from patron.support.tickets.models import (
    EntryKind,
    Ticket,
    TicketAttachment,
    TicketCategory,
    TicketEntry,
    TicketRepair,
    TicketStatus,
)
from patron.support.tickets.schemas import (
    AssignIn,
    AttachmentRead,
    CategoryIn,
    CategoryRead,
    EntryIn,
    EntryRead,
    RepairRead,
    TicketCreate,
    TicketDetail,
    TicketFilter,
    TicketLineIn,
    TicketRead,
    TransitionIn,
)

# --- categories -----------------------------------------------------------------------


def create_category(*, session: Session, category_in: CategoryIn, actor: Actor) -> CategoryRead:
    parent = None
    if category_in.parent_code is not None:
        parent = session.scalar(
            select(TicketCategory).where(TicketCategory.code == category_in.parent_code)
        )
        if parent is None:
            raise InvalidInput(
                "parent_code",
                f"no category {category_in.parent_code!r}",
                message_code="ticket_category_unknown",
                code=category_in.parent_code,
            )
    if session.scalar(select(TicketCategory.id).where(TicketCategory.code == category_in.code)):
        raise InvalidInput(
            "code",
            f"a category {category_in.code!r} exists already",
            message_code="ticket_category_exists",
            code=category_in.code,
        )
    row = TicketCategory(
        code=category_in.code,
        parent_id=parent.id if parent else None,
        path=f"{parent.path}/{category_in.code}" if parent else category_in.code,
        name_zh=category_in.name_zh,
        name_en=category_in.name_en,
    )
    session.add(row)
    session.flush()
    record_audit(
        session=session, actor=actor, action="ticket_category.create",
        target_kind="ticket_category", target_id=row.id,
    )  # fmt: skip
    return _category_read(row)


def _category_read(row: TicketCategory) -> CategoryRead:
    return CategoryRead(
        id=row.id, code=row.code, path=row.path, name_zh=row.name_zh, name_en=row.name_en
    )


def list_categories(*, session: Session) -> list[CategoryRead]:
    rows = session.scalars(select(TicketCategory).order_by(TicketCategory.path))
    return [_category_read(r) for r in rows]


# --- opening ---------------------------------------------------------------------------


def _store_for(session: Session, code: str | None, actor: Actor) -> int | None:
    """The ticket's store: the one named, else a store-bound actor's only store."""
    if code is None:
        if actor.store_ids is not None and len(actor.store_ids) == 1:
            return next(iter(actor.store_ids))
        if actor.store_ids is not None:
            raise InvalidInput("store_code", "name the store", message_code="ticket_store_required")
        return None
    store = catalog.get_store_by_code(session=session, code=code)
    if store is None or not actor.sees_store(store.id):
        raise InvalidInput(
            "store_code", f"no store {code!r}", message_code="ticket_store_unknown", code=code
        )
    return store.id


def _check_lines(lines: list[TicketLineIn], line_nos: set[int]) -> None:
    for i, line in enumerate(lines):
        if line.line_no not in line_nos:
            raise InvalidInput(
                f"lines.{i}.line_no",
                f"the order has no line {line.line_no}",
                message_code="ticket_line_unknown",
                line_no=line.line_no,
            )


def open_ticket(
    *, session: Session, ticket_in: TicketCreate, actor: Actor, now: datetime | None = None
) -> TicketRead:
    """Open a ticket for a customer found (or made) as an order's would be; its SLA clocks
    start at once."""
    opened_at = ticket_in.opened_at or now or utcnow()
    store_id = _store_for(session, ticket_in.store_code, actor)
    customer_id: int | None
    order = None
    if ticket_in.order_id is not None:
        order = orders.get_order_or_raise(
            session=session, order_id=ticket_in.order_id, store_ids=actor.store_ids
        )
        _check_lines(ticket_in.lines, {line.line_no for line in order.lines})
        if store_id is None or ticket_in.store_code is None:
            sold_in = catalog.get_store_by_code(session=session, code=order.store_code)
            store_id = sold_in.id if sold_in else store_id
    context = customers.ResolveContext(
        source="ticket", label="ticket", at=opened_at, channel=None, store_id=store_id
    )
    resolution = customers.resolve_customers(
        session=session, refs=[ticket_in.customer], contexts=[context], actor=actor,
        store_ids=actor.store_ids,
    )  # fmt: skip
    customer_id = resolution.customer_ids[0]
    if customer_id is None:
        raise InvalidInput("customer", "no customer found", message_code="ticket_no_customer")
    if order is not None and order.customer_id not in (None, customer_id):
        raise InvalidInput(
            "order_id", "the order is another customer's", message_code="ticket_order_not_theirs"
        )
    category_id = None
    if ticket_in.category_code is not None:
        category_id = session.scalar(
            select(TicketCategory.id).where(TicketCategory.code == ticket_in.category_code)
        )
        if category_id is None:
            raise InvalidInput(
                "category_code",
                f"no category {ticket_in.category_code!r}",
                message_code="ticket_category_unknown",
                code=ticket_in.category_code,
            )
    ticket = Ticket(
        ticket_type=ticket_in.ticket_type,
        status=TicketStatus.NEW,
        channel=ticket_in.channel,
        priority=ticket_in.priority,
        subject=ticket_in.subject,
        description=ticket_in.description,
        customer_id=customer_id,
        order_id=ticket_in.order_id,
        order_lines=json.dumps(
            [{"line_no": x.line_no, "quantity": str(x.quantity)} for x in ticket_in.lines]
        ),
        category_id=category_id,
        store_id=store_id,
        tier_code=sla.tier_of(session, customer_id),
        opened_by=actor.name,
        opened_at=opened_at,
        updated_at=opened_at,
        escalation_level=0,
    )
    session.add(ticket)
    session.flush()
    sla.start_clocks(session, ticket)
    _entry(session, ticket, EntryKind.STATUS, actor, opened_at, to_status=TicketStatus.NEW)
    record_audit(
        session=session, actor=actor, action="ticket.open", target_kind="ticket",
        target_id=ticket.id, details={"type": ticket.ticket_type, "store_id": store_id},
    )  # fmt: skip
    return ticket_read(session, ticket)


# --- reading ---------------------------------------------------------------------------


def load_ticket(session: Session, ticket_id: int, actor: Actor, *, lock: bool = False) -> Ticket:
    """The ticket, if the actor may see it; else TicketNotFound (nothing told)."""
    statement = select(Ticket).where(Ticket.id == ticket_id)
    if lock:
        statement = statement.with_for_update()
    ticket = session.scalar(statement)
    if ticket is None or not actor.sees_store(ticket.store_id):
        raise TicketNotFound(f"no ticket {ticket_id}", ticket_id=ticket_id)
    return ticket


def ticket_lines(ticket: Ticket) -> list[TicketLineIn]:
    return [
        TicketLineIn(line_no=int(x["line_no"]), quantity=Decimal(x["quantity"]))
        for x in json.loads(ticket.order_lines or "[]")
    ]


def ticket_read(session: Session, ticket: Ticket) -> TicketRead:
    return _reads(session, [ticket])[0]


def _reads(session: Session, tickets: list[Ticket]) -> list[TicketRead]:
    codes = catalog.store_codes_by_id(session=session)
    names = {s.id: s.display_name for s in staff.list_staff(session=session)}
    categories = dict(session.execute(select(TicketCategory.id, TicketCategory.code)).all())
    return [
        TicketRead(
            id=t.id,
            ticket_type=t.ticket_type,
            status=t.status,
            channel=t.channel,
            priority=t.priority,
            subject=t.subject,
            description=t.description,
            customer_id=t.customer_id,
            order_id=t.order_id,
            lines=ticket_lines(t),
            category_code=categories.get(t.category_id) if t.category_id else None,
            store_id=t.store_id,
            store_code=codes.get(t.store_id) if t.store_id else None,
            assignee_id=t.assignee_id,
            assignee=names.get(t.assignee_id) if t.assignee_id else None,
            tier_code=t.tier_code,
            first_reply_due_at=t.first_reply_due_at,
            resolve_due_at=t.resolve_due_at,
            first_replied_at=t.first_replied_at,
            resolved_at=t.resolved_at,
            closed_at=t.closed_at,
            escalation_level=t.escalation_level,
            refund_id=t.refund_id,
            exchange_order_id=t.exchange_order_id,
            opened_by=t.opened_by,
            opened_at=t.opened_at,
            updated_at=t.updated_at,
        )
        for t in tickets
    ]


def get_ticket(*, session: Session, ticket_id: int, actor: Actor) -> TicketDetail:
    ticket = load_ticket(session, ticket_id, actor)
    entries = session.scalars(
        select(TicketEntry).where(TicketEntry.ticket_id == ticket.id).order_by(TicketEntry.id)
    )
    attachments = session.scalars(
        select(TicketAttachment)
        .where(TicketAttachment.ticket_id == ticket.id)
        .order_by(TicketAttachment.id)
    )
    repair = session.scalar(select(TicketRepair).where(TicketRepair.ticket_id == ticket.id))
    return TicketDetail(
        **ticket_read(session, ticket).model_dump(),
        entries=[EntryRead.model_validate(e, from_attributes=True) for e in entries],
        attachments=[AttachmentRead.model_validate(a, from_attributes=True) for a in attachments],
        repair=repair_read(repair, utcnow()) if repair else None,
    )


def repair_read(row: TicketRepair, now: datetime) -> RepairRead:
    ends = row.warranty_ends_on
    return RepairRead(
        rma_number=row.rma_number,
        supplier=row.supplier,
        diagnosis=row.diagnosis,
        cost_fen=row.cost_fen,
        sku=row.sku,
        purchased_on=row.purchased_on,
        warranty_months=row.warranty_months,
        warranty_ends_on=ends,
        in_warranty=None if ends is None else now.date() <= ends,
    )


def _filtered(filters: TicketFilter, actor: Actor, store_id: int | None) -> Select[Ticket]:
    q = select(Ticket)
    if actor.store_ids is not None:
        q = q.where(Ticket.store_id.in_(actor.store_ids))
    if filters.status is not None:
        q = q.where(Ticket.status == filters.status)
    if filters.open_only:
        q = q.where(Ticket.status.in_([str(s) for s in workflow.OPEN]))
    if filters.ticket_type is not None:
        q = q.where(Ticket.ticket_type == filters.ticket_type)
    if filters.priority is not None:
        q = q.where(Ticket.priority == filters.priority)
    if store_id is not None:
        q = q.where(Ticket.store_id == store_id)
    if filters.assignee_id is not None:
        q = q.where(Ticket.assignee_id == filters.assignee_id)
    if filters.unassigned:
        q = q.where(Ticket.assignee_id.is_(None))
    if filters.customer_id is not None:
        q = q.where(Ticket.customer_id == filters.customer_id)
    return q


def list_tickets(*, session: Session, filters: TicketFilter, actor: Actor) -> list[TicketRead]:
    """Tickets the actor may see, the most urgent clock first (then the newest)."""
    store_id = None
    if filters.store_code:
        store = catalog.get_store_by_code(session=session, code=filters.store_code)
        if store is None:
            return []
        store_id = store.id
    q = _filtered(filters, actor, store_id).order_by(
        Ticket.resolve_due_at.is_(None), Ticket.resolve_due_at, Ticket.id.desc()
    )
    return _reads(session, list(session.scalars(q.limit(filters.limit))))


# --- changing --------------------------------------------------------------------------


def _entry(
    session: Session,
    ticket: Ticket,
    kind: EntryKind,
    actor: Actor,
    at: datetime,
    *,
    body: str = "",
    from_status: str | None = None,
    to_status: str | None = None,
) -> TicketEntry:
    entry = TicketEntry(
        ticket_id=ticket.id,
        kind=kind,
        body=body,
        from_status=from_status,
        to_status=to_status,
        author_id=actor.id if actor.kind == "staff" else None,
        author=actor.name,
        at=at,
    )
    session.add(entry)
    ticket.updated_at = at
    session.flush()
    return entry


def move(
    session: Session, ticket: Ticket, wanted: str, actor: Actor, at: datetime, note: str = ""
) -> None:
    """Change the status (refused unless the workflow allows it) and follow the clocks."""
    current = ticket.status
    workflow.check_transition(current, wanted)
    if wanted == TicketStatus.RESOLVED:
        ticket.resolved_at = at
    elif wanted == TicketStatus.CLOSED:
        ticket.closed_at = at
    elif workflow.is_reopen(current, wanted):
        ticket.resolved_at = None
        ticket.closed_at = None
    ticket.status = wanted
    _entry(
        session, ticket, EntryKind.STATUS, actor, at, body=note,
        from_status=current, to_status=wanted,
    )  # fmt: skip
    sla.follow_status(session, ticket)
    if wanted == TicketStatus.CLOSED:
        from patron.support.surveys.service import invite_after_close  # surveys open tickets

        invite_after_close(session, ticket, now=at)
    record_audit(
        session=session, actor=actor, action="ticket.status", target_kind="ticket",
        target_id=ticket.id, details={"from": current, "to": wanted},
    )  # fmt: skip


def transition(
    *,
    session: Session,
    ticket_id: int,
    transition_in: TransitionIn,
    actor: Actor,
    now: datetime | None = None,
) -> TicketRead:
    ticket = load_ticket(session, ticket_id, actor, lock=True)
    wanted = transition_in.status
    if wanted == TicketStatus.ASSIGNED and ticket.assignee_id is None:
        raise TicketRefused(
            "assign the ticket to someone instead", message_code="ticket_assign_someone"
        )
    move(session, ticket, wanted, actor, now or utcnow(), transition_in.note)
    return ticket_read(session, ticket)


def assign(
    *,
    session: Session,
    ticket_id: int,
    assign_in: AssignIn,
    actor: Actor,
    now: datetime | None = None,
) -> TicketRead:
    """To a person who may see the ticket's store, or to a store's queue (nobody in
    person). A new ticket becomes assigned; one further on keeps its status."""
    at = now or utcnow()
    ticket = load_ticket(session, ticket_id, actor, lock=True)
    if ticket.status == TicketStatus.CLOSED:
        raise TicketRefused("the ticket is closed", message_code="ticket_closed")
    label = ""
    if assign_in.store_code is not None:
        ticket.store_id = _store_for(session, assign_in.store_code, actor)
        ticket.assignee_id = None
        label = f"queue:{assign_in.store_code}"
    if assign_in.staff_id is not None:
        person = staff.get_staff_or_raise(session=session, staff_id=assign_in.staff_id)
        stores = catalog.store_codes_by_id(session=session)
        code = stores.get(ticket.store_id) if ticket.store_id else None
        bound = person.role in ("store_manager", "cashier")
        if not person.is_active or (bound and code not in person.store_codes):
            raise InvalidInput(
                "staff_id",
                "cannot work this store's tickets",
                message_code="ticket_assignee_refused",
            )
        ticket.assignee_id = person.id
        label = person.display_name
    if ticket.status == TicketStatus.NEW and ticket.assignee_id is not None:
        move(session, ticket, TicketStatus.ASSIGNED, actor, at)
    _entry(session, ticket, EntryKind.ASSIGN, actor, at, body=label)
    record_audit(
        session=session, actor=actor, action="ticket.assign", target_kind="ticket",
        target_id=ticket.id, details={"staff_id": ticket.assignee_id, "store_id": ticket.store_id},
    )  # fmt: skip
    return ticket_read(session, ticket)


def add_entry(
    *,
    session: Session,
    ticket_id: int,
    entry_in: EntryIn,
    actor: Actor,
    now: datetime | None = None,
) -> EntryRead:
    """An internal note, or a reply to the customer (the first stops the first-reply
    clock; a reply to a new or assigned ticket puts it in progress)."""
    at = now or utcnow()
    ticket = load_ticket(session, ticket_id, actor, lock=True)
    if ticket.status == TicketStatus.CLOSED:
        raise TicketRefused("the ticket is closed", message_code="ticket_closed")
    kind = EntryKind(entry_in.kind)
    entry = _entry(session, ticket, kind, actor, at, body=entry_in.body)
    if kind == EntryKind.REPLY:
        if ticket.first_replied_at is None:
            ticket.first_replied_at = at
        if ticket.status in (TicketStatus.NEW, TicketStatus.ASSIGNED):
            move(session, ticket, TicketStatus.IN_PROGRESS, actor, at)
    record_audit(
        session=session, actor=actor,
        action="ticket.reply" if kind == EntryKind.REPLY else "ticket.note",
        target_kind="ticket", target_id=ticket.id,
    )  # fmt: skip
    return EntryRead.model_validate(entry, from_attributes=True)


def note_event(
    session: Session, ticket: Ticket, kind: EntryKind, actor: Actor, at: datetime, body: str
) -> None:
    """An entry written by another part of support (money, repairs, SLA)."""
    _entry(session, ticket, kind, actor, at, body=body)


def open_tickets_of(*, session: Session, customer_ids: list[int]) -> list[int]:
    """The ids of these customers' tickets not yet resolved or closed (an erasure waits for
    them: docs/privacy.md)."""
    done = (TicketStatus.RESOLVED, TicketStatus.CLOSED)
    return list(
        session.scalars(
            select(Ticket.id)
            .where(Ticket.customer_id.in_(customer_ids), Ticket.status.not_in(done))
            .order_by(Ticket.id)
        )
    )
