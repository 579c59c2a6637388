"""analytics: customer_recommendation keyed by member, run and rank in one index

The table had a unique key on (run_id, customer_id, rank) and an index on (customer_id,
run_id). Every read goes by member (the till's and the API's look-up of a member's latest
list, a person's export and erasure); none goes by run first, and pruning drops a run's
partition on PostgreSQL. One unique key on (customer_id, run_id, rank) now serves the
reads and keeps the rank unique, so a chain's nightly write-back builds two indexes on its
partition instead of three (docs/operations.md).

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 06:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_T = "customer_recommendation"
_OLD_KEY = f"uq_{_T}_run_id_customer_id_rank"
_OLD_INDEX = f"ix_{_T}_customer_id_run_id"
_NEW_KEY = f"uq_{_T}_customer_id_run_id_rank"


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgres():  # on the partitioned table: each partition's index goes with it
        op.execute(f"DROP INDEX {_OLD_INDEX}")
        op.execute(f"ALTER TABLE {_T} DROP CONSTRAINT {_OLD_KEY}")
        op.execute(f"ALTER TABLE {_T} ADD CONSTRAINT {_NEW_KEY} UNIQUE (customer_id, run_id, rank)")
        return
    with op.batch_alter_table(_T) as batch:
        batch.drop_index(_OLD_INDEX)
        batch.drop_constraint(_OLD_KEY, type_="unique")
        batch.create_unique_constraint(_NEW_KEY, ["customer_id", "run_id", "rank"])


def downgrade() -> None:
    if _postgres():
        op.execute(f"ALTER TABLE {_T} DROP CONSTRAINT {_NEW_KEY}")
        op.execute(f"ALTER TABLE {_T} ADD CONSTRAINT {_OLD_KEY} UNIQUE (run_id, customer_id, rank)")
        op.execute(f"CREATE INDEX {_OLD_INDEX} ON {_T} (customer_id, run_id)")
        return
    with op.batch_alter_table(_T) as batch:
        batch.drop_constraint(_NEW_KEY, type_="unique")
        batch.create_unique_constraint(_OLD_KEY, ["run_id", "customer_id", "rank"])
        batch.create_index(_OLD_INDEX, ["customer_id", "run_id"])
