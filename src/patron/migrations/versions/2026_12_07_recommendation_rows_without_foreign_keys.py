"""analytics: customer_recommendation rows without per-row foreign key checks

A chain's nightly run writes some ten million recommendation rows (1 M members, their top
items). The foreign keys to customer and analytics_run were checked row by row (a trigger
and a lookup each on PostgreSQL); the write-back now checks the run once and the run's
customer ids in one SQL anti-join before it commits, as the score and risk rows do
(docs/operations.md). Customers are never deleted, so nothing else relied on the
constraints.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 01:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "customer_recommendation"


def upgrade() -> None:
    with op.batch_alter_table(_TABLE) as batch:
        batch.drop_constraint(f"fk_{_TABLE}_customer_id_customer", type_="foreignkey")
        batch.drop_constraint(f"fk_{_TABLE}_run_id_analytics_run", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table(_TABLE) as batch:
        batch.create_foreign_key(
            f"fk_{_TABLE}_customer_id_customer", "customer", ["customer_id"], ["id"]
        )
        batch.create_foreign_key(
            f"fk_{_TABLE}_run_id_analytics_run", "analytics_run", ["run_id"], ["id"]
        )
