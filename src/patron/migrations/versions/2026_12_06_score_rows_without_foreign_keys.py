"""analytics: customer_score and customer_risk rows without per-row foreign key checks

A run writes one score row and one risk row per customer (a million for a chain). The
foreign keys to customer and analytics_run were checked row by row (a trigger and a
lookup each on PostgreSQL), about half of the write-back's time; the write-back now checks
the run's customer ids once, in one SQL anti-join, before it commits
(docs/operations.md). Customers are never deleted, so nothing else relied on
the constraints.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06 21:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("customer_score", "customer_risk")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_customer_id_customer", type_="foreignkey")
            batch.drop_constraint(f"fk_{table}_run_id_analytics_run", type_="foreignkey")


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(
                f"fk_{table}_customer_id_customer", "customer", ["customer_id"], ["id"]
            )
            batch.create_foreign_key(
                f"fk_{table}_run_id_analytics_run", "analytics_run", ["run_id"], ["id"]
            )
