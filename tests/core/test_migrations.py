"""The migrations build exactly the tables the models describe, and can be walked back."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from patron.core.db import Database
from patron.core.migrate import downgrade, upgrade
from patron.metadata import metadata


def test_migrated_schema_matches_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_migrations_go_down_and_up_again(sqlite_db: Database) -> None:
    downgrade(sqlite_db, "base")
    assert set(inspect(sqlite_db.engine).get_table_names()) <= {"alembic_version"}
    upgrade(sqlite_db)
    assert {"customer", "identity", "orders", "order_line", "refund"} <= set(
        inspect(sqlite_db.engine).get_table_names()
    )


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_db: Database) -> None:
    with sqlite_db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
