"""The same definitions on DuckDB and on a Spark standalone cluster give the same answers on
a small demo chain: two runs of the whole pipeline, one per engine, on the same extract, the
Spark run handing the store's tables to the cluster as Parquet on a shared directory."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from patron.analytics import service
from patron.analytics import store as analytics_store
from patron.analytics.engine.schema import ALL_TABLES
from patron.analytics.models import CustomerScore
from patron.core.db import Database
from patron.core.settings import get_settings
from patron.demo.generator import build_demo

pytestmark = pytest.mark.spark
AS_OF = date(2026, 10, 31)


def _canonical(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows as sorted tuples of (column, value), floats rounded, in a stable order."""
    out = []
    for row in rows:
        out.append(
            tuple(
                (k, round(v, 9) if isinstance(v, float) and not math.isnan(v) else v)
                for k, v in sorted(row.items())
            )
        )
    return sorted(out, key=lambda r: tuple((v is None, str(v)) for _, v in r))


def _scores(db: Database, run_id: int) -> list[tuple[Any, ...]]:
    columns = [c for c in CustomerScore.__table__.columns if c.name not in ("id", "run_id")]
    rows = db.read(
        lambda s: s.execute(select(*columns).where(CustomerScore.run_id == run_id)).all()
    )
    return sorted(tuple(r) for r in rows)


def test_duckdb_and_spark_agree_on_the_demo_chain(
    sqlite_db: Database,
    tmp_path: Path,
    spark: Any,
    spark_master: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shared = tmp_path / "shared"
    monkeypatch.setenv("PATRON_SPARK_SHARED_DIR", str(shared))
    get_settings.cache_clear()
    summary = build_demo(
        db=sqlite_db, seed=5, customers=400, lines=5000, data_dir=tmp_path, chunk_customers=400
    )
    assert summary.orders > 0 and summary.refunds > 0 and summary.merges > 0

    on_duckdb = service.run_analytics(db=sqlite_db, as_of=AS_OF, engine="duckdb")
    on_spark = service.run_analytics(
        db=sqlite_db, as_of=AS_OF, engine="spark", spark_master=spark_master
    )
    assert spark.sparkContext.master == spark_master  # the run used the cluster's session
    assert sorted(p.name for p in (shared / "analytics-parquet").iterdir()) == sorted(
        f"{name}.parquet" for name in ALL_TABLES
    )
    assert on_spark.status == on_duckdb.status == "succeeded"
    assert on_spark.customers_scored == on_duckdb.customers_scored
    assert on_duckdb.customers_scored == summary.customers - summary.merges

    duck_scores = _scores(sqlite_db, on_duckdb.id)
    assert duck_scores == _scores(sqlite_db, on_spark.id)
    assert {row[8] for row in duck_scores} - {None}, "some customers have a segment"

    path = service.store_path()
    for name in analytics_store.RESULT_TABLES:
        duck_rows = analytics_store.read_result(path, name, run_id=on_duckdb.id)
        spark_rows = analytics_store.read_result(path, name, run_id=on_spark.id)
        assert duck_rows, name
        assert spark_rows is not None, name
        assert _canonical(duck_rows) == _canonical(spark_rows), name
