"""encrypt interaction notes

Notes of calls and visits are typed by staff and carry phone numbers and addresses as
often as not: they are encrypted with the keyring like the rest of a customer's personal
data (associated data ``interaction.note``). Existing notes are encrypted in batches, with
SQLite's secure_delete on so no plain note lingers in the file's free pages; downgrade
decrypts them back.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 00:10:00.000000
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op


revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
COLUMN = b"interaction.note"
_NOTES = sa.table("interaction", sa.column("id"), sa.column("note"))


def _rewrite(convert: Callable[[Any, str], str]) -> None:
    bind = op.get_bind()
    if bind.execute(sa.select(_NOTES.c.id).limit(1)).first() is None:
        return  # no notes: no keys needed (a fresh database)
    from patron.core.crypto import get_keyring

    keyring = get_keyring()
    after = 0
    while True:
        rows = bind.execute(
            sa.select(_NOTES.c.id, _NOTES.c.note)
            .where(_NOTES.c.id > after)
            .order_by(_NOTES.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        params = [
            {"_id": row_id, "_note": convert(keyring, note)}
            for row_id, note in rows
            if note is not None
        ]
        if params:
            bind.execute(
                sa.update(_NOTES)
                .where(_NOTES.c.id == sa.bindparam("_id"))
                .values(note=sa.bindparam("_note")),
                params,
            )
        after = rows[-1][0]


def _secure_delete(on: bool) -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return False
    before = bool(bind.exec_driver_sql("PRAGMA secure_delete").scalar())
    bind.exec_driver_sql(f"PRAGMA secure_delete = {int(on)}")
    return before


def upgrade() -> None:
    was_secure = _secure_delete(True)
    try:
        _rewrite(lambda keyring, note: str(keyring.encrypt(note, COLUMN)))
    finally:
        _secure_delete(was_secure)


def downgrade() -> None:
    _rewrite(lambda keyring, note: str(keyring.decrypt(note, COLUMN)))
