"""A batch of orders (orders/batch.py) is stored as the same orders posted one at a time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from patron import events
from patron.core.db import Database
from patron.orders import service as orders
from patron.orders.schemas import OrderIn, OrderRead
from tests.helpers import T0, order_in

LINES = [
    {"sku": "APPLE", "name": "苹果", "quantity": "1.500", "unit_price_fen": 1299},
    {"sku": "MILK", "quantity": 3, "unit_price_fen": 650, "discount_fen": 150},
]


def _variety(source: str) -> list[OrderIn]:
    """Orders with and without each optional field, under keys of ``source``."""
    return [
        order_in("A", source=source, customer={"phone": "13800000001"}, payment_method="alipay"),
        order_in(
            "B",
            source=source,
            lines=LINES,
            order_discount_fen=49,
            at=T0 + timedelta(hours=1),
            country="中国",
            city="上海",
            cashier="小王",
        ),
        order_in("C", source=source, customer={"phone": "13800000002", "name": "李雷"}),
        order_in("D", source=source, customer={"phone": "13800000001"}, channel="online"),
    ]


def _stored(db: Database, order_id: int) -> OrderRead:
    return db.read(lambda s: orders.get_order_or_raise(session=s, order_id=order_id))


def _same_content(order: OrderRead) -> dict[str, Any]:
    return order.model_dump(exclude={"id", "source", "created_at"})


def _order_events(db: Database) -> dict[tuple[str, str], Any]:
    records = db.read(lambda s: events.read_after(s, 0, types=["order.created"]))
    return {(r.properties["source"], r.properties["external_id"]): r for r in records}


def test_a_batch_stores_each_order_as_a_single_post_stores_it(db: Database) -> None:
    singles = [
        db.write(lambda s, o=o: orders.record_order(session=s, order_in=o)).order
        for o in _variety("pos-single")
    ]
    outcomes = db.write(lambda s: orders.record_orders(session=s, orders_in=_variety("pos-batch")))
    assert [o.status for o in outcomes] == ["created"] * len(singles)
    batch = [_stored(db, o.order_id) for o in outcomes if o.order_id is not None]
    assert [_same_content(o) for o in batch] == [_same_content(o) for o in singles]
    assert [o.customer_id for o in outcomes] == [o.customer_id for o in singles]
    assert batch[1].country == "中国" and batch[1].lines[0].name == "苹果"
    assert batch[1].lines[1].name is None and batch[0].payment_method == "alipay"

    published = _order_events(db)
    for single, stored in zip(singles, batch, strict=True):
        one, other = (
            published[("pos-single", single.external_id)],
            published[("pos-batch", stored.external_id)],
        )
        assert other.event_id == f"order.created:{stored.id}"
        assert other.properties["order_id"] == stored.id
        assert list(other.properties) == list(one.properties)
        assert {k: v for k, v in other.properties.items() if k not in ("order_id", "source")} == {
            k: v for k, v in one.properties.items() if k not in ("order_id", "source")
        }
        assert (other.customer_id, other.store_id, other.occurred_at) == (
            one.customer_id,
            one.store_id,
            one.occurred_at,
        )


def test_a_batch_whose_orders_all_leave_a_field_out_stores_it_empty(db: Database) -> None:
    plain = [order_in(f"P{n}", lines=[{"sku": "S", "quantity": 2, "unit_price_fen": 5}])
             for n in range(3)]  # fmt: skip
    outcomes = db.write(lambda s: orders.record_orders(session=s, orders_in=plain))
    for outcome in outcomes:
        assert outcome.status == "created" and outcome.customer_id is None
        assert outcome.order_id is not None
        stored = _stored(db, outcome.order_id)
        assert (stored.customer_id, stored.payment_method, stored.country, stored.cashier) == (
            None,
            None,
            None,
            None,
        )
        assert [(line.sku, line.name, line.amount_fen) for line in stored.lines] == [
            ("S", None, 10)
        ]
        assert stored.total_fen == 10 and stored.channel == "pos"


def test_a_batch_repeated_is_duplicates_of_its_first_orders(db: Database) -> None:
    first = db.write(lambda s: orders.record_orders(session=s, orders_in=_variety("pos-batch")))
    again = db.write(lambda s: orders.record_orders(session=s, orders_in=_variety("pos-batch")))
    assert [o.status for o in again] == ["duplicate"] * len(first)
    assert [o.order_id for o in again] == [o.order_id for o in first]


def test_a_batch_hashes_each_order_as_a_single_post_hashes_it() -> None:
    """request_hashes splices shared customers and lines into each order's JSON: the digests
    are request_hash's, whatever the values (quotes, commas and keys inside strings, every
    optional field set or not, objects shared between orders)."""
    from patron.orders.intake import request_hash, request_hashes

    tricky = ',"payment_method":1,"total_fen":2,"lines":[] "\\ \n 订单'
    orders_in = [
        *_variety("pos-hash"),
        order_in(tricky[:128], source="pos-hash", customer={"phone": "13800000003", "name": "x"}),
        order_in(
            "E",
            source="pos-hash",
            total_fen=1000,
            payment_method="cash",
            store_code="S,1",
            province=tricky[:60],
            customer={"email": "a@b.cn", "city": '"上海"', "wechat_openid": "o1"},
        ),
        order_in(
            "F",
            source="pos-hash",
            total_fen=0,
            lines=[{"sku": "Z", "quantity": 1, "unit_price_fen": 0}],
            cashier="c",
        ),
    ]
    # Shared objects, as an import's orders hold them.
    shared = orders_in[0].model_copy(update={"external_id": "G", "lines": orders_in[1].lines})
    orders_in.append(shared)
    orders_in.append(orders_in[2].model_copy(update={"external_id": "H"}))

    assert request_hashes(orders_in) == [request_hash(o) for o in orders_in]
    assert request_hashes([]) == []
    kept: dict[int, Any] = {}  # kept from batch to batch, as an import keeps them
    assert request_hashes(orders_in[:4], kept) == [request_hash(o) for o in orders_in[:4]]
    assert request_hashes(orders_in, kept) == [request_hash(o) for o in orders_in]
