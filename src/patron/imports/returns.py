"""Writing the staged returns, oldest first: each return line takes back its own amount from
the sale it undoes when Patron has it (``orders.returns.find_sale_for_return``, or the order
an original-order column names), and is kept as a return without a known sale otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from patron.catalog import service as catalog
from patron.core.errors import PatronError
from patron.core.money import milli_to_quantity
from patron.customers import service as customers
from patron.customers.schemas import CustomerRef
from patron.imports.messages import SEVERITY_WARNING, Note
from patron.imports.orders import (
    OrderWriter,
    _Head,
    _OrderLevelFlaw,
    _Outcome,
)
from patron.imports.staging import (
    ACCEPTED,
    DUPLICATE,
    REJECTED,
    RETURN,
)
from patron.orders import returns
from patron.orders import service as orders
from patron.orders.schemas import RefundIn, ReturnLineIn


def write_returns(self: OrderWriter, session: Session, groups: list[list[Any]]) -> _Outcome:
    """One batch of return groups (each a return order's lines), oldest first."""
    outcome = _Outcome()
    ready: list[tuple[list[Any], _Head, CustomerRef | None]] = []
    for rows in groups:
        return_rows = [r for r in rows if r["kind"] == RETURN and r["status"] != REJECTED]
        if not return_rows:
            continue
        try:
            head = self._head(session, rows)
            customer = self._customer(head.person)
        except _OrderLevelFlaw as flaw:
            self._flaw(return_rows, flaw, outcome)
            continue
        ready.append((return_rows, head, customer))
    if not ready:
        return outcome
    resolution = customers.resolve_customers(
        session=session,
        refs=[customer for _rows, _head, customer in ready],
        contexts=[
            customers.ResolveContext(
                source=self.source,
                label=f"return {self.source}/{rows[0]['key']}",
                at=head.at,
                channel=catalog.channel_for_store_kind(head.shop.kind),
                store_id=head.shop.id,
            )
            for rows, head, _customer in ready
        ],
    )
    done = returns.keys_in_use(
        session=session, source=self.source, external_ids=[rows[0]["key"] for rows, *_ in ready]
    )
    for (rows, head, _customer), customer_id in zip(ready, resolution.customer_ids, strict=True):
        written: list[str] = []
        try:
            with session.begin_nested():
                status = _return_group(
                    self, session, rows, head, customer_id, outcome, done, written
                )
            done.update(written)
        except (PatronError, ValidationError) as exc:
            problem = exc.message if isinstance(exc, PatronError) else str(exc)
            for row in rows:
                outcome.set(row, REJECTED)
                outcome.notes.append(
                    Note(row["row"], "return_invalid", self.cols.header("order_id"),
                         row["key"], facts={"problem": problem})
                )  # fmt: skip
            continue
        for row in rows:
            outcome.set(row, status, anon=0 if customer_id else 1)
    return outcome


def _return_group(
    self: OrderWriter,
    session: Session,
    rows: list[Any],
    head: _Head,
    customer_id: int | None,
    outcome: _Outcome,
    done: set[str],
    written: list[str],
) -> str:
    """One return group written; ``done``: the keys a refund or a return holds already,
    ``written`` receives the keys this group takes."""
    key = rows[0]["key"]
    if key in done:
        return DUPLICATE
    taken = returns.Taken()
    planned: dict[int, list[dict[str, Any]]] = defaultdict(list)
    unmatched: list[ReturnLineIn] = []
    original = None
    if head.original:
        original = orders.get_order_by_key(
            session=session, source=self.source, external_id=head.original
        )
    for n, row in enumerate(rows, start=1):
        target = None
        if head.original:
            target = _in_original(self, session, original, customer_id, row, head, taken)
            if target is None:
                code = (
                    "return_other_customer"
                    if original is not None and original.customer_id != customer_id
                    else "return_unmatched_original"
                )
                outcome.notes.append(
                    Note(row["row"], code, self.cols.header("original_order_id"),
                         head.original, severity=SEVERITY_WARNING)
                )  # fmt: skip
        else:
            target = returns.find_sale_for_return(
                session=session,
                customer_id=customer_id,
                sku=row["sku"],
                quantity_milli=row["qty"],
                amount_fen=row["amount"],
                at=head.at,
                taken=taken,
            )
        if target is not None:
            taken.add(target.line_id, row["qty"], row["amount"])
            planned[target.order_id].append(
                {
                    "line_no": target.line_no,
                    "quantity": milli_to_quantity(row["qty"]),
                    "amount_fen": row["amount"],
                }
            )
            continue
        unmatched.append(
            ReturnLineIn.model_validate(
                {
                    "source": self.source,
                    "external_id": key,
                    "line_no": n,
                    "store_code": head.shop.code,
                    "channel": head.channel,
                    "customer_id": customer_id,
                    "returned_at": head.at,
                    "sku": row["sku"],
                    "name": row["name"],
                    "quantity": milli_to_quantity(row["qty"]),
                    "amount_fen": row["amount"],
                    "reason": (head.reason or key)[:255],
                }
            )
        )
    for k, (order_id, lines) in enumerate(planned.items(), start=1):
        refund_in = RefundIn.model_validate(
            {
                "source": self.source,
                "external_id": key if k == 1 else f"{key}/{k}",
                "order_id": order_id,
                "refunded_at": head.at,
                "reason": (head.reason or key)[:255],
                "store_code": head.shop.code,
                "lines": _merge_lines(lines),
            }
        )
        orders.record_refund(session=session, refund_in=refund_in, import_run_id=self.run_id)
        written.append(refund_in.external_id)
    if unmatched:
        returns.record_returns(session=session, returns_in=unmatched, import_run_id=self.run_id)
        written.append(key)
    return ACCEPTED


def _in_original(
    self: OrderWriter,
    session: Session,
    original: Any,
    customer_id: int | None,
    row: Any,
    head: _Head,
    taken: returns.Taken,
) -> returns.SaleLine | None:
    """The line of the order an original-order column names, if it is this customer's
    (or both are anonymous), no later than the return, with enough left."""
    if original is None or original.ordered_at > head.at:
        return None
    if customer_id is not None:
        owner = customers.active_customer_id(session=session, customer_id=customer_id)
        if original.customer_id != owner:
            return None
    elif original.customer_id is not None:
        return None
    line_ids = orders.line_ids(session=session, order_id=original.id)
    for line in original.lines:
        if line.sku != row["sku"]:
            continue
        line_id = line_ids[line.line_no]
        qty_claimed, amount_claimed = taken.by_line.get(line_id, (0, 0))
        qty_left = int(line.quantity * 1000) - int(line.refunded_quantity * 1000) - qty_claimed
        paid = line.amount_fen  # as a refund reckons it, less any order discount share
        amount_left = paid - line.refunded_fen - amount_claimed
        if qty_left >= row["qty"] and amount_left >= row["amount"]:
            return returns.SaleLine(original.id, line.line_no, line_id)
    return None


def _merge_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Refund lines of one return against one order: repeated sale lines added together."""
    merged: dict[int, dict[str, Any]] = {}
    for line in lines:
        found = merged.get(line["line_no"])
        if found is None:
            merged[line["line_no"]] = dict(line)
        else:
            found["quantity"] += line["quantity"]
            found["amount_fen"] += line["amount_fen"]
    return list(merged.values())
