"""The Spark tests' cluster and session, once per test process.

``spark_master`` is a real standalone cluster started here (tests/analytics/spark_cluster.py),
or the one PATRON_TEST_SPARK_MASTER names (``spark://host:7077``; its workers must reach
this machine and read its temporary directory). ``spark`` is the one Spark application of
the process on it, shared by every Spark test (an executor starts once).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.analytics.spark_cluster import TEST_JVM_OPTIONS, missing_java, start_cluster


@pytest.fixture(scope="session")
def spark_master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pyspark = pytest.importorskip("pyspark")
    given = os.environ.get("PATRON_TEST_SPARK_MASTER")
    if given:
        yield given
        return
    reason = missing_java()
    if reason is not None:
        pytest.skip(reason)
    cluster = start_cluster(Path(pyspark.__file__).parent, tmp_path_factory.mktemp("spark"))
    try:
        yield cluster.master_url
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def spark(spark_master: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from pyspark.sql import SparkSession

    with pytest.MonkeyPatch.context() as patch:
        # The executors run this Python (the same machine), and talk to this driver on loopback.
        patch.setenv("PYSPARK_PYTHON", sys.executable)
        patch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
        session = (
            SparkSession.builder.master(spark_master)
            .appName("patron-tests")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.executor.memory", "512m")
            .config("spark.driver.extraJavaOptions", TEST_JVM_OPTIONS)
            .config("spark.executor.extraJavaOptions", TEST_JVM_OPTIONS)
            .config("spark.cores.max", "1")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.showConsoleProgress", "false")
            # Tiny data: planning and code generation cost more than the work, so skip both.
            .config("spark.sql.shuffle.partitions", "1")
            .config("spark.default.parallelism", "1")
            .config("spark.sql.adaptive.enabled", "false")
            .config("spark.sql.codegen.wholeStage", "false")
            .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )
        try:
            assert session.sparkContext.master == spark_master
            yield session
        finally:
            session.stop()
