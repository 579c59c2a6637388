"""On Spark (the test cluster, tests/analytics/conftest.py), the same rules: FP-growth's itemsets on Groceries give arules' 410 rules, and the
basket definition reads the same baskets from a Spark-held store as from DuckDB."""

from __future__ import annotations

from typing import Any

import ibis
import pytest

from patron.analytics.basket.definitions import BasketScope, basket_items
from patron.analytics.basket.mining import Baskets, mine_rules
from patron.analytics.basket.spark import spark_baskets, spark_rules
from patron.analytics.engine import Tables
from tests.analytics.basket._groceries import groceries, keyed, reference
from tests.analytics.basket._shop import END, START, Shop

pytestmark = pytest.mark.spark


def test_fpgrowth_on_spark_gives_arules_410_rules_on_groceries(spark: Any) -> None:
    baskets = spark.createDataFrame(
        [(sorted(set(items)),) for items in groceries()], schema="items array<string>"
    )
    rules = spark_rules(baskets, min_support=0.001, min_confidence=0.8, max_items=10)
    ours = keyed(rules.rows())
    theirs = reference("groceries_s0.001_c0.8.csv")
    assert len(rules) == 410
    assert set(ours) == set(theirs)
    for key, want in theirs.items():
        for measure in ("support", "confidence", "lift"):
            assert ours[key][measure] == pytest.approx(want[measure], abs=1e-9, rel=0)
    assert sum(1 for r in ours.values() if r["confidence"] == 0.8) == 39


def test_the_basket_definition_reads_the_same_baskets_on_spark_as_on_duckdb(spark: Any) -> None:
    shop = Shop()
    for _ in range(3):
        shop.order(["milk", "bread", "eggs"])
        shop.order(["milk", "bread"], store_id=2)
    shop.order(["tea", "milk"], refunded_skus=("tea",))
    for name, table in shop.arrow().items():
        spark.createDataFrame(table).createOrReplaceTempView(f"basket_{name}")
    con = ibis.pyspark.connect(spark)
    on_spark = Tables(**{name: con.table(f"basket_{name}") for name in shop.arrow()})
    scope = BasketScope(start=START, end=END)
    duck_rows = basket_items(shop.tables(), scope).to_pyarrow().to_pylist()
    spark_rows = basket_items(on_spark, scope).to_pyarrow().to_pylist()
    pairs = sorted((r["order_id"], r["item"]) for r in duck_rows)
    assert pairs == sorted((r["order_id"], r["item"]) for r in spark_rows)
    collected = spark_baskets(spark.createDataFrame(spark_rows))
    on_spark_rules = spark_rules(collected, min_support=0.3, min_confidence=0.5, min_items=2)
    on_duck_rules = mine_rules(
        Baskets.from_pairs([o for o, _ in pairs], [i for _, i in pairs]),
        min_support=0.3,
        min_confidence=0.5,
        min_items=2,
    )
    assert keyed(on_spark_rules.rows()) == keyed(on_duck_rules.rows())
