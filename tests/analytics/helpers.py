"""Shared helpers of the analytics tests: a small shop whose nightly run mines basket rules,
recommends to members and forecasts sales, for the serving API and the console pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from patron.analytics import service as analytics
from patron.catalog import service as catalog
from patron.catalog.schemas import ProductIn, StoreCreate
from patron.core.db import Database
from tests.helpers import post_order, sign_up

BASKET_START = datetime(2025, 6, 1, 3, tzinfo=UTC)
BASKET_AS_OF = date(2025, 9, 30)
PRODUCTS = {
    "MILK": ("鲜牛奶", "食品/乳品"),
    "BREAD": ("全麦面包", "食品/烘焙"),
    "JAM": ("草莓果酱", "食品/烘焙"),
    "TEA": ("绿茶", "食品/饮料"),
}
# One top-level category: each store is one sales series to forecast (a fast run).


@dataclass(frozen=True)
class BasketShop:
    """Stores A01 and B01; twelve members (even ones at A01, odd ones at B01) buying every
    third day from June to September 2025: milk always, bread and jam together on even
    days; member 0 buys only tea after day 100. One analytics run on 30 September 2025."""

    db: Database
    members: list[int]
    home: dict[int, str]
    run_id: int


def _line(sku: str, price: int = 500) -> dict[str, object]:
    return {"sku": sku, "quantity": 1, "unit_price_fen": price}


def build_basket_shop(db: Database) -> BasketShop:
    for code, name in (("A01", "一店"), ("B01", "二店")):
        db.write(
            lambda s, c=code, n=name: catalog.create_store(
                session=s, store_in=StoreCreate(code=c, name=n)
            )
        )
    db.write(
        lambda s: catalog.upsert_products(
            session=s,
            products_in=[
                ProductIn(sku=sku, name=name, category_path=path, shelf_life_days=7)
                for sku, (name, path) in PRODUCTS.items()
            ],
        )
    )
    members: list[int] = []
    home: dict[int, str] = {}
    for n in range(12):
        store = "A01" if n % 2 == 0 else "B01"
        cid = sign_up(
            db, phone=f"1390013{8000 + n}", signed_up_at=BASKET_START, home_store_code=store
        )
        members.append(cid)
        home[cid] = store
    k = 0
    for day in range(122):
        at = BASKET_START + timedelta(days=day)
        for n, cid in enumerate(members):
            if (day + n) % 3:
                continue
            lines = [_line("MILK")]
            if day % 2 == 0:
                lines += [_line("BREAD"), _line("JAM")]
            if n == 0 and day > 100:
                lines = [_line("TEA")]
            post_order(db, f"N{k}", store_code=home[cid], customer={"id": cid}, at=at, lines=lines)
            k += 1
    run = analytics.run_analytics(db=db, as_of=BASKET_AS_OF)
    assert run.status == "succeeded"
    return BasketShop(db=db, members=members, home=home, run_id=run.id)
