"""points lots: when the expiry run settled them, and an index of those it has not

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.models


revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every existing lot starts unsettled: the first expiry run visits each expired lot once.
    with op.batch_alter_table("points_lot", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("settled_at", patron.core.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_points_lot_unsettled_expires_at",
            ["expires_at"],
            unique=False,
            postgresql_where=sa.text("settled_at IS NULL"),
            sqlite_where=sa.text("settled_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("points_lot", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_points_lot_unsettled_expires_at",
            postgresql_where=sa.text("settled_at IS NULL"),
            sqlite_where=sa.text("settled_at IS NULL"),
        )
        batch_op.drop_column("settled_at")
