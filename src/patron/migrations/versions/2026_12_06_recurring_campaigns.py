"""campaigns: recurring campaigns (a schedule in cron form and its zone) and their
occurrences, each a campaign of its own

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from patron.core.models import BigId, UTCDateTime

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaign") as batch:
        batch.add_column(sa.Column("recurrence", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("zone", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("series_id", BigId, nullable=True))
        batch.add_column(sa.Column("occurrence_at", UTCDateTime(), nullable=True))
        batch.create_foreign_key(
            "fk_campaign_series_id_campaign", "campaign", ["series_id"], ["id"]
        )
        batch.create_index(
            "ux_campaign_series_id_occurrence_at", ["series_id", "occurrence_at"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("campaign") as batch:
        batch.drop_index("ux_campaign_series_id_occurrence_at")
        batch.drop_constraint("fk_campaign_series_id_campaign", type_="foreignkey")
        batch.drop_column("occurrence_at")
        batch.drop_column("series_id")
        batch.drop_column("zone")
        batch.drop_column("recurrence")
