"""jobs: one row per scheduled run, so several server processes run a night's job once

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 12:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.models

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    instant = patron.core.models.UTCDateTime(timezone=True)
    op.create_table(
        "scheduled_run",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("slot", instant, nullable=False),
        sa.Column("holder", sa.String(length=120), nullable=False),
        sa.Column("started_at", instant, nullable=False),
        sa.Column("finished_at", instant, nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_run")),
        sa.UniqueConstraint("job", "slot", name=op.f("uq_scheduled_run_job_slot")),
    )


def downgrade() -> None:
    op.drop_table("scheduled_run")
