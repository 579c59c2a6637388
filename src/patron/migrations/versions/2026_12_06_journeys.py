"""journeys: journeys, their versions, each customer's entries, step runs and staff tasks

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 14:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.models


revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "journey_birthday",
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("month_day", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_journey_birthday")),
    )
    with op.batch_alter_table("journey_birthday", schema=None) as batch_op:
        batch_op.create_index("ix_journey_birthday_month_day", ["month_day"], unique=False)
    op.create_table(
        "journey",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.JSON(), nullable=False),
        sa.Column("reentry", sa.String(length=16), nullable=False),
        sa.Column("reentry_days", sa.Integer(), nullable=False),
        sa.Column("goal", sa.String(length=16), nullable=True),
        sa.Column("holdout_bp", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("conversion_days", sa.Integer(), nullable=False),
        sa.Column("entered_on", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", patron.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", patron.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey")),
        sa.UniqueConstraint("code", name=op.f("uq_journey_code")),
        sa.UniqueConstraint("name", name=op.f("uq_journey_name")),
    )
    op.create_table(
        "journey_cursor",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", patron.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_journey_cursor")),
    )
    op.create_table(
        "journey_segment_member",
        sa.Column(
            "journey_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["journey_id"],
            ["journey.id"],
            name=op.f("fk_journey_segment_member_journey_id_journey"),
        ),
        sa.PrimaryKeyConstraint(
            "journey_id", "customer_id", name=op.f("pk_journey_segment_member")
        ),
    )
    op.create_table(
        "journey_version",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "journey_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("created_at", patron.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["journey_id"], ["journey.id"], name=op.f("fk_journey_version_journey_id_journey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_version")),
        sa.UniqueConstraint(
            "journey_id", "version", name=op.f("uq_journey_version_journey_id_version")
        ),
    )
    op.create_table(
        "journey_state",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "journey_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("entry_key", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("next_run_at", patron.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("waiting_for", sa.String(length=64), nullable=True),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("entered_at", patron.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", patron.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("converted_at", patron.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("converted_fen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_journey_state_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["journey_id"], ["journey.id"], name=op.f("fk_journey_state_journey_id_journey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_state")),
        sa.UniqueConstraint(
            "journey_id",
            "customer_id",
            "entry_key",
            name=op.f("uq_journey_state_journey_id_customer_id_entry_key"),
        ),
    )
    with op.batch_alter_table("journey_state", schema=None) as batch_op:
        batch_op.create_index(
            "ix_journey_state_customer_id_status", ["customer_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_journey_state_status_next_run_at", ["status", "next_run_at"], unique=False
        )

    op.create_table(
        "journey_step_run",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "journey_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("state_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("step_key", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("at", patron.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["journey_id"], ["journey.id"], name=op.f("fk_journey_step_run_journey_id_journey")
        ),
        sa.ForeignKeyConstraint(
            ["state_id"],
            ["journey_state.id"],
            name=op.f("fk_journey_step_run_state_id_journey_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_step_run")),
        sa.UniqueConstraint(
            "state_id", "step_key", name=op.f("uq_journey_step_run_state_id_step_key")
        ),
    )
    with op.batch_alter_table("journey_step_run", schema=None) as batch_op:
        batch_op.create_index(
            "ix_journey_step_run_journey_id_step_key", ["journey_id", "step_key"], unique=False
        )

    op.create_table(
        "staff_task",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "journey_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("state_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("step_key", sa.String(length=32), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("store_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("created_at", patron.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", patron.core.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_staff_task_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["journey_id"], ["journey.id"], name=op.f("fk_staff_task_journey_id_journey")
        ),
        sa.ForeignKeyConstraint(
            ["state_id"], ["journey_state.id"], name=op.f("fk_staff_task_state_id_journey_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_task")),
        sa.UniqueConstraint("state_id", "step_key", name=op.f("uq_staff_task_state_id_step_key")),
    )
    with op.batch_alter_table("staff_task", schema=None) as batch_op:
        batch_op.create_index("ix_staff_task_store_id_status", ["store_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("staff_task", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_task_store_id_status")

    op.drop_table("staff_task")
    with op.batch_alter_table("journey_step_run", schema=None) as batch_op:
        batch_op.drop_index("ix_journey_step_run_journey_id_step_key")

    op.drop_table("journey_step_run")
    with op.batch_alter_table("journey_state", schema=None) as batch_op:
        batch_op.drop_index("ix_journey_state_status_next_run_at")
        batch_op.drop_index("ix_journey_state_customer_id_status")

    op.drop_table("journey_state")
    op.drop_table("journey_version")
    op.drop_table("journey_segment_member")
    op.drop_table("journey_cursor")
    with op.batch_alter_table("journey_birthday", schema=None) as batch_op:
        batch_op.drop_index("ix_journey_birthday_month_day")
    op.drop_table("journey_birthday")
    op.drop_table("journey")
