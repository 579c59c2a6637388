"""analytics: customer_score and customer_risk partitioned by run on PostgreSQL

A chain's nightly run writes a million score rows and over half a million risk rows, and
PostgreSQL kept the tables' indexes up row by row as they went in (five on the scores,
four on the risk rows). On PostgreSQL both tables are now partitioned by list of
``run_id``, as customer_recommendation is (0031): the write-back fills a bare table for
its run by COPY and attaches it, which builds each index once, and pruning a run drops
its partition instead of deleting its rows (docs/operations.md). A partitioned table's
unique constraints must hold the partition key, so the primary key is (id, run_id); ids
still come from the one sequence, and the run's (run_id, customer_id) key already holds
it. Rows already written stay, in one partition for the runs they belong to. SQLite keeps
the plain tables.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 18:30:00
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each table's indexes besides its primary key and its run's unique key on (run_id,
# customer_id): name → columns, as the models declare them.
_INDEXES = {
    "customer_score": {
        "ix_customer_score_customer_id_as_of": "customer_id, as_of",
        "ix_customer_score_run_id_segment": "run_id, segment",
        "ix_customer_score_run_id_stage": "run_id, stage",
    },
    "customer_risk": {
        "ix_customer_risk_customer_id_as_of": "customer_id, as_of",
        "ix_customer_risk_run_id_band_value": "run_id, band, value_at_stake_fen",
    },
}


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _columns(table: str) -> str:
    found = op.get_bind().execute(
        text(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:t)"
            " AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        ),
        {"t": table},
    )
    return ", ".join(found.scalars())


def upgrade() -> None:
    if not _postgres():
        return
    for table, indexes in _INDEXES.items():
        # The old table keeps its rows under another name, its indexes gone (their names
        # are the new table's); the id sequence passes to the new table, whose columns,
        # types and defaults are the old one's.
        op.execute(f"ALTER TABLE {table} RENAME TO {table}_legacy")
        op.execute(f"ALTER TABLE {table}_legacy DROP CONSTRAINT pk_{table}")
        op.execute(f"ALTER TABLE {table}_legacy DROP CONSTRAINT uq_{table}_run_id_customer_id")
        for name in indexes:
            op.execute(f"DROP INDEX {name}")
        op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY NONE")
        op.execute(
            f"CREATE TABLE {table} (LIKE {table}_legacy INCLUDING DEFAULTS, "
            f"CONSTRAINT pk_{table} PRIMARY KEY (id, run_id), "
            f"CONSTRAINT uq_{table}_run_id_customer_id UNIQUE (run_id, customer_id)) "
            "PARTITION BY LIST (run_id)"
        )
        for name, columns in indexes.items():
            op.execute(f"CREATE INDEX {name} ON {table} ({columns})")
        op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
        runs = op.get_bind().execute(text(f"SELECT DISTINCT run_id FROM {table}_legacy"))
        listed = ", ".join(str(int(run)) for run in sorted(runs.scalars()))
        if listed:  # attaching builds the indexes on the old rows, once
            op.execute(
                f"ALTER TABLE {table} ATTACH PARTITION {table}_legacy FOR VALUES IN ({listed})"
            )
        else:
            op.execute(f"DROP TABLE {table}_legacy")


def downgrade() -> None:
    if not _postgres():
        return
    for table, indexes in _INDEXES.items():
        listed = _columns(table)
        op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY NONE")
        op.execute(f"CREATE TABLE {table}_plain (LIKE {table} INCLUDING DEFAULTS)")
        op.execute(f"INSERT INTO {table}_plain ({listed}) SELECT {listed} FROM {table}")
        op.execute(f"DROP TABLE {table}")  # its partitions with it
        op.execute(f"ALTER TABLE {table}_plain RENAME TO {table}")
        op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY (id)")
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT uq_{table}_run_id_customer_id "
            "UNIQUE (run_id, customer_id)"
        )
        for name, columns in indexes.items():
            op.execute(f"CREATE INDEX {name} ON {table} ({columns})")
