"""customer risk, risk alerts and churn model reports

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 13:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.models


revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "churn_model_report",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_at", patron.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["analytics_run.id"],
            name=op.f("fk_churn_model_report_run_id_analytics_run"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_churn_model_report")),
        sa.UniqueConstraint("run_id", name=op.f("uq_churn_model_report_run_id")),
    )
    op.create_table(
        "customer_risk",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("churn_risk", sa.Float(), nullable=False),
        sa.Column("p_alive", sa.Float(), nullable=False),
        sa.Column("expected_purchases_90d", sa.Float(), nullable=False),
        sa.Column("clv_fen", sa.BigInteger(), nullable=False),
        sa.Column("value_at_stake_fen", sa.BigInteger(), nullable=False),
        sa.Column("band", sa.String(length=8), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_customer_risk_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["analytics_run.id"], name=op.f("fk_customer_risk_run_id_analytics_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_risk")),
        sa.UniqueConstraint(
            "run_id", "customer_id", name=op.f("uq_customer_risk_run_id_customer_id")
        ),
    )
    with op.batch_alter_table("customer_risk", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_risk_customer_id_as_of", ["customer_id", "as_of"], unique=False
        )
        batch_op.create_index(
            "ix_customer_risk_run_id_band_value",
            ["run_id", "band", "value_at_stake_fen"],
            unique=False,
        )

    op.create_table(
        "risk_alert",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("churn_risk", sa.Float(), nullable=False),
        sa.Column("previous_band", sa.String(length=8), nullable=True),
        sa.Column("value_at_stake_fen", sa.BigInteger(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("created_at", patron.core.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_risk_alert_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["analytics_run.id"], name=op.f("fk_risk_alert_run_id_analytics_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_alert")),
        sa.UniqueConstraint("run_id", "customer_id", name=op.f("uq_risk_alert_run_id_customer_id")),
    )
    with op.batch_alter_table("risk_alert", schema=None) as batch_op:
        batch_op.create_index(
            "ix_risk_alert_customer_id_created_at", ["customer_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_risk_alert_run_id_value", ["run_id", "value_at_stake_fen"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("risk_alert", schema=None) as batch_op:
        batch_op.drop_index("ix_risk_alert_run_id_value")
        batch_op.drop_index("ix_risk_alert_customer_id_created_at")

    op.drop_table("risk_alert")
    with op.batch_alter_table("customer_risk", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_risk_run_id_band_value")
        batch_op.drop_index("ix_customer_risk_customer_id_as_of")

    op.drop_table("customer_risk")
    op.drop_table("churn_model_report")
