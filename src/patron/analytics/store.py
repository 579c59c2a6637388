"""The analytics store: one DuckDB file holding the extracted tables, the extract's
watermarks and each run's cohorts, KPIs and segment migration.

DuckDB lets one process write a file at a time. A run takes an exclusive lock on a file
beside the store (``analytics.duckdb.lock``) for its whole length, so two runs never
interleave; a second run is refused at once with :class:`AnalyticsBusy`. Readers (the API,
the console) open the file briefly and close it again, retrying for a moment while a run
in another process holds it.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from patron.core.errors import Conflict

# Results each run keeps, by name, for the console to read.
RESULT_TABLES = (
    "cohorts",
    "migration",
    "kpis_day",
    "kpis_store",
    "kpis_channel",
    "kpis_category",
    "kpis_country",
    "kpis_province",
    "kpis_city",
    "kpis_payment_method",
    "kpis_cashier",
)
_OPEN_WAIT_SECONDS = 5.0


class AnalyticsBusy(Conflict):
    """Another analytics run holds the store."""

    code = "analytics_busy"


class AnalyticsStoreUnavailable(Conflict):
    """The store's file is held by another process for longer than a reader waits."""

    code = "analytics_store_busy"


@contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """Hold the store's run lock, or raise AnalyticsBusy naming who holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise AnalyticsBusy(
                f"another analytics run is going ({holder}); try again when it has finished",
                store=str(path),
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _is_lock_error(exc: duckdb.Error) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflicting" in text


@contextmanager
def connect(path: Path, *, wait_seconds: float = _OPEN_WAIT_SECONDS) -> Iterator[Any]:
    """A DuckDB connection to the store, in UTC, closed on exit.

    Every connection in this process uses one configuration, so DuckDB shares one database
    instance between threads; another process holding the file is waited for briefly.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            con = duckdb.connect(str(path))
            break
        except duckdb.Error as exc:
            if not _is_lock_error(exc) or time.monotonic() >= deadline:
                if _is_lock_error(exc):
                    raise AnalyticsStoreUnavailable(
                        "the analytics store is busy with a run in another process; "
                        "try again shortly",
                        store=str(path),
                    ) from None
                raise
            time.sleep(0.1)
    try:
        con.execute("SET TimeZone = 'UTC'")
        yield con
    finally:
        con.close()


# -------------------------------------------------------------------------- run results


def save_result(con: Any, name: str, *, run_id: int, as_of: date, result: pa.Table) -> int:
    """Keep one run's result table (replacing what that run kept before); returns its rows.

    The result's columns come from the definitions; if they changed since the table was made,
    the table is made again (older runs' results of that kind are dropped).
    """
    if name not in RESULT_TABLES:
        raise ValueError(f"unknown result {name!r}")
    table = f"result_{name}"
    con.register("_incoming", result)
    try:
        wanted = ["run_id", "as_of", *result.column_names]
        existing = [
            row[0]
            for row in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = ? ORDER BY ordinal_position",
                [table],
            ).fetchall()
        ]
        if existing and existing != wanted:
            con.execute(f"DROP TABLE {table}")
            existing = []
        if not existing:
            con.execute(
                f"CREATE TABLE {table} AS SELECT CAST(NULL AS BIGINT) AS run_id, "
                "CAST(NULL AS DATE) AS as_of, * FROM _incoming LIMIT 0"
            )
        con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
        con.execute(f"INSERT INTO {table} SELECT ?, ?, * FROM _incoming", [run_id, as_of])
    finally:
        con.unregister("_incoming")
    return result.num_rows


def read_result(path: Path, name: str, *, run_id: int) -> list[dict[str, Any]] | None:
    """A run's kept result as rows (run_id and as_of left out); None if it kept none."""
    if name not in RESULT_TABLES:
        raise ValueError(f"unknown result {name!r}")
    if not path.exists():
        return None
    table = f"result_{name}"
    with connect(path) as con:
        found = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
        ).fetchall()
        if not found[0][0]:
            return None
        arrow = con.sql(
            f"SELECT * EXCLUDE (run_id, as_of) FROM {table} WHERE run_id = {int(run_id)}"
        ).to_arrow_table()
    if arrow.num_rows == 0:
        return None
    rows: list[dict[str, Any]] = arrow.to_pylist()
    return rows


def export_parquet(con: Any, directory: Path, names: tuple[str, ...]) -> dict[str, Path]:
    """Write the named tables as Parquet files (for Spark to read); returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name in names:
        target = directory / f"{name}.parquet"
        quoted = str(target).replace("'", "''")
        con.execute(f"COPY (SELECT * FROM {name}) TO '{quoted}' (FORMAT parquet)")
        paths[name] = target
    return paths
