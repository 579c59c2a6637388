"""A small chain for the pipeline tests, built through the services: two stores in two time
zones, two products, three members and an anonymous sale."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from patron.analytics import store as analytics_store
from patron.analytics.extract import ExtractResult, extract
from patron.catalog import service as catalog
from patron.catalog.schemas import ProductIn, StoreCreate
from patron.core.db import Database
from patron.orders import service as orders
from patron.orders.schemas import RefundIn
from tests.helpers import ACTOR, post_order, sign_up

# 17:30 UTC on 1 March: 2 March in Shanghai, still 1 March in London (GMT until 29 March).
LATE_EVENING = datetime(2026, 3, 1, 17, 30, tzinfo=UTC)
LONDON_NIGHT = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
LINES = [
    {"sku": "APPLE", "quantity": 2, "unit_price_fen": 1500},
    {"sku": "TISSUE", "quantity": 1, "unit_price_fen": 800},
]


@dataclass
class Chain:
    shanghai: int
    london: int
    alice: int
    bob: int
    carol: int
    orders: dict[str, int]


def build_chain(db: Database) -> Chain:
    sh = db.write(
        lambda s: catalog.create_store(
            session=s, store_in=StoreCreate(code="SH01", name="上海一店", city="上海")
        )
    )
    ldn = db.write(
        lambda s: catalog.create_store(
            session=s,
            store_in=StoreCreate(
                code="LDN", name="London", city="London", timezone="Europe/London"
            ),
        )
    )
    db.write(
        lambda s: catalog.upsert_products(
            session=s,
            products_in=[
                ProductIn(sku="APPLE", name="苹果", category_path="生鲜/水果/苹果"),
                ProductIn(sku="TISSUE", name="纸巾", category_path="日用/纸品"),
            ],
        )
    )
    alice = sign_up(
        db,
        name="张三丰",
        phone="13800138001",
        home_store_code="SH01",
        signed_up_at=datetime(2026, 1, 1, 16, 30, tzinfo=UTC),
    )
    bob = sign_up(db, phone="13800138002", home_store_code="LDN")
    carol = sign_up(db, member_card="M000123")
    ids = {
        "alice_1": post_order(
            db, "A1", customer={"id": alice}, store_code="SH01", at=LATE_EVENING, lines=LINES
        ).order.id,
        "bob_1": post_order(
            db, "B1", customer={"id": bob}, store_code="LDN", at=LONDON_NIGHT
        ).order.id,
        "carol_1": post_order(
            db,
            "C1",
            customer={"id": carol},
            store_code="SH01",
            at=LATE_EVENING,
            lines=[{"sku": "NO-SUCH-SKU", "quantity": 1, "unit_price_fen": 500}],
        ).order.id,
        "walk_in": post_order(db, "W1", store_code="SH01", at=LATE_EVENING).order.id,
    }
    return Chain(shanghai=sh.id, london=ldn.id, alice=alice, bob=bob, carol=carol, orders=ids)


def refund(db: Database, external_id: str, order_id: int, **fields: Any) -> None:
    refund_in = RefundIn.model_validate(
        {
            "source": "pos-test",
            "external_id": external_id,
            "order_id": order_id,
            "refunded_at": datetime(2026, 3, 5, 2, 0, tzinfo=UTC),
            **fields,
        }
    )
    db.write(lambda s: orders.record_refund(session=s, refund_in=refund_in))


def run_extract(db: Database, path: Path, *, full: bool = False) -> ExtractResult:
    with analytics_store.connect(path) as duck:
        return extract(db=db, duck=duck, timezone="Asia/Shanghai", full=full)


def query(path: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with analytics_store.connect(path) as duck:
        rows: list[tuple[Any, ...]] = duck.execute(sql, params or []).fetchall()
        return rows


__all__ = ["ACTOR", "Chain", "build_chain", "query", "refund", "run_extract"]
