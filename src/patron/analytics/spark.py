"""Spark for the analytics run: a session on the configured master (``local[2]`` on one
machine, ``spark://host:7077`` for a standalone cluster), and the store's tables handed to it
as Parquet files in a directory every worker can read.

On a cluster the executors read the Parquet files themselves, so the directory must be on a
path the workers share (NFS or the like, mounted at the same path everywhere):
``PATRON_SPARK_SHARED_DIR``, or by default ``<store>-parquet`` beside the analytics store.
The results come back to this process as Arrow. See docs/operations.md, "Spark on a
cluster".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from patron.analytics import store as analytics_store
from patron.analytics.engine import Tables
from patron.analytics.engine.schema import ALL_TABLES
from patron.core.errors import InvalidInput
from patron.core.settings import get_settings

# local, local[4], local[*], local[2,3]; spark://host:port (several, comma-separated, with
# standby masters); yarn; k8s://https://host:port.
_MASTER = re.compile(
    r"^(local(\[(\*|\d+)(,\d+)?\])?"
    r"|spark://[A-Za-z0-9.\-]+:\d+(,[A-Za-z0-9.\-]+:\d+)*"
    r"|yarn|k8s://\S+)$"
)


def check_master(master: str) -> str:
    """``master`` when Spark would accept it, else InvalidInput naming ``spark_master``."""
    master = master.strip()
    if not _MASTER.match(master):
        raise InvalidInput(
            "spark_master",
            "must be local, local[N], spark://host:port, yarn or k8s://…",
            value=master,
        )
    return master


def resolved_master(master: str | None = None) -> str:
    return check_master(master if master is not None else get_settings().spark_master)


def shared_dir(store: Path) -> Path:
    """Where the run writes the Parquet files Spark reads."""
    configured = get_settings().spark_shared_dir
    if configured is not None:
        return configured / (store.stem + "-parquet")
    return store.parent / (store.stem + "-parquet")


def spark_session(master: str | None = None) -> Any:
    """A Spark session in UTC on ``master`` (the setting when None). One session per
    process: an active session on another master is stopped first."""
    from pyspark.sql import SparkSession

    master = resolved_master(master)
    active = SparkSession.getActiveSession()
    if active is not None and active.sparkContext.master != master:
        active.stop()
    builder = (
        SparkSession.builder.master(master)
        .appName("patron-analytics")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # Per-run tables of a chain: few partitions, Arrow to hand results over.
        .config("spark.sql.shuffle.partitions", "2" if master.startswith("local") else "8")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.memory", "2g")
    )
    return builder.getOrCreate()


def spark_tables(paths: dict[str, Path], master: str | None = None) -> Tables:
    """The Parquet files at ``paths`` as the definitions' tables, read by Spark."""
    import ibis

    con = ibis.pyspark.connect(spark_session(master))
    for name, file in paths.items():
        con.read_parquet(str(file), table_name=name)
    return Tables.from_backend(con)


def store_on_spark(duck: Any, store: Path, master: str | None = None) -> Tables:
    """The store's tables (open on ``duck``) written as Parquet to the shared directory and
    read by Spark on ``master``."""
    paths = analytics_store.export_parquet(duck, shared_dir(store), tuple(ALL_TABLES))
    return spark_tables(paths, master)
