"""Refunds against a known order: idempotent, never more than is left on each line.

A refund is keyed by ``(source, external_id)`` as an order is (docs/architecture.md,
"Invariants"); what it takes back of each line defaults to what is left of it, shared out
as the customer paid (the order discount prorated over the lines). A return whose sale
Patron lacks is not a refund: see :mod:`patron.orders.returns`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from patron import events
from patron.catalog import service as catalog
from patron.core.errors import InvalidInput
from patron.core.money import milli_to_quantity, parse_quantity, prorate_fen, round_half_up_div
from patron.orders.exceptions import (
    IdempotencyConflict,
    OrderOutOfScope,
    RefundTooLarge,
    UnknownOrder,
    UnknownStore,
)
from patron.orders.intake import request_hash
from patron.orders.models import Order, OrderLine, Refund, RefundLine
from patron.orders.reads import _check_in_scope, _refunded_by_line
from patron.orders.schemas import (
    RefundIn,
    RefundLineRead,
    RefundRead,
    RefundWrite,
)


def _paid_per_line(order: Order, lines: Sequence[OrderLine]) -> list[int]:
    """What the customer paid for each line: its amount less its share of the order discount."""
    shares = prorate_fen(order.order_discount_fen, [ln.amount_fen for ln in lines])
    return [ln.amount_fen - share for ln, share in zip(lines, shares, strict=True)]


def _find_refunded_order(session: Session, refund_in: RefundIn) -> Order:
    if refund_in.order_id is not None:
        order = session.get(Order, refund_in.order_id, with_for_update=True)
        if order is None:
            raise UnknownOrder("order_id", f"no order {refund_in.order_id}")
        return order
    source = refund_in.order_source or refund_in.source
    order = session.scalar(
        select(Order)
        .where(Order.source == source, Order.external_id == refund_in.order_external_id)
        .with_for_update()
    )
    if order is None:
        raise UnknownOrder(
            "order_external_id", f"no order {refund_in.order_external_id!r} from source {source!r}"
        )
    return order


def record_refund(
    *,
    session: Session,
    refund_in: RefundIn,
    import_run_id: int | None = None,
    store_ids: frozenset[int] | None = None,
) -> RefundWrite:
    """Take goods or money back against one order, never more than is left on each line.

    ``store_ids``, when given, are the stores whose orders the caller may refund.
    """
    digest = request_hash(refund_in)
    existing = session.scalar(
        select(Refund).where(
            Refund.source == refund_in.source, Refund.external_id == refund_in.external_id
        )
    )
    if existing is not None and store_ids is not None:
        sold_in = session.scalar(select(Order.store_id).where(Order.id == existing.order_id))
        if sold_in not in store_ids:  # another store's refund: nothing of it is told
            raise OrderOutOfScope("a refund under this key belongs to another store")
    if existing is not None:
        if existing.request_hash != digest:
            raise IdempotencyConflict(
                f"refund {refund_in.source}/{refund_in.external_id} was already posted with other content",
                source=refund_in.source,
                external_id=refund_in.external_id,
            )
        return RefundWrite(created=False, refund=_refund_read(session, existing))

    order = _find_refunded_order(session, refund_in)
    _check_in_scope(order.id, order.store_id, store_ids)
    if refund_in.refunded_at < order.ordered_at:
        raise InvalidInput("refunded_at", "is before the order was placed")
    lines = list(
        session.scalars(
            select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.line_no)
        )
    )
    refund_lines = _lines_to_refund(session, refund_in, order, lines)

    refund_store_id = None
    if refund_in.store_code is not None:
        store = catalog.stores_by_code(session=session, codes={refund_in.store_code}).get(
            refund_in.store_code
        )
        if store is None:
            raise UnknownStore("store_code", f"no store with code {refund_in.store_code!r}")
        refund_store_id = store.id
    refund = Refund(
        order_id=order.id,
        store_id=refund_store_id,
        source=refund_in.source,
        external_id=refund_in.external_id,
        amount_fen=sum(a for _, _, a in refund_lines),
        reason=refund_in.reason,
        refunded_at=refund_in.refunded_at,
        request_hash=digest,
        import_run_id=import_run_id,
    )
    session.add(refund)
    session.flush()
    session.add_all(
        RefundLine(
            refund_id=refund.id, order_line_id=line.id, quantity_milli=qty, amount_fen=amount
        )
        for line, qty, amount in refund_lines
    )
    session.flush()
    events.publish(
        session,
        "refund.created",
        customer_id=order.customer_id,
        store_id=refund.store_id,
        properties={"refund_id": refund.id, "order_id": order.id, "amount_fen": refund.amount_fen},
        event_id=f"refund.created:{refund.id}",
        occurred_at=refund.refunded_at,
    )
    return RefundWrite(created=True, refund=_refund_read(session, refund))


def _lines_to_refund(
    session: Session, refund_in: RefundIn, order: Order, lines: list[OrderLine]
) -> list[tuple[OrderLine, int, int]]:
    """(line, quantity_milli, amount_fen) to take back of each line the refund names (every
    line when it names none), never more than is left on it."""
    paid = _paid_per_line(order, lines)
    done = _refunded_by_line(session, [ln.id for ln in lines])
    by_no = {ln.line_no: n for n, ln in enumerate(lines)}

    wanted: list[tuple[int, int | None, int | None, str]] = []  # (index, qty, amount, field)
    if refund_in.lines:
        for k, line_in in enumerate(refund_in.lines):
            if line_in.line_no not in by_no:
                raise InvalidInput(f"lines.{k}.line_no", f"order has lines 1 to {len(lines)}")
            qty = parse_quantity(line_in.quantity) if line_in.quantity is not None else None
            wanted.append((by_no[line_in.line_no], qty, line_in.amount_fen, f"lines.{k}"))
    else:
        wanted = [(n, None, None, "lines") for n in range(len(lines))]

    refund_lines = []
    for n, qty_wanted, amount_wanted, field in wanted:
        line = lines[n]
        qty_done, amount_done = done.get(line.id, (0, 0))
        qty_left = line.quantity_milli - qty_done
        amount_left = paid[n] - amount_done
        qty = qty_left if qty_wanted is None else qty_wanted
        if qty > qty_left:
            raise RefundTooLarge(
                f"{field}.quantity",
                f"only {milli_to_quantity(qty_left)} left to refund on line {line.line_no}",
            )
        amount = _amount_to_refund(amount_wanted, qty, qty_left, amount_left, paid[n], line)
        if amount > amount_left:
            raise RefundTooLarge(
                f"{field}.amount_fen",
                f"only {amount_left} fen left to refund on line {line.line_no}",
            )
        if qty == 0 and amount == 0:
            if refund_in.lines:
                raise RefundTooLarge(f"{field}", f"line {line.line_no} is already fully refunded")
            continue
        refund_lines.append((line, qty, amount))
    if not refund_lines:
        raise RefundTooLarge(
            "lines", f"order {order.source}/{order.external_id} is already fully refunded"
        )
    return refund_lines


def _amount_to_refund(
    wanted: int | None, qty: int, qty_left: int, amount_left: int, paid: int, line: OrderLine
) -> int:
    """The money a line's refund takes back: as asked, else what is left when the rest of
    the quantity goes back, else the quantity's share of what was paid (at most what is left)."""
    if wanted is not None:
        return wanted
    if qty == qty_left:
        return amount_left
    return min(round_half_up_div(paid * qty, line.quantity_milli), amount_left)


def get_refund_by_key(*, session: Session, source: str, external_id: str) -> RefundRead | None:
    refund = session.scalar(
        select(Refund).where(Refund.source == source, Refund.external_id == external_id)
    )
    return _refund_read(session, refund) if refund else None


def _refund_read(session: Session, refund: Refund) -> RefundRead:
    rows = session.execute(
        select(RefundLine, OrderLine.line_no)
        .join(OrderLine, OrderLine.id == RefundLine.order_line_id)
        .where(RefundLine.refund_id == refund.id)
        .order_by(OrderLine.line_no)
    ).all()
    return RefundRead(
        id=refund.id,
        order_id=refund.order_id,
        source=refund.source,
        external_id=refund.external_id,
        amount_fen=refund.amount_fen,
        reason=refund.reason,
        refunded_at=refund.refunded_at,
        lines=[
            RefundLineRead(
                order_line_id=rl.order_line_id,
                line_no=line_no,
                quantity=milli_to_quantity(rl.quantity_milli),
                amount_fen=rl.amount_fen,
            )
            for rl, line_no in rows
        ],
    )
