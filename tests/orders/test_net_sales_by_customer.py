"""Net sales per customer over a window (a campaign's conversions): orders placed in the
window, less what was refunded of them by its end."""

from __future__ import annotations

from datetime import timedelta

from patron.core.db import Database
from patron.orders import service as orders
from patron.orders.sales import net_sales_by_customer
from patron.orders.schemas import RefundIn
from tests.helpers import T0, post_order, sign_up


def test_a_refunded_order_nets_to_nothing_and_orders_outside_the_window_are_left_out(
    db: Database,
) -> None:
    buyer = sign_up(db, phone="13800000011")
    refunder = sign_up(db, phone="13800000012")
    late = sign_up(db, phone="13800000013")
    post_order(db, "B1", customer={"id": buyer}, at=T0 + timedelta(days=1))
    post_order(db, "R1", customer={"id": refunder}, at=T0 + timedelta(days=1))
    post_order(db, "L1", customer={"id": late}, at=T0 + timedelta(days=20))
    refund = RefundIn.model_validate(
        {
            "source": "pos-test",
            "external_id": "RF1",
            "order_source": "pos-test",
            "order_external_id": "R1",
            "refunded_at": T0 + timedelta(days=2),
        }
    )
    db.write(lambda s: orders.record_refund(session=s, refund_in=refund))

    found = db.read(
        lambda s: net_sales_by_customer(session=s, start_at=T0, end_at=T0 + timedelta(days=14))
    )

    assert found[buyer] > 0
    assert found[refunder] == 0
    assert late not in found
