"""analytics: customer_recommendation partitioned by run on PostgreSQL

A chain's nightly run writes some ten million recommendation rows, and PostgreSQL kept the
table's three indexes up row by row as they went in. On PostgreSQL the table is now
partitioned by list of ``run_id``: the write-back fills a bare table for its run by COPY
and attaches it, which builds each index once, and pruning a run drops its partition
instead of deleting its rows (docs/operations.md). A partitioned table's unique
constraints must hold the partition key, so the primary key is (id, run_id); ids still
come from the one sequence. Rows already written stay, in one partition for the runs they
belong to. SQLite keeps the plain table.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 03:00:00
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_T = "customer_recommendation"
_COLUMNS = (
    "run_id BIGINT NOT NULL, customer_id BIGINT NOT NULL, as_of DATE NOT NULL, "
    "rank SMALLINT NOT NULL, sku VARCHAR(64) NOT NULL, score FLOAT NOT NULL, "
    "source VARCHAR(16) NOT NULL, due_on DATE"
)
_LISTED = "id, run_id, customer_id, as_of, rank, sku, score, source, due_on"


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _postgres():
        return
    # The old table keeps its rows under another name, its indexes gone (their names are
    # the new table's); the id sequence passes to the new table.
    op.execute(f"ALTER TABLE {_T} RENAME TO {_T}_legacy")
    op.execute(f"ALTER TABLE {_T}_legacy DROP CONSTRAINT pk_{_T}")
    op.execute(f"ALTER TABLE {_T}_legacy DROP CONSTRAINT uq_{_T}_run_id_customer_id_rank")
    op.execute(f"DROP INDEX ix_{_T}_customer_id_run_id")
    op.execute(f"ALTER SEQUENCE {_T}_id_seq OWNED BY NONE")
    op.execute(
        f"CREATE TABLE {_T} (id BIGINT NOT NULL DEFAULT nextval('{_T}_id_seq'::regclass), "
        f"{_COLUMNS}, CONSTRAINT pk_{_T} PRIMARY KEY (id, run_id), "
        f"CONSTRAINT uq_{_T}_run_id_customer_id_rank UNIQUE (run_id, customer_id, rank)) "
        "PARTITION BY LIST (run_id)"
    )
    op.execute(f"CREATE INDEX ix_{_T}_customer_id_run_id ON {_T} (customer_id, run_id)")
    op.execute(f"ALTER SEQUENCE {_T}_id_seq OWNED BY {_T}.id")
    runs = op.get_bind().execute(text(f"SELECT DISTINCT run_id FROM {_T}_legacy")).scalars()
    listed = ", ".join(str(int(run)) for run in sorted(runs))
    if listed:  # attaching builds the three indexes on the old rows, once
        op.execute(f"ALTER TABLE {_T} ATTACH PARTITION {_T}_legacy FOR VALUES IN ({listed})")
    else:
        op.execute(f"DROP TABLE {_T}_legacy")


def downgrade() -> None:
    if not _postgres():
        return
    op.execute(f"ALTER SEQUENCE {_T}_id_seq OWNED BY NONE")
    op.execute(f"CREATE TABLE {_T}_plain (id BIGINT NOT NULL, {_COLUMNS})")
    op.execute(f"INSERT INTO {_T}_plain ({_LISTED}) SELECT {_LISTED} FROM {_T}")
    op.execute(f"DROP TABLE {_T}")  # its partitions with it
    op.execute(f"ALTER TABLE {_T}_plain RENAME TO {_T}")
    op.execute(f"ALTER TABLE {_T} ALTER COLUMN id SET DEFAULT nextval('{_T}_id_seq'::regclass)")
    op.execute(f"ALTER SEQUENCE {_T}_id_seq OWNED BY {_T}.id")
    op.execute(f"ALTER TABLE {_T} ADD CONSTRAINT pk_{_T} PRIMARY KEY (id)")
    op.execute(
        f"ALTER TABLE {_T} ADD CONSTRAINT uq_{_T}_run_id_customer_id_rank "
        "UNIQUE (run_id, customer_id, rank)"
    )
    op.execute(f"CREATE INDEX ix_{_T}_customer_id_run_id ON {_T} (customer_id, run_id)")
