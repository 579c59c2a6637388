"""Writing many rows at once, in the caller's transaction: plain tuples straight to the
driver (PostgreSQL ``COPY``, SQLite ``executemany``), with none of the per-row work of
ORM objects or bound dictionaries. For a million rows that is seconds instead of minutes
(a campaign's outbox rows and members, docs/architecture.md).

The values must already be what the database stores: ints, strings, bools, None, and for
an instant a UTC ``datetime`` (naive on SQLite, as ``UTCDateTime`` stores it).
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_temp_names = itertools.count()


def _check(*names: str) -> None:
    for name in names:
        if not _NAME.match(name):
            raise ValueError(f"not a plain SQL name: {name!r}")


# The PostgreSQL column types whose Python values (ints, bools, strings) psycopg dumps in
# binary for COPY, as the type it dumps them as; each writer adds the types of its own
# values (core/db.py's executemany: instants, dates and JSON wrappers).
BINARY_SCALARS = {
    "int2": "int2",
    "int4": "int4",
    "int8": "int8",
    "bool": "bool",
    "text": "text",
    "varchar": "text",
}
# The column types insert_tuples sends in binary: a JSON column's value is its text, which
# PostgreSQL's json reads as sent.
_TUPLE_TYPES = {**BINARY_SCALARS, "json": "text", "float8": "float8"}


def insert_tuples(
    session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``) into ``table``."""
    _check(table, *columns)
    conn = session.connection()
    listed = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        raw: Any = conn.connection.driver_connection
        # psycopg's compiled write_row: with the columns' types known, each value is
        # dumped in binary (a fifth of the client's time of COPY text built in Python);
        # a type not listed goes as text, which write_row adapts per value.
        types = [_TUPLE_TYPES.get(t) for t in _column_types(session, table, columns)]
        _copy(raw, table, listed, types, rows)
        return
    marks = ", ".join("?" for _ in columns)
    batch = list(rows)
    if batch:
        conn.exec_driver_sql(f"INSERT INTO {table} ({listed}) VALUES ({marks})", batch)


def _copy(
    raw: Any, table: str, listed: str, types: list[str | None], rows: Iterable[Sequence[Any]]
) -> None:
    """COPY ``rows`` into ``table`` on psycopg's connection ``raw``: in binary when every
    column's type has a binary form (``types``), else as text, which write_row adapts."""
    binary = all(types)
    form = " (FORMAT binary)" if binary else ""
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({listed}) FROM STDIN{form}") as copy:
        if binary:
            copy.set_types(types)
        for row in rows:
            copy.write_row(row)


# The column types write_tuples sends in binary: insert_tuples's, and instants (aware
# datetimes), which the writers of orders and their lines hand over as they are.
_WRITTEN_TYPES = {**_TUPLE_TYPES, "timestamptz": "timestamptz"}
_COPY_FROM = 64  # rows: fewer go by executemany (a COPY's own round trips cost more)
_TYPES_OF: dict[tuple[str, str], dict[str, str]] = {}


@lru_cache(maxsize=4096)  # an order's time is its event's too; a batch shares its now
def sqlite_instant(value: datetime) -> str:
    """An instant as SQLite holds a ``UTCDateTime``: UTC text in this one format (the text
    core/db.py writes, so text order is time order)."""
    utc = value.astimezone(UTC)
    if utc.year < 1000:  # strftime's %Y does not pad these to four digits; isoformat does
        return f"{utc:%Y-%m-%d %H:%M:%S.%f}"
    # The same text as that format, written by isoformat at a fifth of strftime's cost.
    return utc.replace(tzinfo=None).isoformat(" ", "microseconds")


def instant_writer(conn: Connection) -> Callable[[datetime], Any]:
    """How :func:`write_tuples` takes an instant on ``conn``'s database: its text on SQLite
    (:func:`sqlite_instant`), the aware ``datetime`` in UTC on PostgreSQL."""
    return sqlite_instant if conn.dialect.name == "sqlite" else _in_utc


def _in_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def write_tuples(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    optional: frozenset[str] = frozenset(),
) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``) into ``table``, for a table
    written batch after batch: :func:`insert_tuples` without its look-up of the column
    types on every call (they are read from the catalog once per database), taking
    instants too. Values are what the database stores: on PostgreSQL an instant is an
    aware ``datetime``, on SQLite its text (:func:`sqlite_instant`).

    PostgreSQL takes 64 rows or more by ``COPY`` (binary when every column's type has a
    binary form here), fewer by one executemany; SQLite by one executemany."""
    if not rows:
        return
    # The ``optional`` columns NULL in every row are left out (NULL all the same), as
    # core/db.insert_rows leaves them out: sqlite3 would otherwise look an adapter up, and
    # fail, for each None it binds.
    empty = [
        n
        for n, name in enumerate(columns)
        if name in optional and all(row[n] is None for row in rows)
    ]
    if empty:
        keep = [n for n in range(len(columns)) if n not in empty]
        pick = itemgetter(*keep)
        columns = [columns[n] for n in keep]
        rows = [pick(row) for row in rows]
    _check(table, *columns)
    listed = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        if len(rows) >= _COPY_FROM:
            key = (str(conn.engine.url), table)
            found = _TYPES_OF.get(key)
            if found is None:
                found = _TYPES_OF[key] = table_column_types(conn, table)
            types = [_WRITTEN_TYPES.get(found.get(c, "")) for c in columns]
            _copy(conn.connection.driver_connection, table, listed, types, rows)
            return
        marks = ", ".join("%s" for _ in columns)
    else:
        marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {table} ({listed}) VALUES ({marks})", list(rows))


def temporary_table(session: Session, prefix: str, columns: dict[str, tuple[str, str]]) -> str:
    """Make a temporary table for this transaction's connection and return its name;
    ``columns``: name → (PostgreSQL type, SQLite type). Drop it with :func:`drop_table`
    (on PostgreSQL it goes at commit anyway)."""
    _check(prefix, *columns)
    conn = session.connection()
    postgres = conn.dialect.name == "postgresql"
    name = f"{prefix}_{os.getpid()}_{next(_temp_names)}"
    typed = ", ".join(f"{c} {pg if postgres else lite}" for c, (pg, lite) in columns.items())
    tail = " ON COMMIT DROP" if postgres else ""
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {name} ({typed}){tail}")
    return name


def drop_table(session: Session, name: str) -> None:
    _check(name)
    session.connection().exec_driver_sql(f"DROP TABLE IF EXISTS {name}")


_ARROW_BLOCK = 50_000


def insert_arrow(session: Session, table: str, rows: Any, *, freeze: bool = False) -> int:
    """Insert every row of the Arrow table ``rows`` (its column names are ``table``'s) and
    return how many. Values must be what the database stores; a JSON column comes as its
    text.

    PostgreSQL takes them through ``COPY … (FORMAT binary)``, each block of rows encoded
    a column at a time by NumPy (:func:`copy_binary`): no Python object per value, and
    PostgreSQL reads numbers and dates as they are instead of parsing their text. A column
    that encoding does not take (its PostgreSQL type, or its Arrow type for that: text
    for a number, say) sends the table as CSV written by Arrow in C++.
    Elsewhere (SQLite) one ``executemany`` per block, dates as the ISO text SQLAlchemy
    stores. ``freeze``: COPY with FREEZE, for a table made in the current transaction
    (PostgreSQL only).
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    columns = list(rows.column_names)
    _check(table, *columns)
    conn = session.connection()
    listed = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        raw: Any = conn.connection.driver_connection
        frozen = ", FREEZE" if freeze else ""
        types = _column_types(session, table, columns)
        if all(_binary_fits(c.type, t) for c, t in zip(rows.columns, types, strict=True)):
            sql = f"COPY {table} ({listed}) FROM STDIN (FORMAT binary{frozen})"
            with raw.cursor() as cursor, cursor.copy(sql) as copy:
                copy.write(_BINARY_SIGNATURE)
                for batch in rows.to_batches(_ARROW_BLOCK):
                    copy.write(copy_binary(batch, types))
                copy.write(_BINARY_TRAILER)
            return int(rows.num_rows)
        options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
        sql = f"COPY {table} ({listed}) FROM STDIN (FORMAT csv{frozen})"
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for batch in rows.to_batches(_ARROW_BLOCK):
                sink = pa.BufferOutputStream()
                pa_csv.write_csv(pa.Table.from_batches([batch]), sink, options)
                copy.write(sink.getvalue().to_pybytes())
        return int(rows.num_rows)
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {table} ({listed}) VALUES ({marks})"
    for batch in rows.to_batches(_ARROW_BLOCK):
        values = [
            [v.isoformat() if type(v) is date else v for v in column.to_pylist()]
            for column in batch.columns
        ]
        if batch.num_rows:
            conn.exec_driver_sql(sql, list(zip(*values, strict=True)))
    return int(rows.num_rows)


# PostgreSQL's binary COPY format (its documentation, "COPY", "Binary Format"): a
# signature, then per row the number of fields and each field as its length (-1: NULL)
# and its bytes, big-endian, then -1 where the next row's count would be.
_BINARY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_BINARY_TRAILER = b"\xff\xff"
# The types encoded: the width of a fixed one's value, or 0 for text sent as its UTF-8.
_BINARY_TYPES = {
    "int2": 2,
    "int4": 4,
    "int8": 8,
    "float4": 4,
    "float8": 8,
    "bool": 1,
    "date": 4,
    "text": 0,
    "varchar": 0,
    "json": 0,
}
_PG_EPOCH_DAYS = 10_957  # 2000-01-01, PostgreSQL's day 0, in days from 1970-01-01
_NUMPY_OF = {"int2": ">i2", "int4": ">i4", "int8": ">i8", "float4": ">f4", "float8": ">f8"}


def table_column_types(conn: Connection, table: str) -> dict[str, str]:
    """The PostgreSQL type name (``pg_type.typname``) of each of ``table``'s columns, from
    the catalog (a temporary table's too)."""
    found = conn.exec_driver_sql(
        "SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = to_regclass(%(t)s) AND a.attnum > 0 AND NOT a.attisdropped",
        {"t": table},
    )
    return {str(name): str(typ) for name, typ in found.all()}


def _column_types(session: Session, table: str, columns: Sequence[str]) -> list[str]:
    """The PostgreSQL type name (``pg_type.typname``) of each of ``table``'s ``columns``."""
    types = table_column_types(session.connection(), table)
    missing = [c for c in columns if c not in types]
    if missing:
        raise ValueError(f"{table} has no columns {missing}")
    return [types[c] for c in columns]


def copy_binary(batch: Any, types: Sequence[str], *, padded: bool | None = None) -> bytes:
    """The rows of the Arrow record batch ``batch`` in PostgreSQL's binary COPY format
    (without the signature and trailer), its columns sent as ``types`` (names from
    :data:`_BINARY_TYPES`). A number that does not fit its column's type raises ValueError
    naming the column, as does text for a number.

    Built a column at a time, never a row: every row is laid out in a matrix of one row
    per row, each field in a slot as wide as its widest value (the text's longest), the
    bytes each row really has marked, and the marked bytes taken in order. When that
    padding would be large (a few long texts among short ones) every row's offset is
    worked out from the lengths instead, and each column's bytes put at their places at
    once. ``padded`` chooses (tests compare the two)."""
    import numpy as np

    n = batch.num_rows
    if n == 0:
        return b""
    fields = []
    for name, column, typ in zip(batch.schema.names, batch.columns, types, strict=True):
        try:
            fields.append(_binary_field(column, typ))
        except (ValueError, ArithmeticError) as exc:  # Arrow's errors among them
            raise ValueError(f"column {name}: {exc}") from None
    slots = [width or int(max(lengths.max(), 0)) for width, lengths, _ in fields]
    sizes = np.full(n, 2 + 4 * len(fields), dtype=np.int64)
    for _, lengths, _ in fields:
        sizes += np.maximum(lengths, 0)
    total = int(sizes.sum())
    matrix = n * (2 + sum(4 + w for w in slots))
    if padded is None:
        padded = matrix <= 2 * total + (1 << 20)
    if padded:
        return _copy_binary_padded(n, fields, slots)
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    out = np.empty(total, dtype=np.uint8)
    count = np.full((n, 1), len(fields), dtype=">i2").view(np.uint8)
    _place(out, starts, count)
    at = starts + 2
    for width, lengths, values in fields:
        _place(out, at, lengths.astype(">i4").reshape(n, 1).view(np.uint8))
        at += 4
        valid = lengths >= 0
        if width:  # a fixed width: ``values`` holds every row's bytes, nulls' too
            if valid.all():
                _place(out, at, values)
            else:
                _place(out, at[valid], values[valid])
        else:  # text: ``values`` is (the UTF-8 bytes, each row's start in them)
            data, offsets = values
            _place_varying(out, at[valid], offsets[valid], lengths[valid], data)
        at += np.maximum(lengths, 0)
    return out.tobytes()


def _copy_binary_padded(n: int, fields: list[tuple[int, Any, Any]], slots: list[int]) -> bytes:
    """:func:`copy_binary` through a matrix of padded rows (``slots``: each field's width)."""
    import numpy as np

    width = 2 + sum(4 + w for w in slots)
    rows = np.empty((n, width), dtype=np.uint8)
    kept = np.ones((n, width), dtype=bool)
    rows[:, 0:2] = np.full((n, 1), len(fields), dtype=">i2").view(np.uint8)
    at = 2
    for (fixed, lengths, values), slot in zip(fields, slots, strict=True):
        rows[:, at : at + 4] = lengths.astype(">i4").reshape(n, 1).view(np.uint8)
        at += 4
        if fixed:
            rows[:, at : at + slot] = values
            nulls = lengths < 0
            if nulls.any():
                kept[nulls, at : at + slot] = False
        elif slot:
            data, starts = values
            used = np.maximum(lengths, 0)
            within = np.arange(slot, dtype=np.int64) < used[:, None]
            kept[:, at : at + slot] = within
            # the rows' text in row order, which is how a boolean mask fills the slots
            first, total = int(starts[0]), int(used.sum())
            if np.array_equal(starts[1:], starts[:-1] + used[:-1]):
                text = data[first : first + total]
            else:  # gaps between the rows' texts (a NULL's bytes): gathered
                head = np.zeros(n, dtype=np.int64)
                np.cumsum(used[:-1], out=head[1:])
                text = data[np.arange(total, dtype=np.int64) + np.repeat(starts - head, used)]
            block = rows[:, at : at + slot]
            block[within] = text
        at += slot
    return rows[kept].tobytes()


def _binary_fits(arrow: Any, typ: str) -> bool:
    """Whether :func:`copy_binary` encodes values of the Arrow type ``arrow`` as ``typ``."""
    import pyarrow as pa

    if pa.types.is_dictionary(arrow):
        arrow = arrow.value_type
    if typ not in _BINARY_TYPES:
        return False
    if typ in ("int2", "int4", "int8"):
        return bool(pa.types.is_integer(arrow))
    if typ in ("float4", "float8"):
        return bool(pa.types.is_floating(arrow) or pa.types.is_integer(arrow))
    if typ == "bool":
        return bool(pa.types.is_boolean(arrow))
    if typ == "date":
        return bool(pa.types.is_date(arrow))
    return bool(pa.types.is_string(arrow) or pa.types.is_large_string(arrow))


def _binary_field(column: Any, typ: str) -> tuple[int, Any, Any]:
    """(fixed width or 0, each row's length as int32 with -1 for NULL, the values: an
    (n, width) uint8 array of every row's big-endian bytes, or for text the UTF-8 bytes and
    each row's offset into them)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    n = len(column)
    valid = (
        np.ones(n, dtype=bool)
        if column.null_count == 0
        else column.is_valid().to_numpy(zero_copy_only=False)
    )
    width = _BINARY_TYPES[typ]
    if width == 0:
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            raise ValueError(f"{typ} column given as {column.type}")
        kind = np.int64 if pa.types.is_large_string(column.type) else np.int32
        buffers = column.buffers()
        offsets = np.frombuffer(buffers[1], dtype=kind)[column.offset : column.offset + n + 1]
        data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else None
        lengths = np.where(valid, np.diff(offsets), -1).astype(np.int64)
        return 0, lengths, (data, offsets[:-1].astype(np.int64))
    if column.null_count:
        column = pc.fill_null(column, False if pa.types.is_boolean(column.type) else 0)
    if typ == "bool":
        if not pa.types.is_boolean(column.type):
            raise ValueError(f"bool column given as {column.type}")
        raw = column.to_numpy(zero_copy_only=False).astype(np.uint8)
    elif typ == "date":
        if not pa.types.is_date(column.type):
            raise ValueError(f"date column given as {column.type}")
        days = column.cast(pa.date32()).cast(pa.int32()).to_numpy() - np.int32(_PG_EPOCH_DAYS)
        raw = days.astype(">i4")
    else:
        if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
            raise ValueError(f"{typ} column given as {column.type}")
        target = pa.from_numpy_dtype(np.dtype(_NUMPY_OF[typ]).newbyteorder("="))
        raw = column.cast(target).to_numpy().astype(_NUMPY_OF[typ])  # a safe cast: raises
    lengths = np.where(valid, width, -1).astype(np.int64)
    return width, lengths, raw.reshape(n, 1).view(np.uint8).reshape(n, width)


def _place(out: Any, at: Any, values: Any) -> None:
    """Write row i's bytes ``values[i]`` (a uint8 row of a fixed width) at ``out[at[i]:]``."""
    import numpy as np

    width = values.shape[1]
    out[at[:, None] + np.arange(width, dtype=np.int64)] = values


def _place_varying(out: Any, at: Any, starts: Any, lengths: Any, data: Any) -> None:
    """Write ``data[starts[i]:starts[i] + lengths[i]]`` at ``out[at[i]:]`` for every i."""
    import numpy as np

    total = int(lengths.sum())
    if total == 0:
        return
    first = np.zeros(len(lengths), dtype=np.int64)  # each row's first byte among the total
    np.cumsum(lengths[:-1], out=first[1:])
    k = np.arange(total, dtype=np.int64)
    out[k + np.repeat(at - first, lengths)] = data[k + np.repeat(starts - first, lengths)]


def partition_name(parent: str, key: int) -> str:
    """The name of ``parent``'s partition holding the rows of key ``key`` (a run's id)."""
    _check(parent)
    return f"{parent}_run_{int(key)}"


def _is_partitioned(session: Session, table: str) -> bool:
    found = session.connection().exec_driver_sql(
        "SELECT c.relkind = 'p' FROM pg_class c WHERE c.oid = to_regclass(%(t)s)", {"t": table}
    )
    return bool(found.scalar())


def _partition_exists(session: Session, parent: str, name: str) -> bool:
    found = session.connection().exec_driver_sql(
        "SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(%(n)s) "
        "AND inhparent = to_regclass(%(p)s)",
        {"n": name, "p": parent},
    )
    return found.first() is not None


def insert_arrow_partition(
    session: Session,
    table: str,
    rows: Any,
    *,
    key: str,
    value: int,
    serial: str | None = None,
    constants: dict[str, date] | None = None,
    laid_out_by: Sequence[str] = (),
) -> int:
    """Insert every row of ``rows`` (all with ``key`` = ``value``) into ``table`` and return
    how many. On PostgreSQL, when ``table`` is partitioned by list of ``key``
    (docs/operations.md), the rows go into a partition of their own: a bare table made in
    this transaction, filled by COPY with no index kept up row by row, then attached, which
    builds each of ``table``'s indexes on it once, by a sort. A CHECK on ``key`` spares the
    attach its scan of the rows. ``serial``: a column that ``rows`` lacks and ``table``'s
    sequence fills (its id), given here from one block of the sequence instead of a
    ``nextval`` per row. ``key``, and each column of ``constants`` (name → the one value
    it has on every row), is not sent: the new table's default for the COPY, which then
    parses a quarter less. When that partition exists already (the run is written to a
    second time) or elsewhere (SQLite, a plain table), the rows go in as
    :func:`insert_arrow` puts them. Readers see the partition only once the caller commits.
    ``laid_out_by``: columns the new partition's rows are stored in the order of (after
    ``serial`` is given in the order of ``rows``): an index on them then finds its rows
    sorted already, where a sort of a few distinct values costs the most.
    """
    fixed: dict[str, int | date] = {key: int(value), **(constants or {})}
    _check(table, *fixed, *([serial] if serial else []))
    conn = session.connection()
    if conn.dialect.name != "postgresql" or not _is_partitioned(session, table):
        return insert_arrow(session, table, rows)
    name = partition_name(table, value)
    if _partition_exists(session, table, name):
        return insert_arrow(session, table, rows)
    bound = int(value)
    count = int(rows.num_rows)
    sent = [column for column in fixed if column in rows.column_names]
    for column in sent:
        _check_constant(rows.column(column), fixed[column], column)
    if serial and count:
        import numpy as np
        import pyarrow as pa

        first = _sequence_block(session, table, serial, count)
        ids = pa.array(np.arange(first, first + count, dtype=np.int64))
        rows = rows.add_column(0, serial, ids)
    if laid_out_by:  # a stable sort: rows of equal values keep the order given
        _check(*laid_out_by)
        rows = rows.sort_by([(column, "ascending") for column in laid_out_by])
    conn.exec_driver_sql(
        f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS, "
        f"CONSTRAINT ck_{name}_{key} CHECK ({key} = {bound}))"
    )
    listed = ", ".join(f"ALTER COLUMN {c} SET DEFAULT {_literal(fixed[c])}" for c in fixed)
    conn.exec_driver_sql(f"ALTER TABLE {name} {listed}")
    # The table is new in this transaction: its rows can go in frozen (no later pass of
    # VACUUM to mark them so), unless a savepoint is open, which COPY FREEZE refuses.
    freeze = not session.in_nested_transaction()
    insert_arrow(session, name, rows.drop_columns(sent), freeze=freeze)
    listed = ", ".join(f"ALTER COLUMN {c} DROP DEFAULT" for c in fixed)
    conn.exec_driver_sql(f"ALTER TABLE {name} {listed}")
    conn.exec_driver_sql(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES IN ({bound})")
    return count


def _literal(value: int | date) -> str:
    if isinstance(value, date) and not isinstance(value, datetime):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(value))
    raise ValueError(f"not an int or a date: {value!r}")


def _check_constant(column: Any, value: int | date, name: str) -> None:
    import pyarrow.compute as pc

    if column.null_count or not pc.all(pc.equal(column, value)).as_py():
        raise ValueError(f"{name} is not {value} on every row")


def _sequence_block(session: Session, table: str, column: str, count: int) -> int:
    """The first of ``count`` consecutive values drawn from the sequence of ``table.column``
    at once: one ``nextval``, then the sequence stepped over the rest (its step widened for
    one more ``nextval``). ALTER SEQUENCE locks the sequence against other sessions'
    ``nextval`` until the transaction ends, so nobody draws from inside the block."""
    conn = session.connection()
    sequence = conn.exec_driver_sql(
        "SELECT pg_get_serial_sequence(%(t)s, %(c)s)", {"t": table, "c": column}
    ).scalar()
    if sequence is None:
        raise ValueError(f"{table}.{column} draws from no sequence")
    conn.exec_driver_sql(f"ALTER SEQUENCE {sequence} INCREMENT BY 1")  # the lock, first
    first = int(conn.exec_driver_sql("SELECT nextval(%(s)s)", {"s": sequence}).scalar_one())
    if count > 1:
        conn.exec_driver_sql(f"ALTER SEQUENCE {sequence} INCREMENT BY {count - 1}")
        last = conn.exec_driver_sql("SELECT nextval(%(s)s)", {"s": sequence}).scalar_one()
        conn.exec_driver_sql(f"ALTER SEQUENCE {sequence} INCREMENT BY 1")
        if int(last) != first + count - 1:
            raise RuntimeError(f"{sequence} gave {last}, not {first + count - 1}")
    return first


def drop_partitions(session: Session, table: str, values: Iterable[int]) -> list[int]:
    """Drop the partitions :func:`insert_arrow_partition` made in ``table`` for ``values``
    (a run's rows gone at once, where a DELETE would visit each and leave the space to
    VACUUM); returns the values whose partition was dropped. Rows of other values, and
    every row on SQLite, are for the caller to delete."""
    _check(table)
    if session.connection().dialect.name != "postgresql":
        return []
    dropped = []
    for value in values:
        name = partition_name(table, value)
        if _partition_exists(session, table, name):
            session.connection().exec_driver_sql(f"DROP TABLE {name}")
            dropped.append(int(value))
    return dropped


def check_values_known(
    session: Session, values: Any, referred: str, *, table: str, run_id: int
) -> None:
    """A foreign key's check made once for a run's rows, before they go in, on their
    distinct values (the Arrow array ``values``: a run's ten rows per customer are one
    customer id each) in one anti-join, instead of a lookup per row: raises when one is held
    by no ``referred.id`` (the caller's transaction is then rolled back)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    _check(referred, table)
    distinct = pc.unique(values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values)
    distinct = distinct.drop_null()
    if len(distinct) == 0:
        return
    probe = temporary_table(session, "known_ids", {"id": ("bigint", "INTEGER")})
    insert_arrow(session, probe, pa.table({"id": distinct.cast(pa.int64())}))
    query = text(
        f"SELECT p.id FROM {probe} p WHERE NOT EXISTS "
        f"(SELECT 1 FROM {referred} r WHERE r.id = p.id) LIMIT 1"
    )
    found = session.connection().execute(query).first()
    drop_table(session, probe)
    if found is not None:
        raise RuntimeError(f"run {run_id}'s {table} rows name {referred} {found[0]}, unknown")
