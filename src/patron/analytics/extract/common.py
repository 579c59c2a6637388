"""What every part of the extract shares: the store's tables, what a run moved, reading the
operational database in chunks into DuckDB, and the extract's state (its watermarks).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, Select, String, func, type_coerce
from sqlalchemy.sql.elements import ColumnElement

SCHEMA_VERSION = "2"  # 2: returns, line by line; order attributes
ID_OVERLAP = 2000
TIME_OVERLAP = timedelta(minutes=10)
BATCH_ROWS = 50_000
_IN_CHUNK = 1000


_DDL = (
    "CREATE TABLE IF NOT EXISTS _state (key VARCHAR, value VARCHAR)",
    "CREATE TABLE IF NOT EXISTS stores (store_id BIGINT, code VARCHAR, name VARCHAR, "
    "city VARCHAR, kind VARCHAR)",
    "CREATE TABLE IF NOT EXISTS _store_zone (store_id BIGINT, timezone VARCHAR)",
    "CREATE TABLE IF NOT EXISTS _products (sku VARCHAR, category VARCHAR)",
    "CREATE TABLE IF NOT EXISTS _customers_all (customer_id BIGINT, signed_up_at TIMESTAMP, "
    "signup_date DATE, home_store_id BIGINT, signup_channel VARCHAR, status VARCHAR, "
    "merged_into_id BIGINT)",
    "CREATE TABLE IF NOT EXISTS customers (customer_id BIGINT, signed_up_at TIMESTAMP, "
    "signup_date DATE, home_store_id BIGINT, signup_channel VARCHAR)",
    "CREATE TABLE IF NOT EXISTS orders (order_id BIGINT, customer_id BIGINT, store_id BIGINT, "
    "channel VARCHAR, ordered_at TIMESTAMP, order_date DATE, gross_fen BIGINT, paid_fen BIGINT, "
    "refunded_fen BIGINT, net_fen BIGINT)",
    "CREATE TABLE IF NOT EXISTS order_lines (line_id BIGINT, order_id BIGINT, sku VARCHAR, "
    "category VARCHAR, quantity_milli BIGINT, amount_fen BIGINT, refunded_fen BIGINT, "
    "net_fen BIGINT)",
    "CREATE TABLE IF NOT EXISTS refunds (refund_id BIGINT, order_id BIGINT, "
    "refunded_at TIMESTAMP, refund_date DATE, amount_fen BIGINT)",
    "CREATE TABLE IF NOT EXISTS _refund_lines (refund_line_id BIGINT, refund_id BIGINT, "
    "order_line_id BIGINT, amount_fen BIGINT)",
    "CREATE TABLE IF NOT EXISTS order_attributes (order_id BIGINT, country VARCHAR, "
    "province VARCHAR, city VARCHAR, payment_method VARCHAR, cashier VARCHAR)",
    "CREATE TABLE IF NOT EXISTS returns (return_id BIGINT, order_id BIGINT, line_id BIGINT, "
    "customer_id BIGINT, store_id BIGINT, channel VARCHAR, returned_at TIMESTAMP, "
    "return_date DATE, category VARCHAR, amount_fen BIGINT)",
)
_EXTRACT_TABLES = (
    "_state",
    "stores",
    "_store_zone",
    "_products",
    "_customers_all",
    "customers",
    "orders",
    "order_lines",
    "refunds",
    "_refund_lines",
    "returns",
    "order_attributes",
)


@dataclass
class ExtractResult:
    """What one extract moved, table by table (rows inserted, updated or deleted)."""

    full: bool
    clustered: bool = False  # orders were rewritten in customer order
    moved: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows_moved(self) -> int:
        return sum(self.moved.values())

    def add(self, name: str, rows: int) -> None:
        self.moved[name] = self.moved.get(name, 0) + rows


# ------------------------------------------------------------------------------ reading


def _instant(column: Any, dialect: str) -> ColumnElement[Any]:
    """An instant as naive UTC the cheap way: SQLite's stored text, PostgreSQL's timestamp."""
    if dialect == "sqlite":
        return type_coerce(column, String)
    return func.timezone("UTC", column)


_INTEGERS = [
    "id",
    "order_id",
    "customer_id",
    "store_id",
    "gross_fen",
    "paid",
    "line_id",
    "quantity_milli",
    "amount_fen",
    "refund_id",
    "refund_line_id",
    "order_line_id",
    "home_store_id",
    "merged_into_id",
]
_STRINGS = [
    "channel", "sku", "path", "code", "name", "city", "kind", "timezone", "status", "country",
    "province", "payment_method", "cashier",
]  # fmt: skip
# Typed columns convert to Arrow several times faster than inferred ones; instants are
# text on SQLite and datetimes on PostgreSQL, so they are left to inference.
_ARROW_TYPES: dict[str, pa.DataType] = {
    **{name: pa.int64() for name in _INTEGERS},
    **{name: pa.string() for name in _STRINGS},
}


def _batches(source: Connection, statement: Select[Any]) -> Iterator[Sequence[Sequence[Any]]]:
    """The statement's rows, a chunk at a time, as plain tuples.

    Statements whose parameters are all integers (the big, id-bounded reads of orders and
    lines) go straight to the driver's cursor in the same transaction, skipping SQLAlchemy's
    per-row work: a server-side cursor on PostgreSQL, SQLite's own otherwise. Others (with
    instants to bind) go through SQLAlchemy, streamed.
    """
    compiled = statement.compile(
        dialect=source.dialect, compile_kwargs={"render_postcompile": True}
    )
    params = compiled.construct_params()
    if all(isinstance(v, int) for v in params.values()):
        raw = source.connection.dbapi_connection
        assert raw is not None
        if source.dialect.name == "postgresql":
            cursor = raw.cursor(name="patron_extract")  # server-side: fetchmany pages it
        else:
            cursor = raw.cursor()
        positions = compiled.positiontup
        args: Any = tuple(params[k] for k in positions) if positions is not None else params
        try:
            cursor.execute(str(compiled), args)
            while rows := cursor.fetchmany(BATCH_ROWS):
                yield rows
        finally:
            cursor.close()
        return
    result = source.execution_options(stream_results=True, yield_per=BATCH_ROWS).execute(statement)
    for partition in result.partitions(BATCH_ROWS):
        yield [tuple(row) for row in partition]


def _stream(
    source: Connection,
    statement: Select[Any],
    duck: Any,
    target: str,
    names: Sequence[str],
    insert_sql: str,
) -> int:
    """Run ``statement`` and append its rows to ``target`` through ``insert_sql`` (which
    selects from ``_batch``, an Arrow table with columns ``names``), a chunk at a time."""
    total = 0
    for rows in _batches(source, statement):
        if not rows:
            continue
        columns = list(zip(*rows, strict=True))
        batch = pa.table(
            {
                name: pa.array(col, type=_ARROW_TYPES.get(name))
                for name, col in zip(names, columns, strict=True)
            }
        )
        duck.register("_batch", batch)
        try:
            duck.execute(f"INSERT INTO {target} {insert_sql}")
        finally:
            duck.unregister("_batch")
        total += len(rows)
    return total


def _local_date(instant: str, zone: str) -> str:
    return f"CAST(timezone({zone}, CAST({instant} AS TIMESTAMPTZ)) AS DATE)"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _count(duck: Any, sql: str, params: Sequence[Any] = ()) -> int:
    rows = duck.execute(sql, list(params)).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def _latest(duck: Any, table: str) -> str | None:
    rows = duck.execute(f"SELECT max(updated_at) FROM {table}").fetchall()
    return rows[0][0].isoformat() if rows and rows[0][0] is not None else None


# ------------------------------------------------------------------------------ state


def _state(duck: Any) -> dict[str, str]:
    return {k: v for k, v in duck.execute("SELECT key, value FROM _state").fetchall()}


def _set_state(duck: Any, values: dict[str, str]) -> None:
    for key, value in values.items():
        duck.execute("DELETE FROM _state WHERE key = ?", [key])
        duck.execute("INSERT INTO _state VALUES (?, ?)", [key, value])


def _reset(duck: Any) -> None:
    for name in _EXTRACT_TABLES:
        duck.execute(f"DROP TABLE IF EXISTS {name}")
    for ddl in _DDL:
        duck.execute(ddl)


def _since(state: dict[str, str], key: str) -> datetime | None:
    value = state.get(key)
    if not value:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC) - TIME_OVERLAP


def _chunks(values: Iterable[int], size: int = _IN_CHUNK) -> Iterable[list[int]]:
    items = sorted(values)
    for start in range(0, len(items), size):
        yield items[start : start + size]
