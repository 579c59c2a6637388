"""events: one event stream (behaviour and domain events), visitors stitched to customers,
webhook subscriptions, their deliveries and attempts

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.models

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _instant() -> patron.core.models.UTCDateTime:
    return patron.core.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "event",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=True),
        sa.Column("anonymous_key", sa.String(length=64), nullable=True),
        sa.Column("store_id", BIG_ID, nullable=True),
        sa.Column("occurred_at", _instant(), nullable=False),
        sa.Column("received_at", _instant(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
        sa.UniqueConstraint("event_id", name=op.f("uq_event_event_id")),
    )
    op.create_index("ix_event_customer_id_id", "event", ["customer_id", "id"], unique=False)
    op.create_index("ix_event_anonymous_key_id", "event", ["anonymous_key", "id"], unique=False)
    op.create_index("ix_event_received_at", "event", ["received_at"], unique=False)
    op.create_table(
        "event_visitor",
        sa.Column("anonymous_key", sa.String(length=64), nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=False),
        sa.Column("identified_at", _instant(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_event_visitor_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("anonymous_key", name=op.f("pk_event_visitor")),
    )
    op.create_index(
        op.f("ix_event_visitor_customer_id"), "event_visitor", ["customer_id"], unique=False
    )
    op.create_table(
        "webhook_subscription",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text(), nullable=True),
        sa.Column("previous_secret_until", _instant(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", _instant(), nullable=False),
        sa.Column("updated_at", _instant(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscription")),
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("subscription_id", BIG_ID, nullable=False),
        sa.Column("event_row_id", BIG_ID, nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("customer_id", BIG_ID, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", _instant(), nullable=False),
        sa.Column("first_due_at", _instant(), nullable=False),
        sa.Column("next_attempt_at", _instant(), nullable=False),
        sa.Column("claimed_until", _instant(), nullable=True),
        sa.Column("finished_at", _instant(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscription.id"],
            name=op.f("fk_webhook_delivery_subscription_id_webhook_subscription"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
        sa.UniqueConstraint(
            "subscription_id",
            "event_row_id",
            name=op.f("uq_webhook_delivery_subscription_id_event_row_id"),
        ),
    )
    op.create_index(
        "ix_webhook_delivery_due",
        "webhook_delivery",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_webhook_delivery_subscription_id_customer_id",
        "webhook_delivery",
        ["subscription_id", "customer_id"],
        unique=False,
    )
    op.create_table(
        "webhook_attempt",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("delivery_id", BIG_ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_at", _instant(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_delivery.id"],
            name=op.f("fk_webhook_attempt_delivery_id_webhook_delivery"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempt")),
        sa.UniqueConstraint(
            "delivery_id", "number", name=op.f("uq_webhook_attempt_delivery_id_number")
        ),
    )


def downgrade() -> None:
    op.drop_table("webhook_attempt")
    op.drop_index("ix_webhook_delivery_subscription_id_customer_id", table_name="webhook_delivery")
    op.drop_index("ix_webhook_delivery_due", table_name="webhook_delivery")
    op.drop_table("webhook_delivery")
    op.drop_table("webhook_subscription")
    op.drop_index(op.f("ix_event_visitor_customer_id"), table_name="event_visitor")
    op.drop_table("event_visitor")
    op.drop_index("ix_event_received_at", table_name="event")
    op.drop_index("ix_event_anonymous_key_id", table_name="event")
    op.drop_index("ix_event_customer_id_id", table_name="event")
    op.drop_table("event")
