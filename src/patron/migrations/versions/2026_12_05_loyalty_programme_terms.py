"""loyalty programme terms, versioned

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 23:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.models


revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "loyalty_programme",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("changed_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", patron.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_programme")),
    )


def downgrade() -> None:
    op.drop_table("loyalty_programme")
