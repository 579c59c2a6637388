"""Rows straight through the driver: the inserts and look-ups of the busiest paths.

SQLAlchemy's ``execute`` costs tens of microseconds a statement before the driver is
reached (an execution context, a result, its events) and renders a statement's SQL anew
each time; an order post or an import batch runs many small statements. Here their SQL is
written once per table, dialect and shape, their values converted as the columns' types
would convert them, and the statements run on the driver's cursor in the SQLAlchemy
connection's transaction, errors raised as SQLAlchemy's (docs/architecture.md, "Order
intake over HTTP"). ``patron.core.db`` re-exports the public names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    Select,
    String,
    Table,
    Text,
    TypeDecorator,
    any_,
    bindparam,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from patron.core.bulk import BINARY_SCALARS, table_column_types

# The execution option marking a write session's connection (set by core/db.Database).
WRITE_OPTION = "patron_write"


def reserve_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """Primary keys for ``count`` new rows of ``table``, so a batch can be inserted without RETURNING.

    PostgreSQL takes them from the table's sequence, which is safe under concurrency. SQLite
    continues after the highest id; that is safe because every write transaction holds the
    database's write lock from its first statement (``BEGIN IMMEDIATE``).
    """
    if count <= 0:
        return []
    if conn.dialect.name == "sqlite":
        if not conn.get_execution_options().get(WRITE_OPTION):
            raise RuntimeError("reserve_ids needs a write session on SQLite")
        statement = _MAX_ID.get(table.name)
        if statement is None:
            statement = _MAX_ID[table.name] = select(func.coalesce(func.max(table.c.id), 0))
        top = conn.execute(statement).scalar_one()
        return list(range(top + 1, top + 1 + count))
    # One row holding an array: a row per id cost the client a fetch each.
    return list(conn.exec_driver_sql(_next_ids(conn, table), {"n": count}).scalar_one())


_NEXT_IDS: dict[tuple[str, str], str] = {}


def _next_ids(conn: Connection, table: Table) -> str:
    """The statement drawing ``%(n)s`` ids from ``table``'s sequence, its name found once per
    database: written into the statement as a literal, it is resolved once when the
    statement is parsed, where ``pg_get_serial_sequence`` in it was called, and its text
    looked up as a name, for every id drawn."""
    key = (str(conn.engine.url), table.name)
    statement = _NEXT_IDS.get(key)
    if statement is None:
        sequence = conn.execute(
            text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table.name}
        ).scalar_one()
        if sequence is None:
            raise ValueError(f"{table.name}.id draws from no sequence")
        literal = str(sequence).replace("'", "''")
        statement = _NEXT_IDS[key] = (
            f"SELECT ARRAY(SELECT nextval('{literal}'::regclass) FROM generate_series(1, %(n)s))"
        )
    return statement


def one_of(column: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """``column IN :name`` for a list bound as ``name``, as ``dialect`` reads it best.

    On PostgreSQL ``column = ANY(:name)``: one array parameter, so the statement's text is
    the same for any number of values (the driver prepares it once, the server plans it
    without parsing a parameter per value). An ``IN`` list of a batch's 500 values costs
    SQLAlchemy and the driver a rendering and a scan of its text on every call. Elsewhere
    an expanding ``IN``."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


_RETURNING: dict[str, Any] = {}
_MAX_ID: dict[str, Any] = {}
_PLAIN: dict[str, Any] = {}


def insert_rows(
    conn: Connection, table: Table, rows: list[dict[str, Any]], *, want_ids: bool = True
) -> list[int]:
    """Insert ``rows`` and return their new ids, in order, in as few statements as possible.

    One row: a single INSERT … RETURNING. Several: ids reserved up front, then one
    executemany (SQLite runs a RETURNING insert of many rows one row at a time). Without
    ``want_ids`` the database numbers the rows itself and nothing is returned.
    """
    if not rows:
        return []
    copy = conn.dialect.name == "postgresql" and len(rows) >= _COPY_FROM
    if not want_ids:
        converters = _driver_converters(conn, table, copy)
        if converters is not None:
            _driver_executemany(conn, table, rows, converters)
        else:
            conn.execute(insert(table), rows)
        return []
    name = table.name
    if len(rows) == 1:
        new_id = _insert_one(conn, table, rows[0])
        if new_id is not None:
            return [new_id]
        statement = _RETURNING.get(name)
        if statement is None:
            statement = _RETURNING[name] = insert(table).returning(table.c.id)
        return [conn.execute(statement, rows[0]).scalar_one()]
    ids = reserve_ids(conn, table, len(rows))
    for row, new_id in zip(rows, ids, strict=True):
        row["id"] = new_id
    converters = _driver_converters(conn, table, copy)
    if converters is not None:
        _driver_executemany(conn, table, rows, converters)
        return ids
    statement = _PLAIN.get(name)
    if statement is None:
        statement = _PLAIN[name] = insert(table)
    conn.execute(statement, rows)
    return ids


_CONVERTERS: dict[tuple[str, str, bool], dict[str, Callable[[Any], Any]] | None] = {}


@lru_cache(maxsize=4096)  # a batch's rows share their created_at, and often their times
def _sqlite_instant(value: datetime | None) -> str | None:
    # The text SQLAlchemy writes for a DateTime on SQLite, so both paths compare alike.
    if value is None:
        return None
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f}"


def _driver_converters(
    conn: Connection, table: Table, copy: bool = False
) -> dict[str, Callable[[Any], Any]] | None:
    """How to hand each column's values straight to the driver, or None when we can't;
    ``copy``: the rows go by PostgreSQL's COPY, which takes a JSON document as its text."""
    return _converters(conn.dialect, table, copy)


def _converters(
    dialect: Any, table: Table, copy: bool = False
) -> dict[str, Callable[[Any], Any]] | None:
    """:func:`_driver_converters` for ``dialect``."""
    key = (table.name, dialect.name, copy)
    if key in _CONVERTERS:
        return _CONVERTERS[key]
    from patron.core.models import UTCDateTime

    converters: dict[str, Callable[[Any], Any]] | None = {}
    for column in table.columns:
        kind = type(column.type)
        if kind in (Integer, BigInteger, String, Text):
            continue
        if kind is UTCDateTime:
            if dialect.name == "sqlite":
                converters[column.name] = _sqlite_instant  # type: ignore[index]
            else:
                converters[column.name] = lambda v: v if v is None else v.astimezone(UTC)  # type: ignore[index]
            continue
        if copy and isinstance(column.type, JSON):
            # psycopg's Json wrapper, as SQLAlchemy binds it; COPY writes it as its text
            process = column.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                converters[column.name] = process  # type: ignore[index]
            continue
        if _plain_bind(column.type, dialect.name):
            # The type's own conversion (an encrypted column's sealing, a JSON document's
            # text), as SQLAlchemy would apply it, without its per-row bookkeeping.
            process = column.type.bind_processor(dialect)
            if process is not None:
                converters[column.name] = process  # type: ignore[index]
            continue
        converters = None  # anything else: let SQLAlchemy do it
        break
    _CONVERTERS[key] = converters
    return converters


def _plain_bind(kind: Any, dialect: str) -> bool:
    """Whether a value of ``kind``, once its bind processor has run, goes to the driver as
    SQLAlchemy would send it: a decorated text type (an encrypted column) anywhere; JSON on
    SQLite, where it is text (PostgreSQL's driver is told its type by a cast SQLAlchemy
    writes into the statement)."""
    if isinstance(kind, TypeDecorator):
        return type(kind.impl_instance) in (String, Text)
    return dialect == "sqlite" and isinstance(kind, JSON)


def _driver_executemany(
    conn: Connection,
    table: Table,
    rows: list[dict[str, Any]],
    converters: dict[str, Callable[[Any], Any]],
) -> None:
    """One executemany straight through the driver, skipping SQLAlchemy's per-row work.

    Order lines and orders are most of every batch; their columns are integers, strings
    and instants, which need no more than the conversions above.
    """
    columns = list(rows[0])
    quote = conn.dialect.identifier_preparer.quote
    take = itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
    params: list[Any] = [take(row) for row in rows]
    convert = [(n, f) for n, c in enumerate(columns) if (f := converters.get(c)) is not None]
    if convert:
        for at, taken in enumerate(params):
            values = list(taken)
            for n, f in convert:
                values[n] = f(values[n])
            params[at] = tuple(values)
    columns, params = _without_null_columns(table, columns, params)
    if conn.dialect.name == "postgresql" and len(params) >= _COPY_FROM:
        # COPY is PostgreSQL's fastest way in: several times an executemany's rate.
        raw: Any = conn.connection.dbapi_connection  # psycopg's own connection
        names = ", ".join(quote(c) for c in columns)
        # In binary when every column's type is one psycopg dumps so: its compiled
        # write_row then formats no text (a third of the client's time of the COPY).
        types = _binary_types(conn, table, tuple(columns))
        form = " (FORMAT binary)" if types is not None else ""
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN{form}") as copy,
        ):
            if types is not None:
                copy.set_types(types)
            for values in params:
                copy.write_row(values)
        return
    pg = conn.dialect.name == "postgresql"
    sql = _many_sql(conn.dialect, table, columns, len(params) if pg else 0)
    if pg:
        # A few rows (an order's lines) as one statement, in their order: psycopg's pipelined
        # executemany costs the client more than the rows (3 rows: 190 against 112 us CPU).
        driver_execute(conn, sql, list(chain(*params)))
        return
    driver_execute(conn, sql, params, many=True)


_MANY_SQL: dict[tuple[str, str, tuple[str, ...], int], str] = {}


def _many_sql(dialect: Any, table: Table, columns: list[str], count: int) -> str:
    """The INSERT of rows of ``columns``: on PostgreSQL ``count`` rows in one statement,
    on SQLite one row's (for an executemany). Its text is made once per table, columns
    and count."""
    key = (table.name, dialect.name, tuple(columns), count)
    sql = _MANY_SQL.get(key)
    if sql is None:
        quote = dialect.identifier_preparer.quote
        pg = dialect.name == "postgresql"
        one_row = f"({', '.join(['?' if not pg else '%s'] * len(columns))})"
        sql = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) VALUES "
        sql = _MANY_SQL[key] = sql + ", ".join([one_row] * (count if pg else 1))
    return sql


def driver_execute(
    conn: Connection, sql: str, params: Any, *, many: bool = False
) -> list[tuple[Any, ...]]:
    """Run ``sql`` (the dialect's own text and parameter style) straight on the driver's
    cursor of ``conn``, in its transaction; the rows it returns, if any.

    ``Connection.exec_driver_sql`` costs 30–40 µs of CPU a statement on SQLite and 60 µs on
    PostgreSQL before the driver is reached (an execution context, a result object, its
    events), several times the driver's own time for a one-row insert; an order post runs
    several such statements. Errors come out as SQLAlchemy's, as from ``execute`` (an
    ``IntegrityError`` for a unique key, which ``Database.write`` retries), and a dropped
    connection is invalidated; the statement is not echoed to the SQL log.
    """
    if not conn.in_transaction():  # as SQLAlchemy's execute would, begin first
        conn.begin()
    cursor: Any = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = list(cursor.fetchall()) if cursor.description else []
    except Exception as exc:
        # As SQLAlchemy's own handling of a statement's error: the driver's error wrapped
        # in the matching SQLAlchemy exception (IntegrityError …, a StatementError for any
        # other error), the connection invalidated when the error says it is gone, and the
        # pool's older connections with it (the pool is replaced; the checked-out ones are
        # dropped as they come back). Imported here: the error path only.
        from contextlib import suppress

        from sqlalchemy.exc import DBAPIError, StatementError

        dialect = conn.dialect
        base = dialect.loaded_dbapi.Error
        if isinstance(exc, StatementError) and not isinstance(exc, base):
            raise
        gone = (
            isinstance(exc, base)
            and not conn.closed
            and dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor)
        )
        error = DBAPIError.instance(
            sql,
            params,
            exc,
            base,
            hide_parameters=conn.engine.hide_parameters,
            connection_invalidated=gone,
            dialect=dialect,
            ismulti=False,
        )
        if gone:
            conn.invalidate(exc)
            conn.engine.dispose(close=False)
        else:
            with suppress(Exception):  # as SQLAlchemy: the statement's error is the one raised
                cursor.close()
        raise error.with_traceback(exc.__traceback__) from exc
    cursor.close()
    return rows


@dataclass(frozen=True, slots=True)
class _PlainSelect:
    sql: str
    binds: tuple[tuple[str, int, Callable[[Any], Any] | None], ...]  # name, list index, convert
    defaults: dict[str, Any]  # the statement's own bound values
    results: tuple[Callable[[Any], Any] | None, ...] | None  # None: every value as it is

    def values(self, params: Mapping[str, Any]) -> list[Any]:
        """The driver's positional parameters, converted as the binds' types convert them."""
        values = []
        for name, at, convert in self.binds:
            value = params[name] if name in params else self.defaults[name]
            if at >= 0:
                value = value[at]
            values.append(value if convert is None else convert(value))
        return values

    def converted(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """The driver's rows with each value converted as its column's type converts it."""
        results = self.results
        if results is None:
            return rows
        return [
            tuple(v if f is None else f(v) for f, v in zip(results, row, strict=True))
            for row in rows
        ]


_PLAIN_SELECTS: dict[tuple[Any, str, tuple[int, ...]], _PlainSelect] = {}
_NAMED = re.compile(r"%\((\w+)\)s|__\[POSTCOMPILE_(\w+)\]")


def plain_rows(
    conn: Connection, statement: Select[Any], params: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """The rows of a Core select of plain columns as ``conn.execute`` gives them (each value
    converted by its column's type), through :func:`driver_execute`: its SQL compiled once
    per dialect and length of each expanding list, which ``execute`` renders anew each time
    (a third of a one-row look-up's CPU). For the look-ups of a single order post."""
    expanding = tuple(len(v) for v in params.values() if isinstance(v, list | tuple))
    if 0 in expanding or sum(expanding) > 64:  # an empty list (SQLAlchemy renders its own
        # empty set), or a batch's: kept to SQLAlchemy's rendering, not one SQL text per length
        return [tuple(row) for row in conn.execute(statement, params)]
    plain = _plain_for(statement, conn.dialect, params, expanding)
    return plain.converted(driver_execute(conn, plain.sql, plain.values(params)))


def plain_dicts(
    conn: Connection, statement: Select[Any], params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """:func:`plain_rows` as ``.mappings()`` gives them: each row by its columns' keys."""
    return _as_dicts(statement, plain_rows(conn, statement, params))


def _as_dicts(statement: Select[Any], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    if not rows:  # a new order's key look-up finds none
        return []
    keys = _KEYS.get(statement)
    if keys is None:
        keys = _KEYS[statement] = tuple(str(c.key) for c in statement.selected_columns)
    return [dict(zip(keys, row, strict=True)) for row in rows]


_KEYS: dict[Select[Any], tuple[str, ...]] = {}  # by statement: its columns' keys


def _plain_for(
    statement: Select[Any],
    dialect: Any,
    params: Mapping[str, Any],
    expanding: tuple[int, ...] | None = None,
) -> _PlainSelect:
    """``statement`` compiled for ``dialect`` and the lengths of ``params``' lists, once."""
    if expanding is None:
        expanding = tuple(len(v) for v in params.values() if isinstance(v, list | tuple))
    key = (statement, dialect.name, expanding)
    plain = _PLAIN_SELECTS.get(key)
    if plain is None:
        plain = _PLAIN_SELECTS[key] = _plain_select(statement, dialect, params)
    return plain


class PlainReader:
    """Plain selects (:func:`plain_rows`) on a pooled driver connection outside any
    transaction, with no SQLAlchemy connection or session around it: each statement reads
    its own snapshot. Made by ``core/db.Database.plain_read``, for the few reads a request
    answers from before any unit of work (an idempotent repeat of an order post). Lists in
    ``params`` must be short and not empty: each length compiles its own SQL text."""

    __slots__ = ("_dbapi", "_dialect")

    def __init__(self, dbapi_connection: Any, dialect: Any) -> None:
        self._dbapi = dbapi_connection
        self._dialect = dialect

    def rows(self, statement: Select[Any], params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        plain = _plain_for(statement, self._dialect, params)
        cursor = self._dbapi.cursor()
        try:
            cursor.execute(plain.sql, plain.values(params))
            rows: list[tuple[Any, ...]] = cursor.fetchall()
        finally:
            cursor.close()
        return plain.converted(rows)

    def dicts(self, statement: Select[Any], params: Mapping[str, Any]) -> list[dict[str, Any]]:
        return _as_dicts(statement, self.rows(statement, params))


class PlainWriter(PlainReader):
    """:class:`PlainReader` inside one write transaction on a driver connection, with no
    SQLAlchemy connection or session around it (``core/db.Database.plain_write``): the
    statements of a single order post, its rows inserted as :func:`insert_rows` inserts
    one (the same SQL, the values converted the same way). ``database`` is the
    database's key (``core/db.database_key``) for what a process keeps per database."""

    __slots__ = ("database", "info")

    def __init__(self, dbapi_connection: Any, dialect: Any, database: str) -> None:
        super().__init__(dbapi_connection, dialect)
        self.database = database
        # What the transaction keeps, as a session's ``info`` (the subject keys it made).
        self.info: dict[str, Any] = {}

    @property
    def dialect_name(self) -> str:
        return str(self._dialect.name)

    def execute(self, sql: str, params: Any, *, many: bool = False) -> list[tuple[Any, ...]]:
        """``sql`` in the dialect's own text and parameter style; the rows it returns."""
        cursor = self._dbapi.cursor()
        try:
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, params)
            rows: list[tuple[Any, ...]] = list(cursor.fetchall()) if cursor.description else []
        finally:
            cursor.close()
        return rows

    def insert_one(self, table: Table, row: dict[str, Any]) -> int | None:
        """Insert ``row`` and return its id, as :func:`insert_rows` inserts one row; None
        (nothing written) when that row would go through SQLAlchemy."""
        dialect = self._dialect
        converters = _converters(dialect, table, dialect.name == "postgresql")
        sql = None if converters is None else _one_row_sql(dialect, table, tuple(row))
        if sql is None or converters is None:
            return None
        values = [
            value if (f := converters.get(column)) is None else f(value)
            for column, value in row.items()
        ]
        return int(self.execute(sql, values)[0][0])

    def insert_many(self, table: Table, rows: list[dict[str, Any]]) -> bool:
        """Insert a few ``rows`` with the same columns without ids, as one statement on
        PostgreSQL and an executemany on SQLite, as :func:`insert_rows` inserts them; False
        (nothing written) when they would go through SQLAlchemy."""
        if not rows:
            return True
        dialect = self._dialect
        converters = _converters(dialect, table)
        if converters is None:
            return False
        columns = list(rows[0])
        params = [
            tuple(row[c] if (f := converters.get(c)) is None else f(row[c]) for c in columns)
            for row in rows
        ]
        pg = dialect.name == "postgresql"
        sql = _many_sql(dialect, table, columns, len(params) if pg else 0)
        if pg:
            self.execute(sql, list(chain(*params)))
        else:
            self.execute(sql, params, many=True)
        return True


def _plain_select(statement: Select[Any], dialect: Any, params: Mapping[str, Any]) -> _PlainSelect:
    """Compile ``statement`` to positional driver SQL for lists as long as in ``params``."""
    compiled = statement.compile(dialect=dialect)
    qmark = dialect.paramstyle == "qmark"
    mark, names = ("?" if qmark else "%s"), list[str](compiled.positiontup or ())

    def positional(match: re.Match[str]) -> str:  # pyformat (psycopg): made positional
        names.append(match[1] or match[2])
        return mark if match[1] else ", ".join([mark] * len(params[match[2]]))

    sql = compiled.string if qmark else _NAMED.sub(positional, compiled.string)
    binds: list[tuple[str, int, Callable[[Any], Any] | None]] = []
    for name in names:
        bind = compiled.binds[name]
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if bind.expanding:
            sql = sql.replace(f"__[POSTCOMPILE_{name}]", ", ".join([mark] * len(params[name])))
            binds.extend((name, at, convert) for at in range(len(params[name])))
        else:
            binds.append((name, -1, convert))
    defaults = {n: b.effective_value for n, b in compiled.binds.items() if n not in params}
    columns = statement.selected_columns
    results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
    return _PlainSelect(
        sql=sql,
        binds=tuple(binds),
        defaults=defaults,
        results=results if any(results) else None,
    )


# By table: the INSERT … RETURNING id of a row with these columns, or None when a column
# has a default SQLAlchemy computes (the row then goes through SQLAlchemy).
_ONE_ROW: dict[tuple[str, str, tuple[str, ...]], str | None] = {}
_PY_DEFAULTS: dict[str, frozenset[str]] = {}


def _insert_one(conn: Connection, table: Table, row: dict[str, Any]) -> int | None:
    """Insert one row straight through the driver and return its id; None when it must go
    through SQLAlchemy (a column type without a plain conversion, a default computed in
    Python for a column the row leaves out). The row's NULLs are sent as they are; on
    PostgreSQL a JSON value goes in psycopg's wrapper, as for COPY, and is cast on insert."""
    converters = _driver_converters(conn, table, conn.dialect.name == "postgresql")
    if converters is None:
        return None
    sql = _one_row_sql(conn.dialect, table, tuple(row))
    if sql is None:
        return None
    values = [
        value if (f := converters.get(column)) is None else f(value)
        for column, value in row.items()
    ]
    return int(driver_execute(conn, sql, values)[0][0])


def _one_row_sql(dialect: Any, table: Table, columns: tuple[str, ...]) -> str | None:
    """The INSERT … RETURNING id of one row of ``columns``, made once; None when a column
    the row leaves out has a default computed in Python."""
    key = (table.name, dialect.name, columns)
    sql = _ONE_ROW.get(key, "")
    if sql == "":
        defaulted = _PY_DEFAULTS.get(table.name)
        if defaulted is None:
            defaulted = _PY_DEFAULTS[table.name] = frozenset(
                c.name for c in table.columns if c.default is not None
            )
        if defaulted - set(columns):
            sql = None
        else:
            quote = dialect.identifier_preparer.quote
            mark = "?" if dialect.paramstyle == "qmark" else "%s"
            sql = (
                f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
                f"VALUES ({', '.join([mark] * len(columns))}) RETURNING {quote('id')}"
            )
        _ONE_ROW[key] = sql
    return sql


_COPY_FROM = 64  # rows: fewer go by executemany
_SERVER_DEFAULTS: dict[str, frozenset[str]] = {}  # by table: its columns with a server default


# The PostgreSQL column types COPY sends in binary, as the type psycopg dumps them as. The
# values are what the converters above give: ints, strings, aware datetimes, dates, bools,
# and a JSON column's wrapper.
_BINARY = {
    **BINARY_SCALARS,
    "timestamptz": "timestamptz",
    "date": "date",
    "json": "json",
    "jsonb": "jsonb",
}
_TABLE_TYPES: dict[tuple[str, str], dict[str, str]] = {}


def _binary_types(conn: Connection, table: Table, columns: tuple[str, ...]) -> list[str] | None:
    """The binary COPY type of each column, or None when one has no binary form here.
    The table's column types are read from the catalog once per database (the schema is
    the migrations', fixed while a process runs)."""
    key = (str(conn.engine.url), table.name)
    found = _TABLE_TYPES.get(key)
    if found is None:
        found = _TABLE_TYPES[key] = table_column_types(conn, table.name)
    types = [_BINARY.get(found.get(c, "")) for c in columns]
    return None if None in types else types  # type: ignore[return-value]


def _without_null_columns(
    table: Table, columns: list[str], params: list[Any]
) -> tuple[list[str], list[Any]]:
    """Leave out the columns that are NULL in every row and have no server default: left
    out of the INSERT (or COPY) they are NULL all the same. Sent, each None costs sqlite3 a
    failed look-up of an adapter (an AttributeError made and dropped): several per order,
    where a batch's orders, new customers and events leave the same optional columns empty."""
    defaulted = _SERVER_DEFAULTS.get(table.name)
    if defaulted is None:
        defaulted = _SERVER_DEFAULTS[table.name] = frozenset(
            c.name for c in table.columns if c.server_default is not None
        )
    empty = []
    first = params[0]
    for n, name in enumerate(columns):
        if first[n] is not None or name in defaulted:
            continue
        column = list(map(itemgetter(n), params))
        if column.count(None) == len(column):
            empty.append(n)
    if not empty or len(empty) == len(columns):
        return columns, params
    keep = [n for n in range(len(columns)) if n not in empty]
    if len(keep) == 1:
        only = keep[0]
        return [columns[only]], [(p[only],) for p in params]
    pick = itemgetter(*keep)
    return [columns[n] for n in keep], list(map(pick, params))
