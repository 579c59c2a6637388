"""audiences (saved segments); custom profile fields and their values

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.models

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = patron.core.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audience",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=140), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audience")),
        sa.UniqueConstraint("name", name=op.f("uq_audience_name")),
    )
    op.create_table(
        "custom_field",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("personal", sa.Boolean(), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_field")),
        sa.UniqueConstraint("code", name=op.f("uq_custom_field_code")),
    )
    op.create_table(
        "customer_field_value",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("field_id", BigId, nullable=False),
        sa.Column("value", sa.String(length=500), nullable=True),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_customer_field_value_customer_id_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["field_id"],
            ["custom_field.id"],
            name=op.f("fk_customer_field_value_field_id_custom_field"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_field_value")),
        sa.UniqueConstraint(
            "customer_id", "field_id", name=op.f("uq_customer_field_value_customer_id_field_id")
        ),
    )
    op.create_index(
        "ix_customer_field_value_field_id", "customer_field_value", ["field_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_customer_field_value_field_id", table_name="customer_field_value")
    op.drop_table("customer_field_value")
    op.drop_table("custom_field")
    op.drop_table("audience")
