"""consent ledger, message templates, campaigns and their measurement

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.models

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = patron.core.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaign",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("audience_id", _ID, nullable=False),
        sa.Column("templates", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("offer", sa.String(length=16), nullable=False),
        sa.Column("coupon_template_code", sa.String(length=64), nullable=True),
        sa.Column("offer_points", sa.Integer(), nullable=True),
        sa.Column("send_at", _AT, nullable=True),
        sa.Column("holdout_bp", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("conversion_days", sa.Integer(), nullable=False),
        sa.Column("cost_per_message_fen", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("approved_by", sa.String(length=120), nullable=True),
        sa.Column("approved_at", _AT, nullable=True),
        sa.Column("sent_at", _AT, nullable=True),
        sa.Column("treated", sa.Integer(), nullable=False),
        sa.Column("held_out", sa.Integer(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign")),
        sa.UniqueConstraint("name", name=op.f("uq_campaign_name")),
    )
    op.create_table(
        "message_template",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("subject_zh", sa.String(length=200), nullable=True),
        sa.Column("text_zh", sa.Text(), nullable=False),
        sa.Column("subject_en", sa.String(length=200), nullable=True),
        sa.Column("text_en", sa.Text(), nullable=True),
        sa.Column("provider_templates", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_template")),
        sa.UniqueConstraint("name", name=op.f("uq_message_template_name")),
    )
    op.create_table(
        "campaign_event",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("campaign_id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("message_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("at", _AT, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_campaign_event_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_campaign_event_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_event")),
    )
    op.create_index(
        "ix_campaign_event_campaign_id_kind",
        "campaign_event",
        ["campaign_id", "kind"],
        unique=False,
    )
    op.create_table(
        "campaign_member",
        sa.Column("campaign_id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("holdout", sa.Boolean(), nullable=False),
        sa.Column("channels", sa.String(length=64), nullable=False),
        sa.Column("coupon_code", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_campaign_member_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_campaign_member_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("campaign_id", "customer_id", name=op.f("pk_campaign_member")),
    )
    op.create_table(
        "consent_event",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("notice_version", sa.String(length=32), nullable=True),
        sa.Column("recorded_by", sa.String(length=120), nullable=True),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("created_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_consent_event_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_event")),
    )
    op.create_index(
        "ix_consent_event_customer_id_at", "consent_event", ["customer_id", "at"], unique=False
    )
    op.create_table(
        "consent_state",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("notice_version", sa.String(length=32), nullable=True),
        sa.Column("event_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_consent_state_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["consent_event.id"], name=op.f("fk_consent_state_event_id_consent_event")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_state")),
        sa.UniqueConstraint(
            "customer_id",
            "channel",
            "purpose",
            name=op.f("uq_consent_state_customer_id_channel_purpose"),
        ),
    )


def downgrade() -> None:
    op.drop_table("consent_state")
    op.drop_index("ix_consent_event_customer_id_at", table_name="consent_event")
    op.drop_table("consent_event")
    op.drop_table("campaign_member")
    op.drop_index("ix_campaign_event_campaign_id_kind", table_name="campaign_event")
    op.drop_table("campaign_event")
    op.drop_table("message_template")
    op.drop_table("campaign")
