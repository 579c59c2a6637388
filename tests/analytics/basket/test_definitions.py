"""Baskets read from the analytics store: which orders and lines count, by period, store,
channel and level."""

from __future__ import annotations

from datetime import date

import ibis
import pyarrow as pa
import pytest

from patron.analytics.basket.definitions import BasketParamsError, BasketScope, basket_items
from tests.analytics.basket._shop import END, START, Shop


def _baskets(shop: Shop, scope: BasketScope, products: ibis.Table | None = None) -> set:
    table = basket_items(shop.tables(), scope, products=products).to_pyarrow()
    return {(r["order_id"], r["item"]) for r in table.to_pylist()}


def test_a_basket_is_an_orders_distinct_skus_still_bought() -> None:
    shop = Shop()
    first = shop.order(["A", "B", "A", " C "], refunded_skus=("B",))
    whole = shop.order(["A"], refunded_skus=("A",))
    assert _baskets(shop, BasketScope(start=START, end=END)) == {
        (first, "A"),
        (first, "C"),
    }
    assert whole not in {o for o, _ in _baskets(shop, BasketScope(start=START, end=END))}


def test_period_store_and_channel_choose_the_orders() -> None:
    shop = Shop()
    inside = shop.order(["A"], on=START, store_id=1, channel="pos")
    shop.order(["A"], on=date(2026, 9, 30))
    shop.order(["A"], on=date(2026, 11, 1))
    other_store = shop.order(["A"], on=END, store_id=2)
    online = shop.order(["A"], on=END, channel="online", customer_id=None)
    everything = _baskets(shop, BasketScope(start=START, end=END))
    assert {o for o, _ in everything} == {inside, other_store, online}
    store_one = _baskets(shop, BasketScope(start=START, end=END, store_id=1))
    assert {o for o, _ in store_one} == {inside, online}
    pos_only = _baskets(shop, BasketScope(start=START, end=END, store_id=1, channel="pos"))
    assert {o for o, _ in pos_only} == {inside}


def test_categories_at_the_top_level_and_deeper() -> None:
    shop = Shop()
    order = shop.order([("A1", "生鲜"), ("A2", "生鲜"), ("B1", "日用"), ("X", "")])
    top = _baskets(shop, BasketScope(start=START, end=END, level="category"))
    assert top == {(order, "生鲜"), (order, "日用")}
    products = ibis.memtable(
        pa.table(
            {
                "sku": ["A1", "A2", "B1", "X"],
                "category_path": ["/生鲜/水果/苹果", "生鲜/蔬菜", "日用", ""],
            }
        )
    )
    deeper = _baskets(
        shop, BasketScope(start=START, end=END, level="category", category_depth=2), products
    )
    assert deeper == {(order, "生鲜/水果"), (order, "生鲜/蔬菜"), (order, "日用")}


def test_a_deeper_level_without_the_product_paths_is_refused() -> None:
    shop = Shop()
    shop.order(["A"])
    with pytest.raises(BasketParamsError) as caught:
        basket_items(
            shop.tables(), BasketScope(start=START, end=END, level="category", category_depth=2)
        )
    assert caught.value.field == "category_depth"


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("start", {"start": END, "end": START}),
        ("level", {"start": START, "end": END, "level": "brand"}),
        ("category_depth", {"start": START, "end": END, "category_depth": 0}),
    ],
)
def test_bad_scopes_are_refused_naming_the_field(field: str, kwargs: dict) -> None:
    with pytest.raises(BasketParamsError) as caught:
        BasketScope(**kwargs)
    assert caught.value.field == field


@pytest.mark.parametrize("level", ["sku", "category"])
def test_the_nightly_read_with_stores_and_repeats_holds_the_same_baskets(level: str) -> None:
    """``with_store`` carries the order's store from the same join; ``distinct=False`` leaves
    an item on two lines twice, and the mined baskets drop the repeat."""
    from patron.analytics.basket.mining import Baskets

    shop = Shop()
    first = shop.order(["A", "B", "A", " C "], refunded_skus=("B",), store_id=1)
    second = shop.order(["A", "C"], store_id=2)
    scope = BasketScope(start=START, end=END, level=level)  # type: ignore[arg-type]
    plain = basket_items(shop.tables(), scope).to_pyarrow().to_pylist()
    read = basket_items(shop.tables(), scope, with_store=True, distinct=False).to_pyarrow()
    rows = read.to_pylist()
    assert {(r["order_id"], r["item"]) for r in rows} == {(r["order_id"], r["item"]) for r in plain}
    assert {(r["order_id"], r["store_id"]) for r in rows} == {(first, 1), (second, 2)}
    if level == "sku":
        assert len(rows) == len(plain) + 1  # A twice in the first basket
    labels = sorted({r["item"] for r in rows})
    coded = Baskets.from_codes(
        [r["order_id"] for r in rows], [labels.index(r["item"]) for r in rows], labels
    )
    distinct = Baskets.from_pairs([r["order_id"] for r in plain], [r["item"] for r in plain])
    assert coded.offsets.tolist() == distinct.offsets.tolist()
    assert coded.items.tolist() == distinct.items.tolist()
