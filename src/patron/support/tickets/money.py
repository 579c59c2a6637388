"""Money and goods through tickets: an approved return refunds through the orders service
(loyalty follows: points earned are taken back, points and coupons spent given back); an
exchange is that refund plus a new order; a repair keeps its RMA number, supplier,
diagnosis, cost and warranty. Each is done once: the refund and the new order are keyed by
the ticket, so a repeated call returns what the first did (docs/support.md)."""

from __future__ import annotations

import contextlib
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron import loyalty
from patron.audit.service import record_audit
from patron.catalog import service as catalog
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.errors import InvalidInput
from patron.core.settings import get_settings
from patron.orders import service as orders
from patron.orders.schemas import OrderIn, OrderLineIn, RefundIn, RefundLineIn, RefundRead
from patron.support.exceptions import TicketRefused
from patron.support.notify import tell_customer
from patron.support.tickets import service as tickets
from patron.support.tickets.models import EntryKind, Ticket, TicketRepair, TicketType
from patron.support.tickets.schemas import ExchangeRead, RepairIn, RepairRead, ReturnRead

__all__ = [
    "ExchangeRead",
    "ReturnRead",
    "add_months",
    "approve_return",
    "exchange",
    "update_repair",
]
from patron.support.tickets.workflow import DONE

SOURCE = "ticket"


def _refund(session: Session, ticket: Ticket, actor: Actor, at: datetime) -> tuple[bool, int]:
    """Refund the ticket's lines (the whole order when it names none), once; then loyalty."""
    if ticket.order_id is None:
        raise TicketRefused(
            "the ticket names no order", message_code="ticket_needs_order", ticket_id=ticket.id
        )
    refund_in = RefundIn(
        source=SOURCE,
        external_id=f"T{ticket.id}",
        order_id=ticket.order_id,
        refunded_at=ticket.opened_at if ticket.refund_id else at,
        reason=f"ticket {ticket.id}",
        lines=[
            RefundLineIn(line_no=x.line_no, quantity=x.quantity)
            for x in tickets.ticket_lines(ticket)
        ],
    )
    existing = orders.get_refund_by_key(session=session, source=SOURCE, external_id=f"T{ticket.id}")
    if existing is not None:
        return False, existing.id
    written = orders.record_refund(session=session, refund_in=refund_in, store_ids=actor.store_ids)
    with contextlib.suppress(loyalty.NotAMember):  # an anonymous or pre-programme sale
        loyalty.apply_refund(
            session=session,
            refund_in=loyalty.LoyaltyRefundIn(source=SOURCE, external_id=f"T{ticket.id}"),
            now=at,
            store_ids=actor.store_ids,
        )
    return written.created, written.refund.id


def _check_type(ticket: Ticket, wanted: TicketType) -> None:
    if ticket.ticket_type != wanted or ticket.status in DONE:
        raise TicketRefused(
            f"ticket {ticket.id} is a {ticket.ticket_type} ({ticket.status})",
            message_code="ticket_not_for_that",
            ticket_type=ticket.ticket_type,
        )


def approve_return(
    *, session: Session, ticket_id: int, actor: Actor, now: datetime | None = None
) -> ReturnRead:
    at = now or utcnow()
    ticket = tickets.load_ticket(session, ticket_id, actor, lock=True)
    if ticket.refund_id is None:
        _check_type(ticket, TicketType.RETURN)
    created, refund_id = _refund(session, ticket, actor, at)
    refund = _refund_read(session, ticket.id)
    if created:
        ticket.refund_id = refund_id
        tickets.note_event(
            session, ticket, EntryKind.MONEY, actor, at, f"refund {refund.amount_fen} fen"
        )
        record_audit(
            session=session, actor=actor, action="ticket.refund", target_kind="ticket",
            target_id=ticket.id, details={"refund_id": refund_id, "fen": refund.amount_fen},
        )  # fmt: skip
        tell_customer(
            session=session, customer_id=ticket.customer_id, source_kind="ticket",
            source_id=f"{ticket.id}:refund",
            text=f"您的退货（工单 {ticket.id}）已退款 {refund.amount_fen / 100:.2f} 元。",
        )  # fmt: skip
    return ReturnRead(created=created, ticket_id=ticket.id, refund=refund)


def _refund_read(session: Session, ticket_id: int) -> RefundRead:
    found = orders.get_refund_by_key(session=session, source=SOURCE, external_id=f"T{ticket_id}")
    assert found is not None
    return found


def exchange(
    *,
    session: Session,
    ticket_id: int,
    lines: list[OrderLineIn],
    actor: Actor,
    now: datetime | None = None,
) -> ExchangeRead:
    """Refund what comes back and sell what goes out, as a new order of the same customer
    in the ticket's store; loyalty treats the new order as any sale."""
    at = now or utcnow()
    ticket = tickets.load_ticket(session, ticket_id, actor, lock=True)
    if ticket.exchange_order_id is None:
        _check_type(ticket, TicketType.EXCHANGE)
    _, refund_id = _refund(session, ticket, actor, at)
    ticket.refund_id = refund_id
    codes = catalog.store_codes_by_id(session=session)
    order_in = OrderIn.model_validate(
        {
            "source": SOURCE,
            "external_id": f"T{ticket.id}-exchange",
            "store_code": codes.get(ticket.store_id) if ticket.store_id else None,
            "ordered_at": ticket.updated_at if ticket.exchange_order_id else at,
            "customer": {"id": ticket.customer_id},
            "lines": [line.model_dump() for line in lines],
        }
    )
    if ticket.exchange_order_id is not None:
        order = orders.get_order_or_raise(session=session, order_id=ticket.exchange_order_id)
        return ExchangeRead(
            created=False, ticket_id=ticket.id, refund=_refund_read(session, ticket.id),
            order_id=order.id, order_total_fen=order.total_fen,
        )  # fmt: skip
    written = orders.record_order(session=session, order_in=order_in, store_ids=actor.store_ids)
    with contextlib.suppress(loyalty.NotAMember):
        loyalty.commit_order(
            session=session,
            commit_in=loyalty.CommitIn(source=SOURCE, external_id=f"T{ticket.id}-exchange"),
            now=at,
        )
    ticket.exchange_order_id = written.order.id
    tickets.note_event(
        session, ticket, EntryKind.MONEY, actor, at,
        f"exchange: refund {refund_id}, new order {written.order.id}",
    )  # fmt: skip
    record_audit(
        session=session, actor=actor, action="ticket.exchange", target_kind="ticket",
        target_id=ticket.id, details={"refund_id": refund_id, "order_id": written.order.id},
    )  # fmt: skip
    return ExchangeRead(
        created=True, ticket_id=ticket.id, refund=_refund_read(session, ticket.id),
        order_id=written.order.id, order_total_fen=written.order.total_fen,
    )  # fmt: skip


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it is shorter)."""
    import calendar

    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def update_repair(
    *,
    session: Session,
    ticket_id: int,
    repair_in: RepairIn,
    actor: Actor,
    now: datetime | None = None,
) -> RepairRead:
    """Record what is known of a repair; the warranty runs from the purchase (the ticket's
    order) for the product's warranty months. The customer is told of each change."""
    at = now or utcnow()
    ticket = tickets.load_ticket(session, ticket_id, actor, lock=True)
    _check_type(ticket, TicketType.REPAIR)
    row = session.scalar(select(TicketRepair).where(TicketRepair.ticket_id == ticket.id))
    if row is None:
        row = TicketRepair(ticket_id=ticket.id, cost_fen=0)
        session.add(row)
    changed = repair_in.model_dump(exclude_unset=True)
    rma = changed.get("rma_number")
    if rma and session.scalar(
        select(TicketRepair.ticket_id).where(
            TicketRepair.rma_number == rma, TicketRepair.ticket_id != ticket.id
        )
    ):
        raise InvalidInput(
            "rma_number",
            f"RMA number {rma!r} belongs to another repair",
            message_code="rma_number_taken",
            rma_number=rma,
        )
    for name, value in changed.items():
        setattr(row, name, value)
    _fill_warranty(session, ticket, row)
    row.updated_at = at
    session.flush()
    tickets.note_event(session, ticket, EntryKind.REPAIR, actor, at, ", ".join(sorted(changed)))
    record_audit(
        session=session, actor=actor, action="ticket.repair", target_kind="ticket",
        target_id=ticket.id, details={"changed": sorted(changed)},
    )  # fmt: skip
    read = tickets.repair_read(row, at)
    tell_customer(
        session=session, customer_id=ticket.customer_id, source_kind="ticket",
        source_id=f"{ticket.id}:repair:{row.updated_at.isoformat()}",
        text=_repair_text(ticket.id, read),
    )  # fmt: skip
    return read


def _fill_warranty(session: Session, ticket: Ticket, row: TicketRepair) -> None:
    if ticket.order_id is not None and (row.purchased_on is None or row.sku is None):
        order = orders.get_order_or_raise(session=session, order_id=ticket.order_id)
        if row.purchased_on is None:
            row.purchased_on = order.ordered_at.astimezone(get_settings().zone).date()
        if row.sku is None:
            wanted = {x.line_no for x in tickets.ticket_lines(ticket)}
            line = next((x for x in order.lines if not wanted or x.line_no in wanted), None)
            row.sku = line.sku if line else None
    if row.warranty_months is None and row.sku is not None:
        product = catalog.get_product_by_sku(session=session, sku=row.sku)
        row.warranty_months = product.warranty_months if product else None
    if row.purchased_on is not None and row.warranty_months is not None:
        row.warranty_ends_on = add_months(row.purchased_on, row.warranty_months)


def _repair_text(ticket_id: int, repair: RepairRead) -> str:
    parts = [f"您的维修（工单 {ticket_id}）有更新"]
    if repair.rma_number:
        parts.append(f"返修单号 {repair.rma_number}")
    if repair.in_warranty is not None:
        parts.append("在保修期内" if repair.in_warranty else "已过保修期")
    if repair.cost_fen:
        parts.append(f"费用 {repair.cost_fen / 100:.2f} 元")
    return "，".join(parts) + "。"
