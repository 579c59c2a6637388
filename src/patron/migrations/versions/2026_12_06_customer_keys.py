"""privacy: a data key per customer (crypto-shredding), legal holds, identity corrections

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.models

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, patron.core.models.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "customer_key",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("ref", sa.String(length=32), nullable=False),
        sa.Column("wrapped", sa.String(length=120), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_key")),
        sa.UniqueConstraint("ref", name=op.f("uq_customer_key_ref")),
    )
    # a plain ADD COLUMN: a batch copy of ``customer`` would trip the foreign keys to it
    op.add_column("customer", sa.Column("key_ref", sa.String(length=32), nullable=True))
    op.create_table(
        "legal_hold",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("placed_by", sa.String(length=120), nullable=False),
        _at("placed_at"),
        sa.Column("lifted_by", sa.String(length=120), nullable=True),
        _at("lifted_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_legal_hold_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_hold")),
    )
    op.create_index("ix_legal_hold_customer_id", "legal_hold", ["customer_id"], unique=False)
    op.create_table(
        "identity_correction",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("corrected_by", sa.String(length=140), nullable=False),
        _at("corrected_at"),
        sa.Column("request_id", _ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_identity_correction_customer_id_customer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_correction")),
    )
    op.create_index(
        "ix_identity_correction_customer_id",
        "identity_correction",
        ["customer_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_identity_correction_customer_id", table_name="identity_correction")
    op.drop_table("identity_correction")
    op.drop_index("ix_legal_hold_customer_id", table_name="legal_hold")
    op.drop_table("legal_hold")
    op.drop_column("customer", "key_ref")
    op.drop_table("customer_key")
