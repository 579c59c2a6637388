"""Baskets from the analytics store, as an Ibis definition that runs on DuckDB and Spark.

A basket is one counted order (``net_fen > 0``: an order refunded in full was not bought)
and holds the distinct items of its lines still bought (``net_fen > 0``: a line refunded in
full is not in the basket). An item is the line's SKU, or its category cut at a chosen level
of the product's category path (level 1 is the top, as the store's ``order_lines.category``;
deeper levels read ``products.category_path``, a table the caller registers beside the
store's tables). Lines without an item (no SKU, a SKU the catalogue does not know, an empty
category) are left out; an order left with no item is no basket.

The period is ``start <= order_date <= end`` (business days); store and channel filters are
optional. Anonymous orders are baskets too: which goods go together does not depend on who
bought them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

import ibis

from patron.analytics.engine import Tables

Level = Literal["sku", "category"]
LEVELS: tuple[Level, ...] = ("sku", "category")


class BasketParamsError(ValueError):
    """A basket parameter is out of range; ``field`` names it."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"{field}: {reason} (got {value!r})")
        self.field = field
        self.value = value
        self.reason = reason


@dataclass(frozen=True)
class BasketScope:
    """Which orders make baskets and what an item is."""

    start: date
    end: date
    level: Level = "sku"
    category_depth: int = 1
    store_id: int | None = None
    channel: str | None = None

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise BasketParamsError("start", self.start.isoformat(), "is after end")
        if self.level not in LEVELS:
            raise BasketParamsError("level", self.level, f"must be one of {', '.join(LEVELS)}")
        if isinstance(self.category_depth, bool) or not 1 <= self.category_depth <= 10:
            raise BasketParamsError("category_depth", self.category_depth, "must be 1 to 10")


def basket_items(
    tables: Tables,
    scope: BasketScope,
    *,
    products: ibis.Table | None = None,
    with_store: bool = False,
    distinct: bool = True,
) -> ibis.Table:
    """One row per (basket, item): ``order_id`` (int64), ``item`` (string), distinct; with
    ``with_store``, the order's ``store_id`` beside them (from the same join, not a second).
    ``distinct=False`` leaves an item bought on two lines of a basket twice, for a reader
    that drops repeats itself (``mining.Baskets`` does, in the sort it makes anyway).

    ``products`` (sku, category_path) is needed for categories below the top level.
    """
    orders = tables.orders
    wanted = (
        (orders.net_fen > 0) & (orders.order_date >= scope.start) & (orders.order_date <= scope.end)
    )
    if scope.store_id is not None:
        wanted &= orders.store_id == scope.store_id
    if scope.channel is not None:
        wanted &= orders.channel == scope.channel
    carried = ["order_id", "store_id"] if with_store else ["order_id"]
    kept = orders.filter(wanted).select(*carried)
    lines = tables.order_lines.filter(tables.order_lines.net_fen > 0)
    lines = lines.join(kept, "order_id")
    if scope.level == "sku":
        item = lines.sku.strip()
        out = lines.select(*carried, item=item)
    elif scope.category_depth == 1:
        out = lines.select(*carried, item=lines.category.strip())
    else:
        if products is None:
            raise BasketParamsError(
                "category_depth", scope.category_depth, "needs the products table (category_path)"
            )
        paths = products.select(
            "sku",
            item=products.category_path.strip()
            .re_replace(r"^/+", "")
            .split("/")[: scope.category_depth]
            .join("/"),
        )
        out = lines.join(paths, "sku").select(*carried, "item")
    out = out.filter(out.item.notnull() & (out.item != ""))
    return out.distinct() if distinct else out
