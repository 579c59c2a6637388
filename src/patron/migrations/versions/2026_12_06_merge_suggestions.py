"""merge suggestions, and the audit log's encrypted before-images

Two profiles a record says are one person, where whoever sent the record may not merge
them (a store's till), wait as a suggestion for a privacy officer or a chain manager. Audit
entries of profile changes keep what the profile held before, encrypted.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.models


revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table(
        "customer_merge_suggestion",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("first_id", _ID, nullable=False),
        sa.Column("second_id", _ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("store_id", _ID, nullable=True),
        sa.Column("raised_by", sa.String(length=140), nullable=False),
        sa.Column("raised_at", patron.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=140), nullable=True),
        sa.Column("decided_at", patron.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=True),
        sa.Column("merge_id", _ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["first_id"],
            ["customer.id"],
            name=op.f("fk_customer_merge_suggestion_first_id_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["second_id"],
            ["customer.id"],
            name=op.f("fk_customer_merge_suggestion_second_id_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["store.id"], name=op.f("fk_customer_merge_suggestion_store_id_store")
        ),
        sa.ForeignKeyConstraint(
            ["merge_id"],
            ["customer_merge.id"],
            name=op.f("fk_customer_merge_suggestion_merge_id_customer_merge"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_merge_suggestion")),
    )
    with op.batch_alter_table("customer_merge_suggestion", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_merge_suggestion_status_id", ["status", "id"], unique=False
        )
        batch_op.create_index("ix_customer_merge_suggestion_first_id", ["first_id"], unique=False)
        batch_op.create_index("ix_customer_merge_suggestion_second_id", ["second_id"], unique=False)
        batch_op.create_index(
            "ix_customer_merge_suggestion_pending_pair",
            ["first_id", "second_id"],
            unique=True,
            sqlite_where=_PENDING,
            postgresql_where=_PENDING,
        )
    # In place, not in batch mode: SQLite adds a column without copying the table.
    op.add_column("audit_entry", sa.Column("before_image", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("audit_entry", "before_image")
    op.drop_index(
        "ix_customer_merge_suggestion_pending_pair", table_name="customer_merge_suggestion"
    )
    op.drop_index("ix_customer_merge_suggestion_second_id", table_name="customer_merge_suggestion")
    op.drop_index("ix_customer_merge_suggestion_first_id", table_name="customer_merge_suggestion")
    op.drop_index("ix_customer_merge_suggestion_status_id", table_name="customer_merge_suggestion")
    op.drop_table("customer_merge_suggestion")
