"""A small shop for the audience tests, built through the services, with every fact an
audience reads known by hand:

| who   | gender | born       | city | home | tags         | orders (days after T0, store, net fen)          | points | tier   |
|-------|--------|------------|------|------|--------------|--------------------------------------------------|--------|--------|
| alice | female | 1990-06-15 | 上海 | SH01 | vip          | d5 SH01 TV 250000 (loyalty); d40 SH01 APPLE 3000 | 2500   | silver |
| bob   | male   | 2000-06-15 | 北京 | BJ01 | vip, student | d10 BJ01 APPLE 1500, 500 refunded               | 300    | member |
| carol | —      | —          | —    | —    | —            | d50 BJ01 TISSUE 800                              | —      | —      |
| dave  | other  | 1950-01-01 | 上海 | SH01 | —            | —                                                | —      | —      |

Sign-ups: alice T0-100 d, bob T0-10 d, carol T0+45 d, dave T0+55 d. The audiences are
evaluated at NOW = T0+60 d (2026-04-30 in Shanghai). The analytics run describes that day.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from patron import analytics, audiences
from patron.audiences import service
from patron.audiences.schemas import AudienceCreate, Definition
from patron.catalog import service as catalog
from patron.catalog.schemas import ProductIn, StoreCreate
from patron.core.db import Database
from patron.loyalty import AdjustmentIn, adjust_points
from patron.orders import service as orders
from patron.orders.schemas import RefundIn
from tests.helpers import ACTOR, T0, post_order, sign_up
from tests.loyalty.helpers import commit

NOW = T0 + timedelta(days=60)
AS_OF = date(2026, 4, 30)


@dataclass
class Shop:
    sh01: int
    bj01: int
    alice: int
    bob: int
    carol: int
    dave: int

    def names(self, ids: list[int]) -> list[str]:
        by_id = {self.alice: "alice", self.bob: "bob", self.carol: "carol", self.dave: "dave"}
        return [by_id.get(i, str(i)) for i in ids]


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def build_shop(db: Database, *, analytics_run: bool = True) -> Shop:
    sh01 = db.write(
        lambda s: catalog.create_store(
            session=s, store_in=StoreCreate(code="SH01", name="上海一店", city="上海")
        )
    ).id
    bj01 = db.write(
        lambda s: catalog.create_store(
            session=s, store_in=StoreCreate(code="BJ01", name="北京一店", city="北京")
        )
    ).id
    db.write(
        lambda s: catalog.upsert_products(
            session=s,
            products_in=[
                ProductIn(sku="APPLE", name="苹果", category_path="生鲜/水果"),
                ProductIn(sku="TISSUE", name="纸巾", category_path="日用/纸品"),
                ProductIn(sku="TV", name="电视", category_path="电器/电视"),
            ],
        )
    )
    alice = sign_up(
        db,
        phone="13800000001",
        name="张丽",
        gender="female",
        birthday="1990-06-15",
        city="上海",
        home_store_code="SH01",
        tags=["vip"],
        signed_up_at=day(-100),
    )
    bob = sign_up(
        db,
        phone="13800000002",
        name="李强",
        gender="male",
        birthday="2000-06-15",
        city="北京",
        home_store_code="BJ01",
        tags=["vip", "student"],
        signed_up_at=day(-10),
    )
    carol = sign_up(db, phone="13800000003", signed_up_at=day(45))
    dave = sign_up(
        db,
        phone="13800000004",
        gender="other",
        birthday="1950-01-01",
        city="上海",
        home_store_code="SH01",
        signed_up_at=day(55),
    )
    post_order(
        db,
        "A1",
        customer={"id": alice},
        store_code="SH01",
        lines=[{"sku": "TV", "quantity": 1, "unit_price_fen": 250_000}],
        at=day(5),
    )
    commit(db, "A1", now=day(5))  # 2500 points; silver (spend over 2,000 yuan)
    post_order(
        db,
        "A2",
        customer={"id": alice},
        store_code="SH01",
        lines=[{"sku": "APPLE", "quantity": 2, "unit_price_fen": 1500}],
        at=day(40),
    )
    post_order(
        db,
        "B1",
        customer={"id": bob},
        store_code="BJ01",
        lines=[{"sku": "APPLE", "quantity": 1, "unit_price_fen": 1500}],
        at=day(10),
    )
    refund_in = RefundIn.model_validate(
        {
            "source": "pos-test",
            "external_id": "RB1",
            "order_external_id": "B1",
            "refunded_at": day(11),
            "lines": [{"line_no": 1, "quantity": 0, "amount_fen": 500}],
        }
    )
    db.write(lambda s: orders.record_refund(session=s, refund_in=refund_in))
    db.write(
        lambda s: adjust_points(
            session=s,
            customer_id=bob,
            adjustment_in=AdjustmentIn(points=300, reason="goodwill", staff="tests"),
            actor=ACTOR,
            now=day(12),
        )
    )
    post_order(
        db,
        "C1",
        customer={"id": carol},
        store_code="BJ01",
        lines=[{"sku": "TISSUE", "quantity": 1, "unit_price_fen": 800}],
        at=day(50),
    )
    if analytics_run:
        analytics.run_analytics(db=db, as_of=AS_OF)
    audiences.refresh_audience_store(db=db)
    return Shop(sh01=sh01, bj01=bj01, alice=alice, bob=bob, carol=carol, dave=dave)


_names = itertools.count(1)


def members(
    db: Database, definition: dict[str, Any], *, store_ids: frozenset[int] | None = None
) -> list[int]:
    """The members at NOW of ``definition``, saved as an audience (and deleted again)."""
    parsed = Definition.model_validate(definition)
    audience_in = AudienceCreate(name=f"audience {next(_names)}", definition=parsed)
    saved = db.write(
        lambda s: service.create_audience(session=s, audience_in=audience_in, actor=ACTOR)
    )
    ids = db.read(
        lambda s: audiences.member_ids(
            session=s, audience_id=saved.id, now=NOW, store_ids=store_ids
        )
    )
    db.write(lambda s: service.delete_audience(session=s, audience_id=saved.id, actor=ACTOR))
    return ids
