"""Association rules on Spark for a chain whose baskets outgrow one machine.

Spark's FP-growth (``pyspark.ml.fpm.FPGrowth``) counts the frequent itemsets; the rules and
their measures are then derived from those exact counts by ``mining.association_rules``, so
they follow the same definition and thresholds as on DuckDB (mining's module doc) — Spark's
own rule step compares confidence without arules' tolerance and would drop the rules that
sit exactly on the threshold. FP-growth keeps itemsets with ``freq >= ceil(minSupport × n)``;
it is handed the minimum support already lowered by one ulp, so its minimum count is
``mining.min_count`` exactly, and the itemsets are filtered on that count again.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from patron.analytics.basket.mining import (
    Itemsets,
    MiningError,
    Rules,
    association_rules,
    min_count,
)


def spark_itemsets(
    baskets: Any, *, min_support: float, max_items: int = 10, items_column: str = "items"
) -> tuple[Itemsets, tuple[str, ...]]:
    """Frequent itemsets of a Spark DataFrame with one array of distinct items per basket."""
    from pyspark.ml.fpm import FPGrowth

    if not 0 < min_support <= 1:
        raise MiningError("min_support", min_support, "must be in (0, 1]")
    n = int(baskets.count())
    threshold = min_count(n, min_support)
    lowered = float(np.nextafter(min_support, 0.0))
    model = FPGrowth(itemsCol=items_column, minSupport=lowered, minConfidence=1.0).fit(baskets)
    rows = model.freqItemsets.collect()
    labels = tuple(sorted({str(item) for row in rows for item in row["items"]}))
    code = {label: i for i, label in enumerate(labels)}
    item_counts = np.zeros(len(labels), dtype=np.int64)
    grouped: dict[int, list[tuple[tuple[int, ...], int]]] = {}
    for row in rows:
        freq = int(row["freq"])
        items = tuple(sorted(code[str(i)] for i in row["items"]))
        if freq < threshold or len(items) > max_items:
            continue
        if len(items) == 1:
            item_counts[items[0]] = freq
        grouped.setdefault(len(items), []).append((items, freq))
    by_size = {}
    counts = {}
    for k, found in grouped.items():
        found.sort()
        by_size[k] = np.array([f[0] for f in found], dtype=np.int64).reshape(-1, k)
        counts[k] = np.array([f[1] for f in found], dtype=np.int64)
    itemsets = Itemsets(
        n=n, min_count=threshold, item_counts=item_counts, by_size=by_size, counts=counts
    )
    return itemsets, labels


def spark_rules(
    baskets: Any,
    *,
    min_support: float,
    min_confidence: float,
    min_items: int = 1,
    max_items: int = 10,
    items_column: str = "items",
) -> Rules:
    """``mining.mine_rules`` on a Spark DataFrame of baskets (an array column of items)."""
    itemsets, labels = spark_itemsets(
        baskets, min_support=min_support, max_items=max_items, items_column=items_column
    )
    return association_rules(
        itemsets, labels, min_confidence=min_confidence, min_items=min_items, max_items=max_items
    )


def spark_baskets(items: Any) -> Any:
    """(order_id, item) rows on Spark — ``definitions.basket_items`` run on the Spark
    backend — as one row per basket with its items collected into ``items``."""
    from pyspark.sql import functions as F

    return items.groupBy("order_id").agg(F.collect_set("item").alias("items"))
