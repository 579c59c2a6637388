"""The engine's hygiene: what a database error or a SQL log line can say."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from sqlalchemy import Text, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patron.core.db import Database

SECRET = "13800138000 王小明 住在幸福路 8 号"


def test_a_database_error_does_not_carry_the_statements_values(db: Database) -> None:
    # tag.name is unique: the second insert fails with the value as a bound parameter.
    with pytest.raises(IntegrityError) as caught, db.engine.begin() as conn:
        for tag_id in (1, 2):
            conn.execute(
                text("INSERT INTO tag (id, name, created_at) VALUES (:id, :name, :at)"),
                {"id": tag_id, "name": SECRET, "at": "2026-01-01 00:00:00"},
            )
    message = str(caught.value)
    assert "[SQL parameters hidden due to hide_parameters=True]" in message
    if db.engine.dialect.name == "sqlite":
        assert SECRET not in message
    # PostgreSQL's own error detail names a conflicting key ("Key (name)=(…) already
    # exists"): that part is the server's, not the parameters'.


def test_sql_logging_does_not_print_the_values(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"), db.engine.connect() as conn:
        conn.execute(text("SELECT :who"), {"who": SECRET}).all()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "SELECT" in logged  # the statement is logged …
    assert SECRET not in logged  # … its values are not


def test_each_postgresql_test_starts_empty_with_ids_from_one(pg_db: Database) -> None:
    """The fixture empties only the tables a test filled (tests/conftest.py): what one test
    wrote, and the ids it drew, are gone for the next, a draw without a row included."""
    from tests.conftest import _truncate
    from tests.helpers import sign_up

    first = sign_up(pg_db, phone="13800138000")
    next_store_id = text("SELECT nextval(pg_get_serial_sequence('store', 'id'))")
    with pg_db.engine.begin() as conn:
        conn.execute(next_store_id)  # drawn, no row written
    _truncate(pg_db)
    with pg_db.engine.begin() as conn:
        assert conn.scalar(text("SELECT count(*) FROM customer")) == 0
        assert conn.scalar(next_store_id) == 1
    assert sign_up(pg_db, phone="13800138000") == first == 1


@pytest.mark.parametrize(
    "count", [1, 3, 100]
)  # 1: one INSERT … RETURNING; 100: by COPY on PostgreSQL
def test_insert_rows_leaves_out_columns_null_in_every_row_and_they_stay_null(
    db: Database, count: int
) -> None:
    """A column None in every row of a batch is left out of the statement (cheaper on
    SQLite); the rows read back the same as if it had been sent."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from patron.core.db import insert_rows
    from patron.jobs.models import ScheduledRun

    table = ScheduledRun.__table__
    start = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    rows = [
        {
            "job": "nightly",
            "slot": start + timedelta(days=n),
            "holder": "host-1",
            "started_at": start + timedelta(days=n, seconds=5),
            "finished_at": None,  # None in every row: left out
            "outcome": "done" if n == 1 else None,  # one value: sent
        }
        for n in range(count)
    ]
    others = [{**r, "job": "other"} for r in rows]  # before the first insert numbers them
    ids = db.write(lambda s: insert_rows(s.connection(), table, rows))  # type: ignore[arg-type]
    db.write(lambda s: insert_rows(s.connection(), table, others, want_ids=False))  # type: ignore[arg-type]
    with db.engine.connect() as conn:
        found = conn.execute(
            select(
                table.c.id, table.c.job, table.c.slot, table.c.finished_at, table.c.outcome
            ).order_by(table.c.job, table.c.slot)
        ).all()
    assert len(found) == 2 * count
    assert [r.id for r in found if r.job == "nightly"] == ids
    for r in found:
        n = (r.slot - start).days
        assert r.finished_at is None
        assert r.outcome == ("done" if n == 1 else None)


def test_a_write_on_sqlite_holds_the_write_lock_from_its_first_statement_and_a_read_does_not(
    sqlite_db: Database,
) -> None:
    """A write session begins IMMEDIATE (docs/architecture.md, "Order intake over HTTP"):
    the database's write lock is its own from its first statement, a read, so another
    writer waits. A read session begins a plain transaction, and a writer elsewhere goes
    ahead."""
    import sqlite3

    path = sqlite_db.engine.url.database
    assert path is not None

    def another_writer_gets_in() -> bool:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc)
            return False
        finally:
            other.close()

    def during(session: Session) -> bool:
        session.execute(text("SELECT count(*) FROM tag")).scalar_one()  # a read first
        return another_writer_gets_in()

    assert sqlite_db.write(during) is False
    assert sqlite_db.read(during) is True
    assert another_writer_gets_in() is True  # the write's lock went with its commit
    # The next session on the pooled connection is a plain read again.
    assert sqlite_db.read(during) is True


def test_one_row_through_the_driver_is_stored_as_sqlalchemy_stores_it(db: Database) -> None:
    """insert_rows sends a single row straight to the driver: its instants, NULLs and JSON
    document are stored exactly as SQLAlchemy's own INSERT stores them."""
    from datetime import UTC, datetime

    from sqlalchemy import insert, select

    from patron.core.db import insert_rows
    from patron.events.models import Event

    table = Event.__table__
    at = datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
    row = {
        "type": "order.created",
        "kind": "domain",
        "customer_id": None,
        "anonymous_key": None,
        "store_id": 7,
        "occurred_at": at,
        "received_at": at,
        "properties": {"order_id": 5, "name": "苹果", "total_fen": 1299},
    }
    [driven] = db.write(lambda s: insert_rows(s.connection(), table, [{**row, "event_id": "a"}]))  # type: ignore[arg-type]
    by_sqlalchemy = db.write(
        lambda s: (
            s.connection()
            .execute(insert(table).returning(table.c.id), {**row, "event_id": "b"})  # type: ignore[attr-defined]
            .scalar_one()
        )
    )
    assert driven == by_sqlalchemy - 1
    columns = [c for c in table.c if c.name not in ("id", "event_id")]  # type: ignore[attr-defined]
    as_text = [c.cast(Text) if c.name.endswith("_at") else c for c in columns]
    with db.engine.connect() as conn:
        stored = conn.execute(select(*as_text).order_by(table.c.id)).all()  # type: ignore[attr-defined]
    assert stored[0] == stored[1]
    assert stored[0][-1] == row["properties"]


def test_a_taken_key_through_the_driver_is_sqlalchemys_integrity_error(db: Database) -> None:
    """A row sent straight to the driver that breaks a unique key fails as through
    SQLAlchemy: an IntegrityError (which Database.write retries), its values hidden."""
    from datetime import UTC, datetime

    from patron.core.db import insert_rows
    from patron.jobs.models import ScheduledRun

    table = ScheduledRun.__table__
    at = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    row = {"job": SECRET, "slot": at, "holder": "host-1", "started_at": at}
    db.write(lambda s: insert_rows(s.connection(), table, [dict(row)]))  # type: ignore[arg-type]
    for rows in ([dict(row)], [dict(row), {**row, "holder": "host-2"}]):
        with pytest.raises(IntegrityError) as caught:
            db.write(
                lambda s, rows=rows: insert_rows(s.connection(), table, rows, want_ids=False),  # type: ignore[arg-type,misc]
                retries=0,
            )
        assert "[SQL parameters hidden due to hide_parameters=True]" in str(caught.value)
    with db.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM scheduled_run")) == 1


def test_rows_through_the_driver_read_as_sqlalchemys_with_lists_of_any_length(
    db: Database,
) -> None:
    """plain_rows runs a select straight on the driver: its rows, instants and JSON
    documents included, are what ``execute`` gives, for expanding lists of each length,
    a list named twice, a value bound in the statement itself, and an empty list."""
    from datetime import UTC, datetime

    from sqlalchemy import bindparam, literal, or_, select

    from patron.core.db import insert_rows, plain_dicts, plain_rows
    from patron.events.models import Event

    table = Event.__table__
    at = datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
    rows = [
        {
            "event_id": f"e{n}",
            "type": "order.created",
            "kind": "domain",
            "customer_id": None,
            "store_id": n,
            "occurred_at": at,
            "received_at": at,
            "properties": {"n": n, "name": "苹果"},
        }
        for n in range(1, 6)
    ]
    db.write(lambda s: insert_rows(s.connection(), table, rows, want_ids=False))  # type: ignore[arg-type]
    stores = bindparam("stores", expanding=True)
    c = table.c  # type: ignore[attr-defined]
    statement = (
        select(c.event_id, c.store_id, c.occurred_at, c.properties, literal(7).label("seven"))
        .where(or_(c.store_id.in_(stores), c.customer_id.in_(stores)))
        .where(c.received_at <= bindparam("until"))
        .order_by(c.store_id)
    )
    with db.engine.connect() as conn:
        for wanted in ([], [3], [1, 4], [5, 2, 1, 9]):
            params = {"stores": wanted, "until": at}
            expected = [tuple(r) for r in conn.execute(statement, params)]
            assert plain_rows(conn, statement, params) == expected
            assert plain_dicts(conn, statement, params) == [
                dict(r) for r in conn.execute(statement, params).mappings()
            ]
        assert plain_rows(conn, statement, {"stores": [2], "until": at})[0][1:] == (
            2,
            at,
            {"n": 2, "name": "苹果"},
            7,
        )
        # The same outside any transaction, on a pooled driver connection (Database.plain_read)
        for wanted in ([3], [1, 4], [5, 2, 1, 9]):
            params = {"stores": wanted, "until": at}
            assert db.plain_read(lambda r, p=params: r.rows(statement, p)) == plain_rows(
                conn, statement, params
            )
            assert db.plain_read(lambda r, p=params: r.dicts(statement, p)) == plain_dicts(
                conn, statement, params
            )


def test_a_plain_read_opens_no_transaction_and_drops_a_connection_the_driver_failed_on(
    db: Database,
) -> None:
    """Database.plain_read leaves its connection as it found it for the next checkout: no
    transaction left open, and after a driver error the connection is not handed out again;
    an error of the work's own (a refusal) keeps it."""
    from sqlalchemy import literal, select

    class Refused(Exception):
        pass

    def refuse(_reader: object) -> None:
        raise Refused

    def broken(reader: object) -> None:
        reader._dbapi.cursor().execute("SELECT * FROM no_such_table")  # type: ignore[attr-defined]

    statement = select(literal(1).label("one"))
    assert db.plain_read(lambda r: r.rows(statement, {})) == [(1,)]
    with pytest.raises(Refused):
        db.plain_read(refuse)
    with pytest.raises(db.engine.dialect.loaded_dbapi.Error):
        db.plain_read(broken)
    # Every connection the pool hands out still works, outside a transaction.
    for _ in range(3):
        assert db.plain_read(lambda r: r.rows(statement, {})) == [(1,)]
        raw = db.engine.raw_connection()
        try:
            if db.is_sqlite:
                assert not raw.dbapi_connection.in_transaction  # type: ignore[union-attr]
            else:
                assert raw.dbapi_connection.autocommit is False  # type: ignore[union-attr]
        finally:
            raw.close()


def test_sqlite_writes_share_one_kept_connection_and_a_failed_write_leaves_it_clean(
    db: Database,
) -> None:
    """On SQLite the writes, one at a time, run on one connection kept between them: a
    write that failed halfway leaves nothing behind for the next, and dispose() lets it go
    (the next write connects again)."""
    from patron.core.db import driver_execute

    if not db.is_sqlite:
        pytest.skip("SQLite keeps its one writer's connection")

    def fail(session: Session) -> None:
        driver_execute(session.connection(), "INSERT INTO scheduled_run_probe VALUES (1)", ())
        raise RuntimeError("halfway")

    def count(session: Session) -> int:
        return int(
            driver_execute(session.connection(), "SELECT count(*) FROM scheduled_run_probe", ())[0][
                0
            ]
        )

    db.write(
        lambda s: driver_execute(s.connection(), "CREATE TABLE scheduled_run_probe (n INTEGER)", ())
    )
    first = db.write(lambda s: s.connection())
    with pytest.raises(RuntimeError):
        db.write(fail)
    assert db.write(lambda s: s.connection()) is first
    assert db.write(count) == 0
    assert db.read(count) == 0
    db.dispose()
    assert db.write(lambda s: s.connection()) is not first
    db.write(lambda s: driver_execute(s.connection(), "DROP TABLE scheduled_run_probe", ()))


def test_a_driver_error_is_the_sqlalchemy_error_exec_driver_sql_raises(db: Database) -> None:
    """driver_execute raises what SQLAlchemy's own ``exec_driver_sql`` raises for the same
    statement: the same exception type and message, for a taken key, a statement the
    database refuses and parameters the driver refuses; the connection stays usable."""
    from sqlalchemy import Connection

    from patron.core.db import driver_execute

    mark = "?" if db.is_sqlite else "%s"
    statements = [
        (f"INSERT INTO tag (id, name, created_at) VALUES (1, {mark}, '2026-01-01')", (SECRET,)),
        ("SELEKT 1", ()),
        (f"SELECT {mark}", ()),  # a parameter short
    ]

    def raised(run: Callable[[Connection, str, tuple[str, ...]], object]) -> list[Exception]:
        errors: list[Exception] = []
        with db.engine.connect() as conn:
            run(conn, statements[0][0], statements[0][1])
            for sql, params in statements:
                conn.begin_nested()
                try:
                    run(conn, sql, params)
                except Exception as exc:
                    errors.append(exc)
                    conn.rollback()  # the whole transaction: the first row goes too
                    run(conn, statements[0][0], statements[0][1])
            assert not conn.invalidated
            conn.rollback()
        return errors

    ours = raised(driver_execute)
    theirs = raised(lambda conn, sql, params: conn.exec_driver_sql(sql, params))
    assert [(type(e), str(e)) for e in ours] == [(type(e), str(e)) for e in theirs]
    assert len(ours) == len(statements)
    assert isinstance(ours[0], IntegrityError)


def test_a_dropped_connection_through_the_driver_is_invalidated(pg_db: Database) -> None:
    """A connection the server dropped fails as through SQLAlchemy: an OperationalError
    that says the connection was invalidated, and the next use connects again."""
    from sqlalchemy.exc import OperationalError

    from patron.core.db import driver_execute

    with pg_db.engine.connect() as conn:
        pid = conn.scalar(text("SELECT pg_backend_pid()"))
        conn.rollback()
        with pg_db.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(OperationalError) as caught:
            driver_execute(conn, "SELECT 1", ())
        assert caught.value.connection_invalidated
        assert conn.invalidated
        conn.rollback()
        assert driver_execute(conn, "SELECT 1", ()) == [(1,)]
