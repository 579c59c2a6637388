"""baskets, recommendations and forecasts

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "basket_rule",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("store_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("baskets", sa.Integer(), nullable=False),
        sa.Column("antecedent", sa.JSON(), nullable=False),
        sa.Column("antecedent_key", sa.String(length=1000), nullable=False),
        sa.Column("consequent", sa.String(length=255), nullable=False),
        sa.Column("items", sa.SmallInteger(), nullable=False),
        sa.Column("rule_count", sa.Integer(), nullable=False),
        sa.Column("antecedent_count", sa.Integer(), nullable=False),
        sa.Column("consequent_count", sa.Integer(), nullable=False),
        sa.Column("support", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("lift", sa.Float(), nullable=False),
        sa.Column("leverage", sa.Float(), nullable=False),
        sa.Column("conviction", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["analytics_run.id"], name=op.f("fk_basket_rule_run_id_analytics_run")
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["store.id"], name=op.f("fk_basket_rule_store_id_store")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_basket_rule")),
    )
    with op.batch_alter_table("basket_rule", schema=None) as batch_op:
        batch_op.create_index(
            "ix_basket_rule_consequent", ["run_id", "level", "store_id", "consequent"], unique=False
        )
        batch_op.create_index(
            "ix_basket_rule_lookup", ["run_id", "level", "store_id", "antecedent_key"], unique=False
        )

    op.create_table(
        "forecast_backtest",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("store_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("category", sa.String(length=255), nullable=False),
        sa.Column("model", sa.String(length=32), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("mase", sa.Float(), nullable=True),
        sa.Column("smape", sa.Float(), nullable=False),
        sa.Column("mase_naive", sa.Float(), nullable=True),
        sa.Column("smape_naive", sa.Float(), nullable=False),
        sa.Column("coverage_80", sa.Float(), nullable=False),
        sa.Column("actual_fen", sa.BigInteger(), nullable=False),
        sa.Column("forecast_fen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["analytics_run.id"], name=op.f("fk_forecast_backtest_run_id_analytics_run")
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["store.id"], name=op.f("fk_forecast_backtest_store_id_store")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecast_backtest")),
        sa.UniqueConstraint(
            "run_id",
            "store_id",
            "category",
            name=op.f("uq_forecast_backtest_run_id_store_id_category"),
        ),
    )
    op.create_table(
        "sales_forecast",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("store_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("category", sa.String(length=255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("forecast_fen", sa.BigInteger(), nullable=False),
        sa.Column("lower_80_fen", sa.BigInteger(), nullable=False),
        sa.Column("upper_80_fen", sa.BigInteger(), nullable=False),
        sa.Column("lower_95_fen", sa.BigInteger(), nullable=False),
        sa.Column("upper_95_fen", sa.BigInteger(), nullable=False),
        sa.Column("model", sa.String(length=32), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["analytics_run.id"], name=op.f("fk_sales_forecast_run_id_analytics_run")
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["store.id"], name=op.f("fk_sales_forecast_store_id_store")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_forecast")),
        sa.UniqueConstraint(
            "run_id",
            "store_id",
            "category",
            "day",
            name=op.f("uq_sales_forecast_run_id_store_id_category_day"),
        ),
    )
    with op.batch_alter_table("sales_forecast", schema=None) as batch_op:
        batch_op.create_index("ix_sales_forecast_run_id_day", ["run_id", "day"], unique=False)

    op.create_table(
        "customer_recommendation",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("rank", sa.SmallInteger(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_customer_recommendation_customer_id_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["analytics_run.id"],
            name=op.f("fk_customer_recommendation_run_id_analytics_run"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_recommendation")),
        sa.UniqueConstraint(
            "run_id",
            "customer_id",
            "rank",
            name=op.f("uq_customer_recommendation_run_id_customer_id_rank"),
        ),
    )
    with op.batch_alter_table("customer_recommendation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_recommendation_customer_id_run_id", ["customer_id", "run_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("customer_recommendation", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_recommendation_customer_id_run_id")

    op.drop_table("customer_recommendation")
    with op.batch_alter_table("sales_forecast", schema=None) as batch_op:
        batch_op.drop_index("ix_sales_forecast_run_id_day")

    op.drop_table("sales_forecast")
    op.drop_table("forecast_backtest")
    with op.batch_alter_table("basket_rule", schema=None) as batch_op:
        batch_op.drop_index("ix_basket_rule_lookup")
        batch_op.drop_index("ix_basket_rule_consequent")

    op.drop_table("basket_rule")
