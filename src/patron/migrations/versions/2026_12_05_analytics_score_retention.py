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
    with op.batch_alter_table("analytics_run", schema=None) as batch_op:
        batch_op.drop_column("scores_pruned_at")
