"""``--spark-master`` and the shared Parquet directory (analytics/spark.py): the masters Spark
takes, bad input refused naming the field before any run starts, and where a run leaves the
store's tables for a cluster's workers. The runs on a real cluster are the Spark parity tests
(tests/analytics/conftest.py starts it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from patron.analytics import service
from patron.analytics.spark import check_master, shared_dir
from patron.cli import app
from patron.core.db import get_database
from patron.core.errors import InvalidInput
from patron.core.settings import get_settings


@pytest.mark.parametrize(
    "master",
    ["local", "local[2]", "local[*]", "spark://10.0.0.5:7077", "spark://a:7077,b:7077", "yarn"],
)
def test_the_masters_spark_takes_are_accepted(master: str) -> None:
    assert check_master(f" {master} ") == master


@pytest.mark.parametrize("master", ["", "spark://nohost", "http://x:7077", "local[two]"])
def test_other_masters_are_refused_naming_the_field(master: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_master(master)
    assert refused.value.field == "spark_master"


def test_a_master_without_the_spark_engine_is_refused_before_a_run_starts() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    with pytest.raises(InvalidInput) as refused:
        service.run_analytics(db=get_database(), engine="duckdb", spark_master="spark://h:7077")
    assert refused.value.field == "spark_master"
    bad = runner.invoke(
        app, ["analytics", "run", "--engine", "spark", "--spark-master", "http://h:7077"]
    )
    assert bad.exit_code == 1 and "spark_master" in bad.output
    assert get_database().read(lambda s: service.list_runs(session=s)) == []


def test_the_parquet_goes_beside_the_store_or_to_the_shared_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "data" / "analytics.duckdb"
    assert shared_dir(store) == tmp_path / "data" / "analytics-parquet"
    monkeypatch.setenv("PATRON_SPARK_SHARED_DIR", str(tmp_path / "nfs"))
    get_settings.cache_clear()
    assert shared_dir(store) == tmp_path / "nfs" / "analytics-parquet"
