"""message outbox: content, messages, attempts and provider budgets

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.models


revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = patron.core.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "message_content",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_content")),
    )
    op.create_table(
        "outbox_message",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("source_kind", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("content_id", _ID, nullable=False),
        sa.Column("variables", sa.JSON(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=255), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("next_attempt_at", _AT, nullable=False),
        sa.Column("not_after", _AT, nullable=True),
        sa.Column("published_at", _AT, nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("claimed_until", _AT, nullable=True),
        sa.Column("handed_over_at", _AT, nullable=True),
        sa.Column("sent_at", _AT, nullable=True),
        sa.Column("finished_at", _AT, nullable=True),
        sa.Column("provider", sa.String(length=32), nullable=True),
        sa.Column("provider_message_id", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["message_content.id"],
            name=op.f("fk_outbox_message_content_id_message_content"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_outbox_message_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
        sa.UniqueConstraint(
            "source_kind",
            "source_id",
            "customer_id",
            "channel",
            name=op.f("uq_outbox_message_source_kind_source_id_customer_id_channel"),
        ),
    )
    op.create_index(
        "ix_outbox_message_due",
        "outbox_message",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'queued'"),
        sqlite_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "ix_outbox_message_claimed",
        "outbox_message",
        ["claimed_until"],
        unique=False,
        postgresql_where=sa.text("status = 'sending'"),
        sqlite_where=sa.text("status = 'sending'"),
    )
    op.create_index(
        "ix_outbox_message_customer_id_sent_at",
        "outbox_message",
        ["customer_id", "sent_at"],
        unique=False,
    )
    op.create_table(
        "outbox_attempt",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("message_id", _ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("started_at", _AT, nullable=False),
        sa.Column("finished_at", _AT, nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=255), nullable=True),
        sa.Column("provider_message_id", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["outbox_message.id"],
            name=op.f("fk_outbox_attempt_message_id_outbox_message"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_attempt")),
        sa.UniqueConstraint(
            "message_id", "number", name=op.f("uq_outbox_attempt_message_id_number")
        ),
    )
    op.create_table(
        "dispatch_budget",
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("provider", name=op.f("pk_dispatch_budget")),
    )


def downgrade() -> None:
    op.drop_table("dispatch_budget")
    op.drop_table("outbox_attempt")
    op.drop_index("ix_outbox_message_customer_id_sent_at", table_name="outbox_message")
    op.drop_index("ix_outbox_message_claimed", table_name="outbox_message")
    op.drop_index("ix_outbox_message_due", table_name="outbox_message")
    op.drop_table("outbox_message")
    op.drop_table("message_content")
