"""encrypt personal data

Customer name, birthday and (new) address, every identity value and the merge history's
profile snapshots are encrypted with the configured keyring (patron.core.crypto); identities
get a keyed blind index that carries their uniqueness, customers one for exact-name search.
Existing rows are encrypted in batches; downgrade decrypts them back (and drops addresses,
which the older schema has no column for).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 13:40:00
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
INDEX = sa.String(length=32)

# customer.name and customer.birthday change type by a new column, copied and renamed: on
# SQLite that avoids rebuilding the customer table, which many tables point at.
_CUSTOMER_RETYPED = (("name", sa.String(length=120)), ("birthday", sa.Date()))


def _keyring() -> Any:
    from patron.core.crypto import get_keyring

    return get_keyring()


def _rewrite(
    table: sa.TableClause,
    reads: Sequence[str],
    convert: Callable[[Any, tuple[Any, ...]], dict[str, Any] | None],
) -> None:
    """Walk ``table`` by id in batches; ``convert(keyring, row)`` gives the new values."""
    bind = op.get_bind()
    cols = [table.c[c] for c in reads]
    if bind.execute(sa.select(table.c.id).limit(1)).first() is None:
        return  # an empty table needs no keys (a fresh database)
    keyring = _keyring()
    after = 0
    while True:
        rows = bind.execute(
            sa.select(table.c.id, *cols).where(table.c.id > after).order_by(table.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        params = []
        for row in rows:
            values = convert(keyring, tuple(row[1:]))
            if values is not None:
                params.append({"_id": row[0], **{f"_{k}": v for k, v in values.items()}})
        if params:
            names = [k.removeprefix("_") for k in params[0] if k != "_id"]
            bind.execute(
                sa.update(table)
                .where(table.c.id == sa.bindparam("_id"))
                .values({n: sa.bindparam(f"_{n}") for n in names}),
                params,
            )
        after = rows[-1][0]


def _enc(keyring: Any, value: Any, column: str) -> str | None:
    if value is None:
        return None
    return str(keyring.encrypt(str(value), column.encode()))


def _dec(keyring: Any, value: Any, column: str) -> str | None:
    if value is None:
        return None
    return str(keyring.decrypt(value, column.encode()))


def _name_index(keyring: Any, name: str | None) -> str | None:
    from patron.core.crypto import normalise_name

    if name is None:
        return None
    normal = normalise_name(name)
    return str(keyring.blind_index(f"name|{normal}")) if normal else None


def _swap_columns(table: str, columns: Sequence[str]) -> None:
    """Drop each column and give its ``<column>_new`` twin the name."""
    for name in columns:
        op.drop_column(table, name)
        op.alter_column(table, f"{name}_new", new_column_name=name)


def _secure_delete(on: bool) -> bool:
    """SQLite: zero what is deleted or overwritten, so no plain value lingers in free space
    of the file. Returns the setting before."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return False
    before = bool(bind.exec_driver_sql("PRAGMA secure_delete").scalar())
    bind.exec_driver_sql(f"PRAGMA secure_delete = {int(on)}")
    return before


def upgrade() -> None:
    was_secure = _secure_delete(True)
    try:
        _upgrade()
    finally:
        _secure_delete(was_secure)


def _upgrade() -> None:
    # customer: the new columns, then each retyped column filled from the old one
    op.add_column("customer", sa.Column("name_index", INDEX, nullable=True))
    op.add_column("customer", sa.Column("address", sa.Text(), nullable=True))
    for name, _old in _CUSTOMER_RETYPED:
        op.add_column("customer", sa.Column(f"{name}_new", sa.Text(), nullable=True))
    customer = sa.table(
        "customer",
        *(sa.column(c) for c in ("id", "name", "birthday", "name_new", "birthday_new")),
        sa.column("name_index"),
    )

    def customer_row(keyring: Any, row: tuple[Any, ...]) -> dict[str, Any] | None:
        name, birthday = row
        if name is None and birthday is None:
            return None
        return {
            "name_new": _enc(keyring, name, "customer.name"),
            "birthday_new": _enc(keyring, birthday, "customer.birthday"),
            "name_index": _name_index(keyring, name),
        }

    _rewrite(customer, ("name", "birthday"), customer_row)
    _swap_columns("customer", [name for name, _old in _CUSTOMER_RETYPED])
    op.create_index("ix_customer_name_index", "customer", ["name_index"], unique=False)

    # identity: the value encrypted, its blind index carries the uniqueness
    with op.batch_alter_table("identity", schema=None) as batch_op:
        batch_op.drop_constraint("uq_identity_value_kind_namespace", type_="unique")
        batch_op.add_column(sa.Column("value_index", INDEX, nullable=True))
        batch_op.alter_column("value", existing_type=sa.String(length=128), type_=sa.Text())
    identity = sa.table(
        "identity", *(sa.column(c) for c in ("id", "kind", "namespace", "value", "value_index"))
    )

    def identity_row(keyring: Any, row: tuple[Any, ...]) -> dict[str, Any]:
        kind, namespace, value = row
        return {
            "value": _enc(keyring, value, "identity.value"),
            "value_index": str(keyring.blind_index(f"{kind}|{namespace}|{value}")),
        }

    _rewrite(identity, ("kind", "namespace", "value"), identity_row)
    with op.batch_alter_table("identity", schema=None) as batch_op:
        batch_op.alter_column("value_index", existing_type=INDEX, nullable=False)
        batch_op.create_unique_constraint(
            "uq_identity_value_index_kind_namespace", ["value_index", "kind", "namespace"]
        )

    # customer_merge: the survivor's profile snapshot, as encrypted JSON text
    with op.batch_alter_table("customer_merge", schema=None) as batch_op:
        batch_op.alter_column(
            "survivor_before",
            existing_type=sa.JSON(),
            type_=sa.Text(),
            existing_nullable=False,
            postgresql_using="survivor_before::text",
        )
    merge = sa.table("customer_merge", sa.column("id"), sa.column("survivor_before"))
    _rewrite(
        merge,
        ("survivor_before",),
        lambda keyring, row: {
            "survivor_before": _enc(keyring, row[0], "customer_merge.survivor_before")
        },
    )


def downgrade() -> None:
    merge = sa.table("customer_merge", sa.column("id"), sa.column("survivor_before"))
    _rewrite(
        merge,
        ("survivor_before",),
        lambda keyring, row: {
            "survivor_before": _dec(keyring, row[0], "customer_merge.survivor_before")
        },
    )
    with op.batch_alter_table("customer_merge", schema=None) as batch_op:
        batch_op.alter_column(
            "survivor_before",
            existing_type=sa.Text(),
            type_=sa.JSON(),
            existing_nullable=False,
            postgresql_using="survivor_before::json",
        )

    identity = sa.table("identity", sa.column("id"), sa.column("value"))
    with op.batch_alter_table("identity", schema=None) as batch_op:
        batch_op.drop_constraint("uq_identity_value_index_kind_namespace", type_="unique")
    _rewrite(
        identity,
        ("value",),
        lambda keyring, row: {"value": _dec(keyring, row[0], "identity.value")},
    )
    with op.batch_alter_table("identity", schema=None) as batch_op:
        batch_op.drop_column("value_index")
        batch_op.alter_column("value", existing_type=sa.Text(), type_=sa.String(length=128))
        batch_op.create_unique_constraint(
            "uq_identity_value_kind_namespace", ["value", "kind", "namespace"]
        )

    for name, old in _CUSTOMER_RETYPED:
        op.add_column("customer", sa.Column(f"{name}_new", old, nullable=True))
    customer = sa.table(
        "customer", *(sa.column(c) for c in ("id", "name", "birthday", "name_new", "birthday_new"))
    )

    def customer_row(keyring: Any, row: tuple[Any, ...]) -> dict[str, Any] | None:
        name, birthday = row
        if name is None and birthday is None:
            return None
        return {
            "name_new": _dec(keyring, name, "customer.name"),
            "birthday_new": _dec(keyring, birthday, "customer.birthday"),
        }

    _rewrite(customer, ("name", "birthday"), customer_row)
    op.drop_index("ix_customer_name_index", table_name="customer")
    op.drop_column("customer", "name_index")
    op.drop_column("customer", "address")
    _swap_columns("customer", [name for name, _old in _CUSTOMER_RETYPED])
