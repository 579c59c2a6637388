"""orders: each line's share of the order discount, as loyalty placed it (a coupon scoped to
some SKUs falls on those lines only), so that a refund takes back what was paid for a line

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("order_line") as batch:
        batch.add_column(sa.Column("order_discount_share_fen", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_line") as batch:
        batch.drop_column("order_discount_share_fen")
