"""analytics runs: when their per-customer rows were pruned

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 23:59:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.models


revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("analytics_run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "scores_pruned_at", patron.core.models.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    # In place, not in batch mode: SQLite would copy the table and drop the old one, which
    # the scores pointing at its runs refuse (SQLite 3.35+ drops a column in place).
    op.drop_column("analytics_run", "scores_pruned_at")
