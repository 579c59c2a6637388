"""returns without a known sale; refunds' store; order attributes; import runs staged,
reconciled and previewed; saved column mappings

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import patron.core.models


revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = patron.core.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sale_return",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("store_id", BigId, nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("customer_id", BigId, nullable=True),
        sa.Column("returned_at", Stamp, nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("quantity_milli", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("import_run_id", BigId, nullable=True),
        sa.Column("created_at", Stamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_sale_return_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["import_run_id"],
            ["import_run.id"],
            name=op.f("fk_sale_return_import_run_id_import_run"),
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["store.id"], name=op.f("fk_sale_return_store_id_store")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sale_return")),
        sa.UniqueConstraint(
            "source",
            "external_id",
            "line_no",
            name=op.f("uq_sale_return_source_external_id_line_no"),
        ),
    )
    op.create_index(
        "ix_sale_return_customer_id_returned_at",
        "sale_return",
        ["customer_id", "returned_at"],
        unique=False,
    )
    op.create_index(
        "ix_sale_return_store_id_returned_at", "sale_return", ["store_id", "returned_at"]
    )
    op.create_index("ix_sale_return_returned_at", "sale_return", ["returned_at"])
    op.create_index("ix_sale_return_import_run_id", "sale_return", ["import_run_id"])

    # In place (SQLite adds a column with its REFERENCES clause without copying the table,
    # which the refund lines pointing at refunds would refuse).
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE refund ADD COLUMN store_id INTEGER REFERENCES store (id)")
    else:
        op.add_column("refund", sa.Column("store_id", BigId, nullable=True))
        op.create_foreign_key(
            op.f("fk_refund_store_id_store"), "refund", "store", ["store_id"], ["id"]
        )
    op.create_index("ix_refund_import_run_id", "refund", ["import_run_id"], unique=False)

    for name in ("country", "province", "city", "cashier"):
        op.add_column("orders", sa.Column(name, sa.String(length=60), nullable=True))
    op.create_index("ix_orders_import_run_id", "orders", ["import_run_id"], unique=False)

    for column in (
        sa.Column("stage", sa.String(length=16), nullable=True),
        sa.Column("units_done", sa.BigInteger(), nullable=True),
        sa.Column("units_total", sa.BigInteger(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_by", sa.String(length=120), nullable=True),
    ):
        op.add_column("import_run", column)

    op.create_table(
        "import_mapping",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=True),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_mapping")),
        sa.UniqueConstraint("kind", "name", name=op.f("uq_import_mapping_kind_name")),
    )


def downgrade() -> None:
    op.drop_table("import_mapping")
    # In place, not in batch mode, where SQLite allows it (3.35+ drops a column in place):
    # a batch copy of a table others point at would be refused by their foreign keys.
    for name in ("started_by", "error", "outcome", "options", "units_total", "units_done"):
        op.drop_column("import_run", name)
    op.drop_column("import_run", "stage")
    op.drop_index("ix_orders_import_run_id", table_name="orders")
    for name in ("cashier", "city", "province", "country"):
        op.drop_column("orders", name)
    op.drop_index("ix_refund_import_run_id", table_name="refund")
    if op.get_bind().dialect.name != "sqlite":  # SQLite drops the column with its clause
        op.drop_constraint("fk_refund_store_id_store", "refund", type_="foreignkey")
    op.drop_column("refund", "store_id")
    op.drop_index("ix_sale_return_import_run_id", table_name="sale_return")
    op.drop_index("ix_sale_return_returned_at", table_name="sale_return")
    op.drop_index("ix_sale_return_store_id_returned_at", table_name="sale_return")
    op.drop_index("ix_sale_return_customer_id_returned_at", table_name="sale_return")
    op.drop_table("sale_return")
