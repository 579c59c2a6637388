"""privacy: data-subject requests, the processing register, retention policies

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 12:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.models

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, patron.core.models.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "privacy_request",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=120), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("verification", sa.String(length=255), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        _at("received_at"),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("handler", sa.String(length=120), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        _at("closed_at", nullable=True),
        sa.Column("reminded_on", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_privacy_request_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_request")),
    )
    op.create_index(
        "ix_privacy_request_status_due_on", "privacy_request", ["status", "due_on"], unique=False
    )
    op.create_index(
        "ix_privacy_request_customer_id", "privacy_request", ["customer_id"], unique=False
    )
    op.create_table(
        "processing_activity",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("data_kinds", sa.Text(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("retention", sa.String(length=200), nullable=False),
        sa.Column("legal_basis", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processing_activity")),
    )
    op.create_table(
        "retention_policy",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("keep_months", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_policy")),
        sa.UniqueConstraint("kind", name=op.f("uq_retention_policy_kind")),
    )


def downgrade() -> None:
    op.drop_table("retention_policy")
    op.drop_table("processing_activity")
    op.drop_index("ix_privacy_request_customer_id", table_name="privacy_request")
    op.drop_index("ix_privacy_request_status_due_on", table_name="privacy_request")
    op.drop_table("privacy_request")
