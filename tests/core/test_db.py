"""The engine's hygiene: what a database error or a SQL log line can say."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

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
