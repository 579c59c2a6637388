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


def discount_shares_of(order_discount_fen: int, lines: Sequence[OrderLine]) -> list[int]:
    """Each line's share of the order discount: as loyalty placed it when the order was
    committed (a coupon scoped to some SKUs on those lines only), else prorated by amount."""
    placed = [ln.order_discount_share_fen for ln in lines]
    if all(p is not None for p in placed) and sum(p or 0 for p in placed) == order_discount_fen:
        return [int(p or 0) for p in placed]
    return prorate_fen(order_discount_fen, [ln.amount_fen for ln in lines])


def paid_per_line(order: Order, lines: Sequence[OrderLine]) -> list[int]:
    """What the customer paid for each line: its amount less its share of the order discount."""
    shares = discount_shares_of(order.order_discount_fen, lines)
    return [ln.amount_fen - share for ln, share in zip(lines, shares, strict=True)]


def place_order_discount(*, session: Session, order_id: int, shares: Sequence[int]) -> bool:
    """Record where the order discount falls, line by line in line order (loyalty calls this
    when it commits the order: coupons scoped to some SKUs fall on those lines only), so
    that refunds take back what was paid for the lines they name, to the fen.

    The shares must sum to the order's ``order_discount_fen``, one per line. They are not
    kept (and refunds go on prorating by amount) when one is below zero or above its line's
    amount, or once a refund exists (it was reckoned pro rata, and the rest of the order
    must be reckoned the same way). Returns whether they were kept.
    """
    order = session.get(Order, order_id, with_for_update=True)
    if order is None:
        raise UnknownOrder("order_id", f"no order {order_id}")
    lines = list(
        session.scalars(
            select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.line_no)
        )
    )
    if len(shares) != len(lines):
        raise InvalidInput("shares", f"order {order_id} has {len(lines)} lines, not {len(shares)}")
    if sum(shares) != order.order_discount_fen:
        raise InvalidInput(
            "shares", f"sum to {sum(shares)} fen, not the order discount {order.order_discount_fen}"
        )
    if any(not 0 <= share <= line.amount_fen for line, share in zip(lines, shares, strict=True)):
        return False  # a line would be paid less than nothing: keep reckoning pro rata
    if session.scalar(select(Refund.id).where(Refund.order_id == order_id).limit(1)) is not None:
        return False
    for line, share in zip(lines, shares, strict=True):
        line.order_discount_share_fen = share
    session.flush()
    return True


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
    paid = paid_per_line(order, lines)
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
