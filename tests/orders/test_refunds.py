"""Refunds through the service: what is left on each line bounds what can go back."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.orders import returns
from patron.orders import service as orders
from patron.orders.exceptions import IdempotencyConflict, RefundTooLarge, UnknownOrder
from patron.orders.schemas import RefundIn
from tests.helpers import T0, post_order

LINES = [
    {"sku": "APPLE", "quantity": "1.500", "unit_price_fen": 1299},  # 1948.5 → 1949
    {"sku": "MILK", "quantity": 3, "unit_price_fen": 650, "discount_fen": 150},  # 1800
]


def _refund(db: Database, external_id: str, **fields: object):  # type: ignore[no-untyped-def]
    model = RefundIn.model_validate(
        {
            "source": "pos-test",
            "external_id": external_id,
            "order_external_id": "O1",
            "refunded_at": T0 + timedelta(days=1),
            **fields,
        }
    )
    return db.write(lambda s: orders.record_refund(session=s, refund_in=model))


def test_order_totals_are_the_rounded_lines_less_the_order_discount(db: Database) -> None:
    order = post_order(db, "O1", lines=LINES, order_discount_fen=49).order
    assert [line.amount_fen for line in order.lines] == [1949, 1800]
    assert order.gross_fen == 1949 + 1950
    assert order.discount_fen == 150 + 49
    assert order.total_fen == 1949 + 1800 - 49


def test_a_full_refund_returns_exactly_what_was_paid(db: Database) -> None:
    order = post_order(db, "O1", lines=LINES, order_discount_fen=49).order
    refund = _refund(db, "R1").refund
    assert refund.amount_fen == order.total_fen
    after = db.read(lambda s: orders.get_order_or_raise(session=s, order_id=order.id))
    assert after.refunded_fen == order.total_fen
    assert [line.refunded_quantity for line in after.lines] == [Decimal("1.5"), Decimal(3)]


def test_partial_refunds_are_pro_rata_and_never_exceed_the_line(db: Database) -> None:
    post_order(db, "O1", lines=LINES)
    one = _refund(db, "R1", lines=[{"line_no": 2, "quantity": 1}]).refund
    assert one.amount_fen == 600  # a third of 1800
    two = _refund(db, "R2", lines=[{"line_no": 2, "quantity": 2}]).refund
    assert two.amount_fen == 1200  # the rest, exactly
    with pytest.raises(RefundTooLarge) as info:
        _refund(db, "R3", lines=[{"line_no": 2, "quantity": 1}])
    assert info.value.field == "lines.0.quantity"


def test_an_amount_only_refund_is_bounded_by_what_is_left(db: Database) -> None:
    post_order(db, "O1", lines=LINES)
    _refund(db, "R1", lines=[{"line_no": 1, "quantity": "0.5", "amount_fen": 600}])
    with pytest.raises(RefundTooLarge) as info:
        _refund(db, "R2", lines=[{"line_no": 1, "quantity": "1", "amount_fen": 1400}])
    assert info.value.field == "lines.0.amount_fen"


def test_a_second_full_refund_is_refused(db: Database) -> None:
    post_order(db, "O1", lines=LINES)
    _refund(db, "R1")
    with pytest.raises(RefundTooLarge, match="already fully refunded"):
        _refund(db, "R2")


def test_refunds_are_idempotent_on_their_key(db: Database) -> None:
    post_order(db, "O1", lines=LINES)
    first = _refund(db, "R1", lines=[{"line_no": 1}])
    again = _refund(db, "R1", lines=[{"line_no": 1}])
    assert first.created and not again.created and first.refund.id == again.refund.id
    with pytest.raises(IdempotencyConflict):
        _refund(db, "R1", lines=[{"line_no": 2}])


def test_refund_of_an_unknown_order_or_line_names_the_field(db: Database) -> None:
    post_order(db, "O1", lines=LINES)
    with pytest.raises(UnknownOrder) as info:
        _refund(db, "R1", order_external_id="NOPE")
    assert info.value.field == "order_external_id"
    with pytest.raises(InvalidInput) as info2:
        _refund(db, "R2", lines=[{"line_no": 9}])
    assert info2.value.field == "lines.0.line_no"


def test_a_refund_before_the_sale_is_refused(db: Database) -> None:
    post_order(db, "O1", lines=LINES)
    with pytest.raises(InvalidInput) as info:
        _refund(db, "R1", refunded_at=T0 - timedelta(hours=1))
    assert info.value.field == "refunded_at"


def test_a_return_finds_the_latest_sale_with_enough_left(db: Database) -> None:
    customer = {"phone": "13800138000"}
    post_order(
        db, "O1", customer=customer, lines=[{"sku": "TOY", "quantity": 2, "unit_price_fen": 100}]
    )
    post_order(
        db,
        "O2",
        customer=customer,
        at=T0 + timedelta(days=2),
        lines=[{"sku": "TOY", "quantity": 1, "unit_price_fen": 100}],
    )
    o1 = db.read(lambda s: orders.get_order_by_key(session=s, source="pos-test", external_id="O1"))
    assert o1 is not None and o1.customer_id is not None
    owner = o1.customer_id
    when = T0 + timedelta(days=5)

    def find(
        quantity: int, amount: int, at: datetime = when, customer_id: int | None = owner
    ) -> returns.SaleLine | None:
        return db.read(
            lambda s: returns.find_sale_for_return(
                session=s,
                customer_id=customer_id,
                sku="TOY",
                quantity_milli=quantity * 1000,
                amount_fen=amount,
                at=at,
            )
        )

    found = find(2, 200)
    assert found is not None and (found.order_id, found.line_no) == (o1.id, 1)
    assert find(5, 500) is None  # no sale has that many left
    assert find(1, 150) is not None and find(2, 250) is None  # nor that much money
    assert find(1, 100, at=T0 - timedelta(days=1)) is None  # never a sale made after it
    assert find(1, 100, customer_id=None) is None  # an anonymous return is nobody's
