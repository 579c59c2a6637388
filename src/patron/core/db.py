"""Database engine, sessions and the unit of work.

SQLite is the embedded default (WAL, foreign keys on, ``BEGIN IMMEDIATE`` for writes so
two writers never dead-lock on a lock upgrade); PostgreSQL goes through psycopg 3.
Services take a Session and never commit: :meth:`Database.write` owns the transaction.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, TypeVarTuple

from sqlalchemy import Connection, Engine, Select, create_engine, event
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.exc import DisconnectionError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from patron.core.crypto import reading_in

# The driver-level inserts and look-ups live in core/driver.py; their callers import them
# from here as they always did.
from patron.core.driver import WRITE_OPTION as _WRITE
from patron.core.driver import (
    PlainReader,
    PlainWriter,
    driver_execute,
    insert_rows,
    one_of,
    plain_dicts,
    plain_rows,
    reserve_ids,
)

__all__ = [
    "Database",
    "PlainReader",
    "PlainWriter",
    "core_rows",
    "create_patron_engine",
    "database_key",
    "driver_execute",
    "get_database",
    "insert_rows",
    "one_of",
    "plain_dicts",
    "plain_rows",
    "reserve_ids",
    "reset_databases",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


def _configure_sqlite(engine: Engine, cache_mb: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how a transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Negative means KiB. Big loads slow down sharply once the indexes outgrow it.
        cursor.execute(f"PRAGMA cache_size=-{cache_mb * 1024}")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    # The dialect's own BEGIN (a no-op for pysqlite) is replaced rather than a "begin"
    # event listened for: any connection event makes SQLAlchemy dispatch its execute events
    # around every statement, several microseconds each, on every statement of the engine.
    engine.dialect.do_begin = _sqlite_begin  # type: ignore[method-assign,assignment]


# Set in a pooled connection's info by Database.session for a write: its next BEGIN takes
# SQLite's write lock at once (BEGIN IMMEDIATE), so two writers never dead-lock on a lock
# upgrade. Read (and cleared) by _sqlite_begin.
_IMMEDIATE = "patron_begin_immediate"


def _sqlite_begin(connection: Any) -> None:
    """Open a transaction on a pooled SQLite connection, which runs in autocommit mode
    (``isolation_level = None``): ``BEGIN IMMEDIATE`` when the session that checked it out
    writes, else ``BEGIN``, so every read of a unit of work shares one snapshot too."""
    immediate = connection.info.pop(_IMMEDIATE, False)
    connection.dbapi_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_patron_engine(url: str, *, echo: bool = False, sqlite_cache_mb: int = 64) -> Engine:
    """The engine for ``url``. Statement parameters are kept out of SQL logs and out of the
    parameter list of database errors (``hide_parameters``): they can carry personal data (a
    note, a search term), and an error's message reaches the server log."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=True,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=16,
        )
        _configure_sqlite(engine, sqlite_cache_mb)
        return engine
    engine = create_engine(url, echo=echo, hide_parameters=True, pool_size=10, max_overflow=20)
    _ping_when_idle(engine)
    return engine


# A connection back in the pool for longer than this is checked before it is handed out.
PING_AFTER_IDLE_S = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only if it sat idle: a connection the database
    dropped (a restart, an idle time-out) is replaced instead of failing a request, and a busy
    server pays no extra round trip per request (``pool_pre_ping`` pings on every checkout,
    a third of a till look-up's round trips on PostgreSQL)."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            if not dbapi_connection.autocommit:
                dbapi_connection.rollback()  # end the transaction the ping opened
        except Exception as exc:
            # The pool discards this connection and hands out another.
            raise DisconnectionError(f"pooled connection is gone: {exc}") from exc


class Database:
    """One engine and its sessions; the owner of every commit."""

    def __init__(self, url: str, *, echo: bool = False, sqlite_cache_mb: int = 64) -> None:
        self.url = url
        self.engine = create_patron_engine(url, echo=echo, sqlite_cache_mb=sqlite_cache_mb)
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._write_engine = self.engine.execution_options(**{_WRITE: True})
        self._writer = sessionmaker(self._write_engine, expire_on_commit=False)
        # Quick reads on PostgreSQL skip BEGIN and COMMIT (two of a till look-up's round
        # trips): each statement reads its own snapshot. SQLite's BEGIN costs no round trip.
        self._quick_reader = (
            self._reader
            if self.is_sqlite
            else sessionmaker(
                self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                expire_on_commit=False,
            )
        )
        self._write_lock = threading.Lock()
        # SQLite's one writer at a time (under _write_lock) keeps its connection between
        # writes: a checkout from the pool, a Connection and the pool's reset on return
        # cost a single order post as much as its order's INSERT.
        self._held_writer: Connection | None = None
        self._writer_finalizer: weakref.finalize[Any, Any] | None = None
        self._plain: dict[Select[Any], tuple[str, tuple[str, ...]]] = {}
        self._key = engine_key(self.engine)  # database_key's, for plain writes

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def identity(self) -> str:
        """A short name of the database this engine reaches, the same in every process that
        reaches it the same way: for files a database keeps beside it in a data directory
        two databases may share (an import's staging area). SQLite: the file's resolved
        path; otherwise the URL without its password, with its schema option."""
        url = make_url(self.url)
        if self.is_sqlite and url.database and url.database != ":memory:":
            named = f"sqlite:{Path(url.database).resolve()}"
        else:
            named = url.set(password=None).render_as_string(hide_password=False)
        return hashlib.sha256(named.encode()).hexdigest()[:16]

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        if write and self.is_sqlite:
            # SQLite has one writer at a time. Queueing writers here, rather than in SQLite's
            # busy handler (which sleeps in coarse steps while the lock sits free), keeps the
            # wait short and fair under many concurrent requests.
            with self._write_lock:
                conn = self._sqlite_writer()
                # The session's transaction on this connection begins IMMEDIATE.
                info = conn.connection.info
                info[_IMMEDIATE] = True
                try:
                    with self._unit_of_work(self._writer(bind=conn)) as session:
                        yield session
                finally:
                    info.pop(_IMMEDIATE, None)  # a session that ran no statement
                    if conn.invalidated or conn.in_transaction():
                        self._held_writer = None  # not handed to the next writer
                        conn.close()
            return
        with self._unit_of_work((self._writer if write else self._reader)()) as session:
            yield session

    @staticmethod
    @contextmanager
    def _unit_of_work(session: Session) -> Iterator[Session]:
        try:
            with reading_in(session):
                yield session
                session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def read(self, work: Callable[[Session], T]) -> T:
        with self.session() as session:
            return work(session)

    def quick_read(self, work: Callable[[Session], T]) -> T:
        """``read`` for a few statements that need not share one snapshot (each is
        consistent in itself), such as the till's look-up: no transaction is opened on
        PostgreSQL. Nothing may be written through this session."""
        session = self._quick_reader()
        try:
            with reading_in(session):
                return work(session)
        finally:
            session.close()

    def first_row(
        self, statement: Select[Any], params: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        """The first row of one plain read, straight through the driver on a pooled
        connection, outside any transaction: no session, no BEGIN or COMMIT, no result
        processing (the values are the driver's own: use it for ids, numbers and strings).

        For a check made before a unit of work on the busiest path (is an order's key
        taken?), where a session costs more than the statement. ``params`` fill the
        statement's named bind parameters; they go to the driver unconverted.
        """
        sql, names = self._plain_sql(statement)
        raw: Any = self.engine.raw_connection()
        try:
            dbapi = raw.dbapi_connection
            if self.is_sqlite:  # the connection is in autocommit mode (see _configure_sqlite)
                cursor = dbapi.execute(sql, [params[n] for n in names])
                try:
                    found: tuple[Any, ...] | None = cursor.fetchone()
                finally:
                    cursor.close()
                return found
            # psycopg: autocommit for this one statement, so it opens no transaction (and
            # the pool's reset on return costs no ROLLBACK).
            dbapi.autocommit = True
            try:
                with dbapi.cursor() as cursor:
                    cursor.execute(sql, params)
                    row = cursor.fetchone()
            finally:
                dbapi.autocommit = False
            return tuple(row) if row is not None else None
        except BaseException:
            raw.invalidate()  # a driver error here is the connection's: the pool drops it
            raise
        finally:
            raw.close()

    def plain_read(self, work: Callable[[PlainReader], T]) -> T:
        """Run ``work``'s plain selects straight through the driver on a pooled connection,
        outside any transaction (:class:`PlainReader`): no session, no BEGIN or COMMIT, each
        statement its own snapshot, as :meth:`quick_read` reads on PostgreSQL. For the
        answer to an idempotent repeat, where a session cost more than its two statements.
        A driver error drops the connection from the pool; ``work``'s own errors do not."""
        raw: Any = self.engine.raw_connection()
        try:
            dbapi = raw.dbapi_connection
            if self.is_sqlite:  # in autocommit mode already (see _configure_sqlite)
                return work(PlainReader(dbapi, self.engine.dialect))
            # psycopg: autocommit, so no statement opens a transaction (and the pool's reset
            # on return costs no ROLLBACK)
            dbapi.autocommit = True
            try:
                return work(PlainReader(dbapi, self.engine.dialect))
            finally:
                dbapi.autocommit = False
        except self.engine.dialect.loaded_dbapi.Error:
            raw.invalidate()
            raise
        finally:
            raw.close()

    def plain_write(self, work: Callable[[PlainWriter], T]) -> T | None:
        """Run ``work``'s statements in one write transaction straight on a driver
        connection, with no session (:class:`PlainWriter`): on SQLite the one writer's kept
        connection, under its lock, ``BEGIN IMMEDIATE`` as a session's write begins; on
        PostgreSQL a pooled connection. Commits when ``work`` returns. A driver error (a key
        stored meanwhile, a lock time-out) rolls it back and gives None: the caller then
        runs its work through :meth:`write`, which retries as it always did; ``work``'s own
        errors roll back and propagate (docs/architecture.md, "Order intake over HTTP")."""
        errors = self.engine.dialect.loaded_dbapi.Error
        if self.is_sqlite:
            with self._write_lock:
                dbapi: Any = self._sqlite_writer().connection.dbapi_connection
                try:
                    dbapi.execute("BEGIN IMMEDIATE")
                    result = work(PlainWriter(dbapi, self.engine.dialect, self._key))
                    dbapi.execute("COMMIT")
                except BaseException as exc:
                    if dbapi.in_transaction:
                        dbapi.execute("ROLLBACK")
                    if isinstance(exc, errors):
                        return None
                    raise
                return result
        raw: Any = self.engine.raw_connection()
        try:
            dbapi = raw.dbapi_connection
            try:
                result = work(PlainWriter(dbapi, self.engine.dialect, self._key))
                dbapi.commit()
            except errors:
                try:
                    dbapi.rollback()
                except errors:
                    raw.invalidate()  # the connection's own failure: the pool drops it
                return None
            except BaseException:
                dbapi.rollback()
                raise
            return result
        finally:
            raw.close()

    def _plain_sql(self, statement: Select[Any]) -> tuple[str, tuple[str, ...]]:
        """``statement`` as this dialect's SQL text, and its bind names in positional order
        (for SQLite's ``?``; psycopg takes the names). Compiled once per statement."""
        known = self._plain.get(statement)
        if known is None:
            compiled = statement.compile(dialect=self.engine.dialect)
            names = tuple(compiled.positiontup or ())
            known = self._plain[statement] = (compiled.string, names)
        return known

    def write(self, work: Callable[[Session], T], *, retries: int = 3) -> T:
        """Run ``work`` in one write transaction, retrying when a concurrent writer won a race.

        A unique-key collision (two requests creating the same order or identity at once)
        or a lock time-out rolls everything back and runs ``work`` again, so it then sees
        what the other writer committed.
        """
        attempt = 0
        while True:
            try:
                with self.session(write=True) as session:
                    return work(session)
            except (IntegrityError, OperationalError) as exc:
                attempt += 1
                if attempt > retries or not _retryable(exc):
                    raise
                log.info("retrying a write after a concurrent change (%s)", type(exc).__name__)
                time.sleep(0.005 * attempt)

    def _sqlite_writer(self) -> Connection:
        """The connection SQLite's writes run on, one at a time (the caller holds
        ``_write_lock``): kept from one write to the next."""
        conn = self._held_writer
        if conn is None or conn.closed:
            if self._writer_finalizer is not None:  # the one it replaces is closed already
                self._writer_finalizer.detach()
            conn = self._held_writer = self._write_engine.connect()
            # Back to the pool when this Database goes without dispose() (a test's, a
            # command's): not left for the collector to find checked out.
            self._writer_finalizer = weakref.finalize(self, conn.close)
        return conn

    def dispose(self) -> None:
        with self._write_lock:
            if self._held_writer is not None:
                self._held_writer.close()
                self._held_writer = None
        self.engine.dispose()


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError):
        return True
    text = str(exc).lower()
    return "locked" in text or "deadlock" in text or "serialization" in text


_databases: dict[str, Database] = {}


def get_database(url: str | None = None) -> Database:
    """The process-wide Database for ``url`` (default: the configured one)."""
    from patron.core.settings import get_settings

    url = url or get_settings().resolved_database_url
    db = _databases.get(url)
    if db is None:
        db = _databases[url] = Database(url, sqlite_cache_mb=get_settings().sqlite_cache_mb)
    return db


def reset_databases() -> None:
    for db in _databases.values():
        db.dispose()
    _databases.clear()


_ENGINE_KEYS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def database_key(session: Session) -> str:
    """Which database ``session`` works on: the key of what a process keeps per database
    (the till's categories, promotions and programme terms, the stores). Kept per engine:
    rendering the URL each time cost more than the look-ups it keys, on every order."""
    return engine_key(session.get_bind().engine)


def engine_key(engine: Engine) -> str:
    """:func:`database_key` of ``engine``'s database, made once per engine."""
    key = _ENGINE_KEYS.get(engine)
    if key is None:
        key = _ENGINE_KEYS[engine] = str(engine.url)
    return key


def core_rows(
    session: Session, statement: Select[*Ts], params: Mapping[str, Any] | None = None
) -> CursorResult[*Ts]:
    """Run a Core statement (plain columns, no ORM entities) on the session's connection.

    ``Session.execute`` sends even a plain ``select`` of columns through the ORM's per-statement
    machinery, which costs 0.1–0.2 ms of CPU a statement. The till's look-up and quote run a
    few reads per call at hundreds of calls a second, and read their rows through this
    instead. Pending ORM changes are flushed first, as ``Session.execute`` would do.
    """
    session.flush()
    return session.connection().execute(statement, params)
