"""The same definitions on a Spark standalone cluster give DuckDB's answers row for row."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Any

import ibis
import pytest

from patron.analytics.engine import (
    KPI_DIMENSIONS,
    AnalyticsParams,
    Tables,
    cohorts,
    customer_scores,
    kpis,
    segment_migration,
)
from patron.analytics.engine.schema import ALL_TABLES
from patron.analytics.engine.synthetic import generate

pytestmark = pytest.mark.spark

AS_OF = date(2025, 6, 30)


@pytest.fixture(scope="module")
def engines(spark: Any) -> tuple[Tables, Tables]:
    """(DuckDB tables, Spark tables) holding the same synthetic chain of 2,000 customers, the
    Spark ones on the test cluster (tests/analytics/conftest.py)."""
    duck = ibis.duckdb.connect()
    counts = generate(duck.con, customers=2000, lines=20_000, as_of=AS_OF, seed=11)
    assert counts["customers"] == 2000
    for name in ALL_TABLES:
        frame = spark.createDataFrame(duck.table(name).to_pyarrow())
        frame.createOrReplaceTempView(name)
    return Tables.from_backend(duck), Tables.from_backend(ibis.pyspark.connect(spark))


def _rows(expr: ibis.Table, key: list[str]) -> list[dict[str, Any]]:
    def sort_key(row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple((row[k] is None, row[k] if row[k] is not None else 0) for k in key)

    return sorted(expr.to_pyarrow().to_pylist(), key=sort_key)


def _same(duck: list[dict[str, Any]], spark: list[dict[str, Any]]) -> None:
    assert len(duck) == len(spark) > 0
    for d, s in zip(duck, spark, strict=True):
        assert d.keys() == s.keys()
        for column, value in d.items():
            other = s[column]
            if isinstance(value, float) and isinstance(other, float):
                assert math.isclose(value, other, rel_tol=1e-12), (column, d, s)
            else:
                assert value == other, (column, d, s)


def _all_kpis(tables: Tables) -> ibis.Table:
    """The KPI tables as one (key as text), so Spark runs them in one job."""
    params = AnalyticsParams(as_of=AS_OF, kpi_days=90)
    keys = {"day": "order_date", "store": "store_id"}
    parts = []
    for by in KPI_DIMENSIONS:
        t = kpis(tables, params, by)
        key = keys.get(by, by)  # the other dimensions are their own column
        metrics = [c for c in t.columns if c not in {key, "store_code", "store_name"}]
        parts.append(
            t.select(by=ibis.literal(by), key=t[key].cast("string"), **{m: t[m] for m in metrics})
        )
    return ibis.union(*parts)


CASES: list[tuple[str, Callable[[Tables], ibis.Table], list[str]]] = [
    ("scores", lambda t: customer_scores(t, AnalyticsParams(as_of=AS_OF)), ["customer_id"]),
    (
        "scores-average-fixed-all-history",
        lambda t: customer_scores(
            t, AnalyticsParams(as_of=AS_OF, monetary="average", split="fixed", window_days=None)
        ),
        ["customer_id"],
    ),
    (
        "cohorts",
        lambda t: cohorts(t, AnalyticsParams(as_of=AS_OF)),
        ["cohort_month", "months_since"],
    ),
    (
        "migration",
        lambda t: segment_migration(t, AnalyticsParams(as_of=AS_OF)),
        ["from_segment", "to_segment"],
    ),
    ("kpis", _all_kpis, ["by", "key"]),
]


@pytest.mark.parametrize(("name", "build", "key"), CASES, ids=[c[0] for c in CASES])
def test_spark_equals_duckdb(
    engines: tuple[Tables, Tables],
    name: str,
    build: Callable[[Tables], ibis.Table],
    key: list[str],
) -> None:
    duck, spark = engines
    _same(_rows(build(duck), key), _rows(build(spark), key))
