"""points lots: when the expiry run settled them, and an index of those it has not

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 00:00:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import patron.core.models


revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
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
    # Lots already past their expiry and empty are settled here, so the first expiry run
    # (and each account's first movement) after the upgrade does not visit every account
    # with years of history. Expired lots with points left stay for that run to write off.
    now = datetime.now(UTC)
    stamp = patron.core.models.UTCDateTime(timezone=True)
    lot = sa.table(
        "points_lot",
        sa.column("id", sa.BigInteger),
        sa.column("expires_at", stamp),
        sa.column("settled_at", stamp),
    )
    entry = sa.table(
        "points_entry", sa.column("lot_id", sa.BigInteger), sa.column("points", sa.BigInteger)
    )
    left = (
        sa.select(sa.func.coalesce(sa.func.sum(entry.c.points), 0))
        .where(entry.c.lot_id == lot.c.id)
        .scalar_subquery()
    )
    op.execute(sa.update(lot).where(lot.c.expires_at <= now, left == 0).values(settled_at=now))


def downgrade() -> None:
    # In place, not in batch mode: SQLite would copy the table and drop the old one, which
    # the entries pointing at its lots refuse (SQLite 3.35+ drops a column in place).
    op.drop_index("ix_points_lot_unsettled_expires_at", table_name="points_lot")
    op.drop_column("points_lot", "settled_at")
