"""Money through tickets: a return refunds through the orders service with loyalty
following (points and coupons), once; an exchange is that refund plus a new order; a repair
keeps its RMA number and warranty from the purchase and the product's months."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from patron.catalog import service as catalog
from patron.catalog.schemas import ProductIn
from patron.core.db import Database
from patron.loyalty.coupons import get_coupon
from patron.loyalty.points import get_balance
from patron.orders import service as orders
from patron.orders.schemas import OrderLineIn
from patron.support.exceptions import TicketRefused
from patron.support.tickets import money
from patron.support.tickets.schemas import RepairIn
from tests.helpers import ACTOR
from tests.loyalty.helpers import TUESDAY, adjust, give_coupon, member, sale, template
from tests.support.helpers import open_ticket

LATER = TUESDAY + timedelta(days=1)


def _approve(db: Database, ticket_id: int) -> money.ReturnRead:
    return db.write(
        lambda s: money.approve_return(session=s, ticket_id=ticket_id, actor=ACTOR, now=LATER)
    )


def test_an_approved_return_refunds_the_order_and_loyalty_follows_once(db: Database) -> None:
    me = member(db)
    adjust(db, me, 1_000)
    before = db.read(lambda s: get_balance(session=s, customer_id=me, now=LATER)).available
    tpl = template(db, code="MJ", kind="amount_off", threshold_fen=10_000, amount_off_fen=2_000)
    coupon = give_coupon(db, tpl, me)
    lines = [{"sku": "SKU-1", "quantity": 1, "unit_price_fen": 12_000}]
    sale(db, me, key="RET", lines=lines, coupon_codes=[coupon.code], redeem_points=500,
         order_discount_fen=2_500)  # fmt: skip
    order = db.read(lambda s: orders.get_order_by_key(session=s, source="pos-test",
                                                      external_id="RET"))  # fmt: skip
    assert order is not None
    ticket = open_ticket(db, ticket_type="return", customer={"id": me}, order_id=order.id)
    first = _approve(db, ticket.id)
    assert first.created and first.refund.amount_fen == order.total_fen == 9_500
    again = _approve(db, ticket.id)
    assert not again.created and again.refund.id == first.refund.id
    after = db.read(lambda s: get_balance(session=s, customer_id=me, now=LATER)).available
    assert after == before  # the 500 spent came back, the points earned went
    restored = db.read(lambda s: get_coupon(session=s, code=coupon.code))
    assert restored is not None and restored.status == "issued"
    refunded = db.read(lambda s: orders.get_order(session=s, order_id=order.id))
    assert refunded is not None and refunded.refunded_fen == 9_500


def test_a_return_of_one_line_refunds_that_line_alone(db: Database) -> None:
    me = member(db)
    lines = [
        {"sku": "A", "quantity": 2, "unit_price_fen": 3_000},
        {"sku": "B", "quantity": 1, "unit_price_fen": 4_000},
    ]
    sale(db, me, key="TWO", lines=lines)
    order = db.read(lambda s: orders.get_order_by_key(session=s, source="pos-test",
                                                      external_id="TWO"))  # fmt: skip
    assert order is not None
    ticket = open_ticket(db, ticket_type="return", customer={"id": me}, order_id=order.id,
                         lines=[{"line_no": 1, "quantity": 1}])  # fmt: skip
    assert _approve(db, ticket.id).refund.amount_fen == 3_000


def test_a_return_of_some_lines_takes_back_a_sku_coupon_on_those_lines_only(
    db: Database,
) -> None:
    """¥30 off the tea only (B, 2 × ¥40), on an order with rice (A, ¥100): a return of one
    tea gives back ¥40 less half the coupon, ¥25; the rice comes back whole."""
    db.write(lambda s: catalog.upsert_products(session=s, products_in=[
        ProductIn.model_validate({"sku": sku, "name": sku, "category_path": path})
        for sku, path in (("A", "food"), ("B", "drinks/tea"))
    ]))  # fmt: skip
    me = member(db)
    tpl = template(db, code="TEA-30", kind="amount_off", amount_off_fen=3_000,
                   scope={"skus": ["B"]})  # fmt: skip
    coupon = give_coupon(db, tpl, me)
    lines = [
        {"sku": "A", "quantity": 1, "unit_price_fen": 10_000},
        {"sku": "B", "quantity": 2, "unit_price_fen": 4_000},
    ]
    sale(db, me, key="TEA", lines=lines, coupon_codes=[coupon.code], order_discount_fen=3_000)
    order = db.read(lambda s: orders.get_order_by_key(session=s, source="pos-test",
                                                      external_id="TEA"))  # fmt: skip
    assert order is not None
    tea = open_ticket(db, ticket_type="return", customer={"id": me}, order_id=order.id,
                      lines=[{"line_no": 2, "quantity": 1}])  # fmt: skip
    assert _approve(db, tea.id).refund.amount_fen == 2_500
    rice = open_ticket(db, ticket_type="return", customer={"id": me}, order_id=order.id,
                       lines=[{"line_no": 1, "quantity": 1}])  # fmt: skip
    assert _approve(db, rice.id).refund.amount_fen == 10_000


def test_a_complaint_cannot_refund(db: Database) -> None:
    me = member(db)
    sale(db, me, key="C1")
    order = db.read(lambda s: orders.get_order_by_key(session=s, source="pos-test",
                                                      external_id="C1"))  # fmt: skip
    assert order is not None
    ticket = open_ticket(db, customer={"id": me}, order_id=order.id)
    with pytest.raises(TicketRefused) as refused:
        _approve(db, ticket.id)
    assert refused.value.message_code == "ticket_not_for_that"
    no_order = open_ticket(db, ticket_type="return", customer={"id": me})
    with pytest.raises(TicketRefused) as refused:
        _approve(db, no_order.id)
    assert refused.value.message_code == "ticket_needs_order"


def test_an_exchange_is_a_refund_and_a_new_order_once(db: Database) -> None:
    me = member(db)
    sale(db, me, key="EX", lines=[{"sku": "SHOE-39", "quantity": 1, "unit_price_fen": 30_000}])
    order = db.read(lambda s: orders.get_order_by_key(session=s, source="pos-test",
                                                      external_id="EX"))  # fmt: skip
    assert order is not None
    ticket = open_ticket(db, ticket_type="exchange", customer={"id": me}, order_id=order.id)
    out = [OrderLineIn(sku="SHOE-40", quantity=1, unit_price_fen=30_000)]

    def swap() -> money.ExchangeRead:
        return db.write(
            lambda s: money.exchange(
                session=s, ticket_id=ticket.id, lines=out, actor=ACTOR, now=LATER
            )
        )

    first = swap()
    assert first.created and first.refund.amount_fen == 30_000
    assert first.order_total_fen == 30_000
    again = swap()
    assert not again.created and again.order_id == first.order_id
    new = db.read(lambda s: orders.get_order(session=s, order_id=first.order_id))
    assert new is not None and new.customer_id == me and new.lines[0].sku == "SHOE-40"


def test_a_repair_takes_its_warranty_from_the_purchase_and_the_product(db: Database) -> None:
    product = ProductIn(sku="KETTLE", name="电水壶", warranty_months=12)
    db.write(lambda s: catalog.upsert_products(session=s, products_in=[product]))
    me = member(db)
    sale(db, me, key="K1", lines=[{"sku": "KETTLE", "quantity": 1, "unit_price_fen": 19_900}])
    order = db.read(lambda s: orders.get_order_by_key(session=s, source="pos-test",
                                                      external_id="K1"))  # fmt: skip
    assert order is not None
    ticket = open_ticket(db, ticket_type="repair", customer={"id": me}, order_id=order.id)
    repair_in = RepairIn(rma_number="RMA-0001", supplier="美的售后", diagnosis="温控器故障")
    repair = db.write(
        lambda s: money.update_repair(
            session=s, ticket_id=ticket.id, repair_in=repair_in, actor=ACTOR, now=LATER
        )
    )
    assert (repair.sku, repair.purchased_on) == ("KETTLE", date(2026, 3, 3))
    assert repair.warranty_ends_on == date(2027, 3, 3) and repair.in_warranty
    priced = db.write(
        lambda s: money.update_repair(
            session=s, ticket_id=ticket.id, repair_in=RepairIn(cost_fen=5_000), actor=ACTOR,
            now=LATER,
        )
    )  # fmt: skip
    assert priced.cost_fen == 5_000 and priced.rma_number == "RMA-0001"


def test_months_are_added_to_the_last_day_of_a_short_month() -> None:
    assert money.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert money.add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert money.add_months(date(2026, 11, 15), 14) == date(2028, 1, 15)
