"""The migrations build exactly the tables the models describe, and can be walked back."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
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


def test_the_latest_migrations_go_down_with_data_in_place(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Walking back over rows that other tables point at: SQLite must not copy a table to
    drop a column, or its foreign keys refuse to drop the old one."""
    from patron.analytics import service as analytics
    from tests.analytics.pipeline.helpers import build_chain
    from tests.loyalty.helpers import member, sale

    monkeypatch.setenv("PATRON_DATA_DIR", str(tmp_path / "data"))
    sale(sqlite_db, member(sqlite_db))  # a points lot, and an entry pointing at it
    build_chain(sqlite_db)
    analytics.run_analytics(db=sqlite_db, as_of=date(2026, 3, 20))  # scores point at the run

    downgrade(sqlite_db, "0008")
    columns = {c["name"] for c in inspect(sqlite_db.engine).get_columns("points_lot")}
    assert "settled_at" not in columns
    upgrade(sqlite_db)
    with sqlite_db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        assert conn.exec_driver_sql("SELECT count(*) FROM points_entry").scalar() == 1


def test_the_upgrade_settles_the_lots_already_expired_and_empty(sqlite_db: Database) -> None:
    from patron.loyalty.models import PointsLot
    from patron.loyalty.points import accounts_due_for_expiry, expire_points, list_lots
    from tests.loyalty.helpers import member, sale

    long_ago = datetime(2024, 3, 5, 2, 0, tzinfo=UTC)  # its lots expired in 2025
    written_off, still_held, current = member(sqlite_db), member(sqlite_db), member(sqlite_db)
    sale(sqlite_db, written_off, at=long_ago)
    sale(sqlite_db, still_held, at=long_ago)
    sale(sqlite_db, current, at=datetime.now(UTC))
    after_expiry = datetime(2025, 6, 1, tzinfo=UTC)
    sqlite_db.write(lambda s: expire_points(session=s, now=after_expiry, customer_id=written_off))

    downgrade(sqlite_db, "0009")  # as before this release: nothing settled
    upgrade(sqlite_db)

    def settled(customer_id: int) -> bool:
        lot = sqlite_db.read(lambda s: list_lots(session=s, customer_id=customer_id))[0]
        return sqlite_db.read(lambda s: s.get(PointsLot, lot.id).settled_at) is not None

    assert (settled(written_off), settled(still_held), settled(current)) == (True, False, False)
    due = sqlite_db.read(lambda s: accounts_due_for_expiry(session=s))
    assert len(due) == 1  # the expired lot with points left, for the next run to write off


def test_recommendations_go_into_partitions_by_run_and_back(pg_db: Database) -> None:
    """On PostgreSQL, 0031 makes customer_recommendation a table partitioned by run: the
    rows already written stay (one partition for their runs), ids go on from the same
    sequence, and walking back makes the plain table again with every row."""
    import pyarrow as pa

    from patron.core import bulk

    def relkind() -> str:
        query = "SELECT relkind FROM pg_class WHERE oid = to_regclass('customer_recommendation')"
        with pg_db.engine.connect() as conn:
            return str(conn.exec_driver_sql(query).scalar())

    def rows() -> list[tuple[int, int, int, str]]:
        query = "SELECT id, run_id, customer_id, sku FROM customer_recommendation ORDER BY id"
        with pg_db.engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(query).all()]  # type: ignore[misc]

    downgrade(pg_db, "0030")
    assert relkind() == "r"
    with pg_db.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO customer_recommendation (run_id, customer_id, as_of, rank, sku, score,"
            " source) VALUES (1, 7, '2026-03-01', 1, 'MILK', 0.5, 'repeat'),"
            " (1, 7, '2026-03-01', 2, 'TEA', 0.4, 'popular'),"
            " (2, 8, '2026-03-02', 1, 'JAM', 0.3, 'rule')"
        )
    before = rows()
    upgrade(pg_db)
    assert relkind() == "p"
    assert rows() == before
    new = pa.table(
        {
            "run_id": pa.array([3], pa.int64()),
            "customer_id": pa.array([7], pa.int64()),
            "as_of": pa.array([date(2026, 3, 3)]),
            "rank": pa.array([1], pa.int16()),
            "sku": ["BREAD"],
            "score": [0.2],
            "source": ["similar"],
            "due_on": pa.array([None], pa.date32()),
        }
    )
    with pg_db.session(write=True) as session:
        bulk.insert_arrow_partition(session, "customer_recommendation", new, key="run_id", value=3)
        session.commit()
    after = [*before, (4, 3, 7, "BREAD")]
    assert rows() == after
    with pg_db.engine.connect() as conn:
        partitions = conn.exec_driver_sql(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = to_regclass('customer_recommendation') ORDER BY 1"
        ).all()
    assert [tuple(p) for p in partitions] == [
        ("customer_recommendation_legacy", "FOR VALUES IN ('1', '2')"),
        ("customer_recommendation_run_3", "FOR VALUES IN ('3')"),
    ]
    downgrade(pg_db, "0030")
    assert relkind() == "r"
    assert rows() == after
    upgrade(pg_db)
    assert rows() == after


def _recommendation_indexes(database: Database) -> set[tuple[str, str]]:
    """(table, index definition without its name) of customer_recommendation and its
    partitions."""
    query = (
        "SELECT tablename, regexp_replace(indexdef, 'INDEX \\S+ ON (ONLY )?\\S+', 'INDEX ON')"
        " FROM pg_indexes WHERE tablename LIKE 'customer_recommendation%%'"
    )
    with database.engine.connect() as conn:
        return {(str(t), str(d)) for t, d in conn.exec_driver_sql(query).all()}


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_recommendations_keyed_by_member_run_and_rank_and_back(
    dialect: str, request: pytest.FixtureRequest
) -> None:
    """0032 replaces the run-first key and the member's index by one key on (customer_id,
    run_id, rank), on the partitions too, with rows in place, and walks back; the key
    still refuses a member's rank twice in a run."""
    import pyarrow as pa
    from sqlalchemy.exc import IntegrityError

    from patron.core import bulk

    database: Database = request.getfixturevalue(
        "pg_db" if dialect == "postgresql" else "sqlite_db"
    )
    listed = "id, run_id, customer_id, rank, sku"

    def rows() -> list[tuple[int, int, int, int, str]]:
        query = f"SELECT {listed} FROM customer_recommendation ORDER BY id"
        with database.engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(query).all()]  # type: ignore[misc]

    def keys() -> set[tuple[str, ...]]:
        found = inspect(database.engine)
        unique = {
            tuple(u["column_names"])
            for u in found.get_unique_constraints("customer_recommendation")
        }
        indexed = {
            tuple(i["column_names"])  # type: ignore[arg-type]
            for i in found.get_indexes("customer_recommendation")
            if not i.get("unique")
        }
        return {("unique", *u) for u in unique} | {("index", *i) for i in indexed}

    downgrade(database, "0030")  # rows from before the partitions: PostgreSQL's legacy one
    with database.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO customer_recommendation (run_id, customer_id, as_of, rank, sku, score,"
            " source) VALUES (1, 7, '2026-03-01', 1, 'MILK', 0.5, 'repeat'),"
            " (1, 7, '2026-03-01', 2, 'TEA', 0.4, 'popular'),"
            " (1, 8, '2026-03-01', 1, 'JAM', 0.3, 'rule')"
        )
    upgrade(database, "0031")
    assert keys() == {
        ("unique", "run_id", "customer_id", "rank"),
        ("index", "customer_id", "run_id"),
    }
    new = pa.table(
        {
            "run_id": pa.array([2, 2], pa.int64()),
            "customer_id": pa.array([7, 8], pa.int64()),
            "as_of": pa.array([date(2026, 3, 2)] * 2),
            "rank": pa.array([1, 1], pa.int16()),
            "sku": ["BREAD", "TEA"],
            "score": [0.2, 0.1],
            "source": ["similar", "popular"],
            "due_on": pa.array([None, None], pa.date32()),
        }
    )
    with database.session(write=True) as session:  # run 2: a partition of its own on PG
        bulk.insert_arrow_partition(
            session, "customer_recommendation", new, key="run_id", value=2, serial="id"
        )
        session.commit()
    before = rows()
    assert len(before) == 5
    old_indexes = _recommendation_indexes(database) if dialect == "postgresql" else set()

    upgrade(database)
    assert keys() == {("unique", "customer_id", "run_id", "rank")}
    assert rows() == before
    if dialect == "postgresql":  # the partitions' indexes follow the parent's
        indexes = _recommendation_indexes(database)
        for partition in ("customer_recommendation_legacy", "customer_recommendation_run_2"):
            assert {d for t, d in indexes if t == partition} == {
                "CREATE UNIQUE INDEX ON USING btree (customer_id, run_id, rank)",
                "CREATE UNIQUE INDEX ON USING btree (id, run_id)",
            }
    with pytest.raises(IntegrityError), database.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO customer_recommendation (run_id, customer_id, as_of, rank, sku, score,"
            " source) VALUES (2, 8, '2026-03-02', 1, 'MILK', 0.5, 'repeat')"
        )

    downgrade(database, "0031")
    assert keys() == {
        ("unique", "run_id", "customer_id", "rank"),
        ("index", "customer_id", "run_id"),
    }
    assert rows() == before
    if dialect == "postgresql":
        assert _recommendation_indexes(database) == old_indexes
    upgrade(database)
    assert rows() == before


def _score_indexes(database: Database, table: str) -> set[tuple[str, str]]:
    """(table, index definition without its name) of ``table`` and its partitions, in the
    test's own schema."""
    query = (
        "SELECT tablename, regexp_replace(indexdef, 'INDEX \\S+ ON (ONLY )?\\S+', 'INDEX ON')"
        f" FROM pg_indexes WHERE tablename LIKE '{table}%%'"
        # this test's schema alone: other tests' schemas in the same database have their own
        # score tables and partitions
        " AND schemaname = current_schema()"
    )
    with database.engine.connect() as conn:
        return {(str(t), str(d)) for t, d in conn.exec_driver_sql(query).all()}


def test_score_and_risk_rows_go_into_partitions_by_run_and_back(pg_db: Database) -> None:
    """On PostgreSQL, 0033 makes customer_score and customer_risk tables partitioned by run:
    the rows already written stay (one partition for their runs, with the tables' indexes),
    ids go on from the same sequences, and walking back makes the plain tables again with
    every row and index."""
    import pyarrow as pa

    from patron.core import bulk

    tables = ("customer_score", "customer_risk")

    def relkinds() -> list[str]:
        query = "SELECT relkind FROM pg_class WHERE oid = to_regclass(%(t)s)"
        with pg_db.engine.connect() as conn:
            return [str(conn.exec_driver_sql(query, {"t": t}).scalar()) for t in tables]

    def rows() -> list[tuple[object, ...]]:
        with pg_db.engine.connect() as conn:
            return [
                tuple(r)
                for t in tables
                for r in conn.exec_driver_sql(
                    f"SELECT '{t}', id, run_id, customer_id, as_of FROM {t} ORDER BY id"
                ).all()
            ]

    downgrade(pg_db, "0032")
    assert relkinds() == ["r", "r"]
    plain_indexes = {t: _score_indexes(pg_db, t) for t in tables}
    assert all(plain_indexes.values()), plain_indexes  # the query sees this schema's
    with pg_db.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO customer_score (run_id, customer_id, as_of, frequency, monetary_fen,"
            " stage) VALUES (1, 7, '2026-03-01', 1, 100, 'new'), (2, 7, '2026-03-02', 2, 200,"
            " 'active'), (2, 8, '2026-03-02', 1, 50, 'new')"
        )
        conn.exec_driver_sql(
            "INSERT INTO customer_risk (run_id, customer_id, as_of, churn_risk, p_alive,"
            " expected_purchases_90d, clv_fen, value_at_stake_fen, band, reasons) VALUES"
            " (1, 7, '2026-03-01', 0.2, 0.8, 1.0, 500, 100, 'low', '[]'),"
            " (2, 7, '2026-03-02', 0.9, 0.1, 0.1, 500, 450, 'high', '[]')"
        )
    before = rows()
    upgrade(pg_db)
    assert relkinds() == ["p", "p"]
    assert rows() == before
    for table in tables:  # the legacy partition has the parent's indexes
        indexes = _score_indexes(pg_db, table)
        legacy = {d for t, d in indexes if t == f"{table}_legacy"}
        parent = {d.replace(" ON ONLY ", " ON ") for t, d in indexes if t == table}
        assert legacy == parent and len(legacy) == len(plain_indexes[table])
    score = pa.table(
        {
            "run_id": pa.array([3], pa.int64()),
            "customer_id": pa.array([7], pa.int64()),
            "as_of": pa.array([date(2026, 3, 3)]),
            "frequency": pa.array([3], pa.int32()),
            "monetary_fen": pa.array([300], pa.int64()),
            "stage": ["active"],
        }
    )
    with pg_db.session(write=True) as session:
        bulk.insert_arrow_partition(
            session, "customer_score", score, key="run_id", value=3, serial="id"
        )
        session.commit()
    after = [*before[:3], ("customer_score", 4, 3, 7, date(2026, 3, 3)), *before[3:]]
    assert rows() == after
    with pg_db.engine.connect() as conn:
        partitions = conn.exec_driver_sql(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent IN"
            " (to_regclass('customer_score'), to_regclass('customer_risk')) ORDER BY 1"
        ).all()
    assert [tuple(p) for p in partitions] == [
        ("customer_risk_legacy", "FOR VALUES IN ('1', '2')"),
        ("customer_score_legacy", "FOR VALUES IN ('1', '2')"),
        ("customer_score_run_3", "FOR VALUES IN ('3')"),
    ]
    downgrade(pg_db, "0032")
    assert relkinds() == ["r", "r"]
    assert rows() == after
    assert {t: _score_indexes(pg_db, t) for t in tables} == plain_indexes
    with pg_db.engine.begin() as conn:  # the ids go on from the sequences
        conn.exec_driver_sql(
            "INSERT INTO customer_score (run_id, customer_id, as_of, frequency, monetary_fen,"
            " stage) VALUES (4, 9, '2026-03-04', 1, 100, 'new')"
        )
        assert conn.exec_driver_sql("SELECT max(id) FROM customer_score").scalar() == 5
    upgrade(pg_db)
    assert relkinds() == ["p", "p"]
    assert len(rows()) == len(after) + 1
