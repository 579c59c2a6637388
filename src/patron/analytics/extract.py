"""Copy the operational database into the analytics store, moving only what changed.

The store's tables are those of ``engine/schema.py``; beside them the extract keeps its own
(``_state`` with the watermarks, ``_customers_all`` with merged profiles too, ``_products``,
``_store_zone``, ``_refund_lines``), all in the same DuckDB file.

How a re-run finds what changed:
- orders, their lines, refunds and refund lines are only ever added: rows above the highest
  id seen. The last ``ID_OVERLAP`` ids are read again and only the missing ones kept, so a
  row whose transaction committed after a later id was extracted is not lost;
- customers and products change in place: rows whose ``updated_at`` is at or after the last
  one seen, less ``TIME_OVERLAP`` for the same reason, plus every profile in a merge made or
  undone since; only rows that differ from the store count as moved;
- a refund re-computes the refunded and net figures of its order and lines;
- a merge or unmerge re-reads the owner of every order of the profiles involved (the
  operational database moves them), and any order still naming a merged profile is pointed
  at the profile it was merged into, following chains of merges;
- orders are kept clustered by customer (``schema.ORDERS_CLUSTER_KEY``): new orders are
  appended in id order, and once more than ``UNCLUSTERED_SHARE`` of the table came in since
  the last rewrite, the table is rewritten in customer order (a few seconds for millions of
  orders, every few weeks for a chain; a full extract always ends with one).

Everything is read in one snapshot of the operational database, in chunks, and written in
one DuckDB transaction, so a failed extract leaves the store as it was.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, Select, String, func, or_, select, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from patron.analytics.engine.schema import cluster_orders
from patron.analytics.service_extract import load_service_signals
from patron.catalog.models import Product, Store
from patron.core.db import Database
from patron.customers.models import Customer, CustomerMerge
from patron.orders.models import Order, OrderLine, Refund, RefundLine, SaleReturn

SCHEMA_VERSION = "2"  # 2: returns, line by line; order attributes
ID_OVERLAP = 2000
TIME_OVERLAP = timedelta(minutes=10)
BATCH_ROWS = 50_000
_IN_CHUNK = 1000
UNCLUSTERED_SHARE = 0.1

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


# ------------------------------------------------------------------------------ the extract


def extract(*, db: Database, duck: Any, timezone: str, full: bool = False) -> ExtractResult:
    """Bring the store up to date with ``db``; ``full`` rebuilds it from nothing.

    ``duck`` is an open DuckDB connection to the store (the caller holds the run lock);
    ``timezone`` is the retailer's zone for sign-up and refund days. A change of zone since
    the last extract rebuilds the store, since every date would move.
    """
    started = time.perf_counter()
    for ddl in _DDL:
        duck.execute(ddl)
    state = _state(duck)
    if state.get("schema_version") != SCHEMA_VERSION or state.get("timezone") != timezone:
        full = True
    result = ExtractResult(full=full)
    duck.execute("BEGIN TRANSACTION")
    try:
        if full:
            _reset(duck)
            state = {}
        dialect = db.engine.dialect.name
        # One snapshot: on PostgreSQL a repeatable-read transaction, on SQLite (WAL) a read
        # transaction, so orders never name a customer the extract has not seen.
        options: dict[str, Any] = {}
        if dialect == "postgresql":
            options["isolation_level"] = "REPEATABLE READ"
        with db.engine.connect().execution_options(**options) as source:
            new_state = _run(source, duck, dialect, state, timezone, result)
        new_state.update({"schema_version": SCHEMA_VERSION, "timezone": timezone})
        new_state["extracted_at"] = datetime.now(UTC).isoformat()
        _set_state(duck, new_state)
        for name in ("customers", "orders", "order_lines", "refunds", "stores", "returns"):
            result.totals[name] = _count(duck, f"SELECT count(*) FROM {name}")
        duck.execute("COMMIT")
    except BaseException:
        duck.execute("ROLLBACK")
        raise
    result.seconds = time.perf_counter() - started
    return result


def _run(
    source: Connection,
    duck: Any,
    dialect: str,
    state: dict[str, str],
    timezone: str,
    result: ExtractResult,
) -> dict[str, str]:
    zone = _quote(timezone)
    new_state: dict[str, str] = {}
    changed_zone_stores = _stores(source, duck, result)
    new_state.update(_products(source, duck, dialect, state, result))
    new_orders_low = int(state.get("order_id", "0"))
    new_state.update(_orders(source, duck, dialect, state, zone, result))
    new_refund_low = int(state.get("refund_id", "0"))
    new_state.update(_refunds(source, duck, dialect, state, zone, result))
    # Customers after orders: every order read names a customer this read will see.
    customer_state, repoint = _customers(source, duck, dialect, state, zone, result)
    new_state.update(customer_state)

    if changed_zone_stores:
        result.add(
            "orders",
            _count(
                duck,
                "WITH u AS (UPDATE orders SET order_date = "
                + _local_date("orders.ordered_at", "z.timezone")
                + " FROM _store_zone z WHERE z.store_id = orders.store_id AND "
                "orders.store_id IN (SELECT unnest(?)) RETURNING 1) SELECT count(*) FROM u",
                [sorted(changed_zone_stores)],
            ),
        )
    _repoint_orders(source, duck, repoint, result)
    _resolve_merged_owners(duck, result)
    _refresh_refunded(
        duck,
        low_order_id=max(0, new_orders_low - ID_OVERLAP),
        low_refund_id=max(0, new_refund_low - ID_OVERLAP),
        result=result,
    )
    _returns(source, duck, dialect, zone, result)
    for name, rows in load_service_signals(source, duck, timezone).items():
        result.add(name, rows)
    new_state.update(_keep_clustered(duck, state, result))
    return new_state


def _returns(source: Connection, duck: Any, dialect: str, zone: str, result: ExtractResult) -> None:
    """Money going back, line by line and dated, rebuilt whole: every refund line (from the
    tables extracted above, at the store that paid it back) and every line of a return
    without a known sale (few, read afresh, so a merge or unmerge since is in)."""
    r, s = Refund.__table__, SaleReturn.__table__
    duck.execute("CREATE OR REPLACE TEMP TABLE _refund_store (refund_id BIGINT, store_id BIGINT)")
    _stream(
        source,
        select(r.c.id, r.c.store_id).where(r.c.store_id.is_not(None)),
        duck,
        "_refund_store",
        ["refund_id", "store_id"],
        "SELECT * FROM _batch",
    )
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _sale_returns (id BIGINT, customer_id BIGINT, "
        "store_id BIGINT, channel VARCHAR, returned_at TIMESTAMP, sku VARCHAR, "
        "amount_fen BIGINT)"
    )
    _stream(
        source,
        select(
            s.c.id,
            s.c.customer_id,
            s.c.store_id,
            s.c.channel,
            _instant(s.c.returned_at, dialect),
            s.c.sku,
            s.c.amount_fen,
        ),
        duck,
        "_sale_returns",
        ["id", "customer_id", "store_id", "channel", "returned_at", "sku", "amount_fen"],
        "SELECT id, customer_id, store_id, channel, CAST(returned_at AS TIMESTAMP), sku, "
        "amount_fen FROM _batch",
    )
    before = _count(duck, "SELECT count(*) FROM returns")
    day = _local_date("{at}", f"coalesce(z.timezone, {zone})")
    duck.execute("DELETE FROM returns")
    duck.execute(
        "INSERT INTO returns "
        "SELECT rl.refund_line_id, r.order_id, rl.order_line_id, o.customer_id, "
        "coalesce(rs.store_id, o.store_id), o.channel, r.refunded_at, "
        + day.format(at="r.refunded_at")
        + ", coalesce(l.category, ''), rl.amount_fen "
        "FROM _refund_lines rl JOIN refunds r USING (refund_id) "
        "JOIN orders o ON o.order_id = r.order_id "
        "LEFT JOIN order_lines l ON l.line_id = rl.order_line_id "
        "LEFT JOIN _refund_store rs ON rs.refund_id = r.refund_id "
        "LEFT JOIN _store_zone z ON z.store_id = coalesce(rs.store_id, o.store_id) "
        "UNION ALL "
        "SELECT -s.id, NULL, NULL, coalesce(root.root, s.customer_id), s.store_id, s.channel, "
        "s.returned_at, "
        + day.format(at="s.returned_at")
        + ", coalesce(p.category, ''), s.amount_fen "
        "FROM _sale_returns s "
        "LEFT JOIN _roots root ON root.customer_id = s.customer_id "
        "LEFT JOIN _products p ON p.sku = s.sku "
        "LEFT JOIN _store_zone z ON z.store_id = s.store_id"
    )
    after = _count(duck, "SELECT count(*) FROM returns")
    result.add("returns", abs(after - before))


def _keep_clustered(duck: Any, state: dict[str, str], result: ExtractResult) -> dict[str, str]:
    """Rewrite orders in customer order once too many arrived since the last rewrite."""
    total = _count(duck, "SELECT count(*) FROM orders")
    clustered = int(state.get("orders_clustered", "0"))
    if total - clustered > UNCLUSTERED_SHARE * total:
        cluster_orders(duck)
        result.clustered, clustered = True, total
    return {"orders_clustered": str(min(clustered, total))}


def _stores(source: Connection, duck: Any, result: ExtractResult) -> set[int]:
    """Stores are few: read them all, replace what differs. Returns stores whose zone moved."""
    t = Store.__table__
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _in_stores (store_id BIGINT, code VARCHAR, name VARCHAR, "
        "city VARCHAR, kind VARCHAR, timezone VARCHAR)"
    )
    names = ["store_id", "code", "name", "city", "kind", "timezone"]
    _stream(
        source,
        select(t.c.id, t.c.code, t.c.name, t.c.city, t.c.kind, t.c.timezone),
        duck,
        "_in_stores",
        names,
        "SELECT * FROM _batch",
    )
    changed = _count(
        duck,
        "SELECT count(*) FROM (SELECT store_id, code, name, city, kind FROM _in_stores "
        "EXCEPT SELECT * FROM stores)",
    )
    zones = {
        row[0]
        for row in duck.execute(
            "SELECT i.store_id FROM _in_stores i JOIN _store_zone z USING (store_id) "
            "WHERE i.timezone <> z.timezone"
        ).fetchall()
    }
    duck.execute("DELETE FROM stores")
    duck.execute("INSERT INTO stores SELECT store_id, code, name, city, kind FROM _in_stores")
    duck.execute("DELETE FROM _store_zone")
    duck.execute("INSERT INTO _store_zone SELECT store_id, timezone FROM _in_stores")
    result.add("stores", changed)
    return zones


def _products(
    source: Connection, duck: Any, dialect: str, state: dict[str, str], result: ExtractResult
) -> dict[str, str]:
    t = Product.__table__
    statement = select(t.c.sku, t.c.category_path, _instant(t.c.updated_at, dialect))
    since = _since(state, "products_updated_at")
    if since is not None:
        statement = statement.where(t.c.updated_at >= since)
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _in_products (sku VARCHAR, category VARCHAR, "
        "updated_at TIMESTAMP)"
    )
    _stream(
        source,
        statement,
        duck,
        "_in_products",
        ["sku", "path", "updated_at"],
        "SELECT sku, split_part(ltrim(coalesce(path, ''), '/'), '/', 1), "
        "CAST(updated_at AS TIMESTAMP) FROM _batch",
    )
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _changed_skus AS SELECT sku, category FROM "
        "(SELECT sku, category FROM _in_products EXCEPT SELECT sku, category FROM _products)"
    )
    changed = _count(duck, "SELECT count(*) FROM _changed_skus")
    result.add("products", changed)
    if changed:
        duck.execute("DELETE FROM _products WHERE sku IN (SELECT sku FROM _changed_skus)")
        duck.execute("INSERT INTO _products SELECT sku, category FROM _changed_skus")
        result.add(
            "order_lines",
            _count(
                duck,
                "WITH u AS (UPDATE order_lines SET category = c.category FROM _changed_skus c "
                "WHERE order_lines.sku = c.sku AND order_lines.category <> c.category "
                "RETURNING 1) SELECT count(*) FROM u",
            ),
        )
    top = _latest(duck, "_in_products")
    if top is not None:
        return {"products_updated_at": top}
    return {k: v for k, v in state.items() if k == "products_updated_at"}


def _orders(
    source: Connection,
    duck: Any,
    dialect: str,
    state: dict[str, str],
    zone: str,
    result: ExtractResult,
) -> dict[str, str]:
    low = max(0, int(state.get("order_id", "0")) - ID_OVERLAP)
    o = Order.__table__
    duck.execute("CREATE OR REPLACE TEMP TABLE _in_orders AS SELECT * FROM orders LIMIT 0")
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _have AS SELECT order_id FROM orders WHERE order_id > ?",
        [low],
    )
    _stream(
        source,
        select(
            o.c.id,
            o.c.customer_id,
            o.c.store_id,
            o.c.channel,
            _instant(o.c.ordered_at, dialect),
            o.c.gross_fen,
            o.c.total_fen,
        )
        .where(o.c.id > low)
        .order_by(o.c.id),
        duck,
        "_in_orders",
        ["order_id", "customer_id", "store_id", "channel", "ordered_at", "gross_fen", "paid"],
        "SELECT b.order_id, b.customer_id, b.store_id, b.channel, "
        "CAST(b.ordered_at AS TIMESTAMP), "
        + _local_date("CAST(b.ordered_at AS TIMESTAMP)", f"coalesce(z.timezone, {zone})")
        + ", b.gross_fen, b.paid, 0, b.paid FROM _batch b "
        "LEFT JOIN _store_zone z ON z.store_id = b.store_id "
        "WHERE b.order_id NOT IN (SELECT order_id FROM _have)",
    )
    moved = _count(duck, "SELECT count(*) FROM _in_orders")
    duck.execute("INSERT INTO orders SELECT * FROM _in_orders")
    result.add("orders", moved)
    # What an export said of the order beyond its money (orders are never changed).
    duck.execute("DELETE FROM order_attributes WHERE order_id > ?", [low])
    said = or_(
        o.c.country.is_not(None),
        o.c.province.is_not(None),
        o.c.city.is_not(None),
        o.c.payment_method.is_not(None),
        o.c.cashier.is_not(None),
    )
    _stream(
        source,
        select(o.c.id, o.c.country, o.c.province, o.c.city, o.c.payment_method, o.c.cashier)
        .where(o.c.id > low, said)
        .order_by(o.c.id),
        duck,
        "order_attributes",
        ["order_id", "country", "province", "city", "payment_method", "cashier"],
        "SELECT * FROM _batch",
    )

    ln = OrderLine.__table__
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _have_lines AS SELECT line_id FROM order_lines "
        "WHERE order_id > ?",
        [low],
    )
    _stream(
        source,
        select(ln.c.id, ln.c.order_id, ln.c.sku, ln.c.quantity_milli, ln.c.amount_fen).where(
            ln.c.order_id > low
        ),
        duck,
        "order_lines",
        ["line_id", "order_id", "sku", "quantity_milli", "amount_fen"],
        "SELECT b.line_id, b.order_id, b.sku, coalesce(p.category, ''), b.quantity_milli, "
        "b.amount_fen, 0, b.amount_fen FROM _batch b LEFT JOIN _products p ON p.sku = b.sku "
        "WHERE b.line_id NOT IN (SELECT line_id FROM _have_lines)",
    )
    result.add(
        "order_lines",
        _count(duck, "SELECT count(*) FROM order_lines WHERE order_id > ?", [low])
        - _count(duck, "SELECT count(*) FROM _have_lines"),
    )
    top = _count(duck, "SELECT max(order_id) FROM orders")
    return {"order_id": str(top)}


def _refunds(
    source: Connection,
    duck: Any,
    dialect: str,
    state: dict[str, str],
    zone: str,
    result: ExtractResult,
) -> dict[str, str]:
    low = max(0, int(state.get("refund_id", "0")) - ID_OVERLAP)
    r = Refund.__table__
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _have_refunds AS SELECT refund_id FROM refunds "
        "WHERE refund_id > ?",
        [low],
    )
    before = _count(duck, "SELECT count(*) FROM refunds")
    _stream(
        source,
        select(r.c.id, r.c.order_id, _instant(r.c.refunded_at, dialect), r.c.amount_fen)
        .where(r.c.id > low)
        .order_by(r.c.id),
        duck,
        "refunds",
        ["refund_id", "order_id", "refunded_at", "amount_fen"],
        "SELECT refund_id, order_id, CAST(refunded_at AS TIMESTAMP), "
        + _local_date("CAST(refunded_at AS TIMESTAMP)", zone)
        + ", amount_fen FROM _batch WHERE refund_id NOT IN (SELECT refund_id FROM _have_refunds)",
    )
    result.add("refunds", _count(duck, "SELECT count(*) FROM refunds") - before)

    rl = RefundLine.__table__
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _have_refund_lines AS SELECT refund_line_id "
        "FROM _refund_lines WHERE refund_id > ?",
        [low],
    )
    before = _count(duck, "SELECT count(*) FROM _refund_lines")
    _stream(
        source,
        select(rl.c.id, rl.c.refund_id, rl.c.order_line_id, rl.c.amount_fen).where(
            rl.c.refund_id > low
        ),
        duck,
        "_refund_lines",
        ["refund_line_id", "refund_id", "order_line_id", "amount_fen"],
        "SELECT * FROM _batch WHERE refund_line_id NOT IN "
        "(SELECT refund_line_id FROM _have_refund_lines)",
    )
    result.add("refund_lines", _count(duck, "SELECT count(*) FROM _refund_lines") - before)
    return {"refund_id": str(_count(duck, "SELECT max(refund_id) FROM refunds"))}


def _customers(
    source: Connection,
    duck: Any,
    dialect: str,
    state: dict[str, str],
    zone: str,
    result: ExtractResult,
) -> tuple[dict[str, str], set[int]]:
    """Upsert changed profiles; returns the new watermark and the profiles whose orders may
    have changed hands (merged, unmerged, and the profiles they were merged into)."""
    c = Customer.__table__
    statement = select(
        c.c.id,
        _instant(c.c.signed_up_at, dialect),
        c.c.home_store_id,
        c.c.signup_channel,
        c.c.status,
        c.c.merged_into_id,
        _instant(c.c.updated_at, dialect),
    )
    since = _since(state, "customers_updated_at")
    if since is not None:
        m = CustomerMerge.__table__
        merged_lately = or_(m.c.merged_at >= since, m.c.unmerged_at >= since)
        statement = statement.where(
            or_(
                c.c.updated_at >= since,
                c.c.id.in_(select(m.c.merged_id).where(merged_lately)),
                c.c.id.in_(select(m.c.survivor_id).where(merged_lately)),
            )
        )
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _in_customers AS "
        "SELECT *, CAST(NULL AS TIMESTAMP) AS updated_at FROM _customers_all LIMIT 0"
    )
    _stream(
        source,
        statement,
        duck,
        "_in_customers",
        ["id", "signed_up_at", "home_store_id", "channel", "status", "merged_into_id", "upd"],
        "SELECT id, CAST(signed_up_at AS TIMESTAMP), "
        + _local_date("CAST(signed_up_at AS TIMESTAMP)", zone)
        + ", home_store_id, channel, status, merged_into_id, CAST(upd AS TIMESTAMP) FROM _batch",
    )
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _changed_customers AS SELECT * FROM "
        "(SELECT * EXCLUDE (updated_at) FROM _in_customers EXCEPT SELECT * FROM _customers_all)"
    )
    repoint: set[int] = set()
    for cid, old_status, old_into, status, into in duck.execute(
        "SELECT n.customer_id, o.status, o.merged_into_id, n.status, n.merged_into_id "
        "FROM _changed_customers n LEFT JOIN _customers_all o USING (customer_id)"
    ).fetchall():
        if old_status is None and status == "active":
            continue  # a new profile: its orders arrive with it
        if old_status != status or old_into != into:
            repoint.update(x for x in (cid, old_into, into) if x is not None)
    changed = _count(duck, "SELECT count(*) FROM _changed_customers")
    result.add("customers", changed)
    if changed:
        duck.execute(
            "DELETE FROM _customers_all WHERE customer_id IN "
            "(SELECT customer_id FROM _changed_customers)"
        )
        duck.execute("INSERT INTO _customers_all SELECT * FROM _changed_customers")
        duck.execute(
            "DELETE FROM customers WHERE customer_id IN "
            "(SELECT customer_id FROM _changed_customers)"
        )
        duck.execute(
            "INSERT INTO customers SELECT customer_id, signed_up_at, signup_date, home_store_id, "
            "signup_channel FROM _changed_customers WHERE status = 'active'"
        )
    top = _latest(duck, "_in_customers")
    if top is not None:
        return {"customers_updated_at": top}, repoint
    kept = {k: v for k, v in state.items() if k == "customers_updated_at"}
    return kept, repoint


def _chunks(values: Iterable[int], size: int = _IN_CHUNK) -> Iterable[list[int]]:
    items = sorted(values)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _repoint_orders(
    source: Connection, duck: Any, customer_ids: set[int], result: ExtractResult
) -> None:
    """Take the current owner of every order of these profiles from the operational side."""
    if not customer_ids:
        return
    o = Order.__table__
    duck.execute("CREATE OR REPLACE TEMP TABLE _owners (order_id BIGINT, customer_id BIGINT)")
    for chunk in _chunks(customer_ids):
        _stream(
            source,
            select(o.c.id, o.c.customer_id).where(o.c.customer_id.in_(chunk)),
            duck,
            "_owners",
            ["order_id", "customer_id"],
            "SELECT * FROM _batch",
        )
    result.add(
        "orders",
        _count(
            duck,
            "WITH u AS (UPDATE orders SET customer_id = w.customer_id FROM _owners w "
            "WHERE orders.order_id = w.order_id AND orders.customer_id IS DISTINCT FROM "
            "w.customer_id RETURNING 1) SELECT count(*) FROM u",
        ),
    )


def _resolve_merged_owners(duck: Any, result: ExtractResult) -> None:
    """Orders still naming a merged profile go to the live profile at the end of its chain."""
    duck.execute(
        """
        CREATE OR REPLACE TEMP TABLE _roots AS
        WITH RECURSIVE chain(customer_id, target, depth) AS (
            SELECT customer_id, merged_into_id, 1 FROM _customers_all
            WHERE status = 'merged' AND merged_into_id IS NOT NULL
            UNION ALL
            SELECT chain.customer_id, a.merged_into_id, chain.depth + 1
            FROM chain JOIN _customers_all a ON a.customer_id = chain.target
            WHERE a.status = 'merged' AND a.merged_into_id IS NOT NULL AND chain.depth < 50
        )
        SELECT customer_id, arg_max(target, depth) AS root FROM chain GROUP BY 1
        """
    )
    result.add(
        "orders",
        _count(
            duck,
            "WITH u AS (UPDATE orders SET customer_id = r.root FROM _roots r "
            "WHERE orders.customer_id = r.customer_id RETURNING 1) SELECT count(*) FROM u",
        ),
    )


def _refresh_refunded(
    duck: Any, *, low_order_id: int, low_refund_id: int, result: ExtractResult
) -> None:
    """Fold refunds into the orders and lines they touch: new orders, and orders of new
    refunds (which may have been extracted long before)."""
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _affected AS "
        "SELECT order_id FROM orders WHERE order_id > ? "
        "UNION SELECT order_id FROM refunds WHERE refund_id > ?",
        [low_order_id, low_refund_id],
    )
    result.add(
        "orders",
        _count(
            duck,
            """
            WITH sums AS (
                SELECT a.order_id, coalesce(sum(r.amount_fen), 0) AS refunded
                FROM _affected a LEFT JOIN refunds r USING (order_id) GROUP BY a.order_id
            ),
            u AS (
                UPDATE orders SET refunded_fen = sums.refunded,
                    net_fen = orders.paid_fen - sums.refunded
                FROM sums WHERE orders.order_id = sums.order_id
                    AND orders.refunded_fen <> sums.refunded
                RETURNING 1
            )
            SELECT count(*) FROM u
            """,
        ),
    )
    result.add(
        "order_lines",
        _count(
            duck,
            """
            WITH sums AS (
                SELECT rl.order_line_id, sum(rl.amount_fen) AS refunded
                FROM _refund_lines rl JOIN refunds r USING (refund_id)
                WHERE r.order_id IN (SELECT order_id FROM _affected)
                GROUP BY rl.order_line_id
            ),
            u AS (
                UPDATE order_lines SET refunded_fen = sums.refunded,
                    net_fen = order_lines.amount_fen - sums.refunded
                FROM sums WHERE order_lines.line_id = sums.order_line_id
                    AND order_lines.refunded_fen <> sums.refunded
                RETURNING 1
            )
            SELECT count(*) FROM u
            """,
        ),
    )
