"""Customers' personal data under the keyring: which columns are encrypted, how many values
each key encrypts, and re-encryption after a key rotation (``patron keys rotate``).

Re-encryption walks each table by id in batches, one transaction per batch, and rewrites the
values whose key id is not the active one, so an interrupted run is finished by running it
again (``--resume``) and a rerun costs only a read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnClause,
    Connection,
    TableClause,
    bindparam,
    column,
    func,
    inspect,
    or_,
    select,
    table,
    update,
)
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.core.actor import Actor
from patron.core.crypto import (
    ENV_VAR,
    SUBJECT_PREFIX,
    Keyring,
    KeyringError,
    KeyringMissing,
    adopt_keyring,
    ensure_keyring,
    key_file_path,
    load_keyring,
    write_key_file,
)
from patron.core.db import Database
from patron.core.settings import get_settings

# (table, column): every encrypted value lives in one of these; the associated data of a
# value is "table.column". A new encrypted column adds itself here.
ENCRYPTED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("customer", "name"),
    ("customer", "birthday"),
    ("customer", "address"),
    ("identity", "value"),
    ("customer_merge", "survivor_before"),
    ("interaction", "note"),
    ("audit_entry", "before_image"),
    ("customer_field_value", "secret"),
    ("identity_correction", "old_value"),
)


def _tables() -> dict[str, tuple[TableClause, list[ColumnClause[Any]]]]:
    """Untyped views of the tables: values come back as stored, ciphertext and all."""
    by_table: dict[str, list[str]] = {}
    for name, col in ENCRYPTED_COLUMNS:
        by_table.setdefault(name, []).append(col)
    views = {}
    for name, cols in by_table.items():
        t = table(name, column("id"), *(column(c) for c in cols))
        views[name] = (t, [t.c[c] for c in cols])
    return views


@dataclass
class ColumnKeys:
    """How many values of one column each key id encrypts."""

    column: str
    by_key: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_key.values())


def count_encrypted_values(*, session: Session, key_ids: list[str]) -> list[ColumnKeys]:
    """Per encrypted column, the values under each of ``key_ids``; values under any other
    key id (one this keyring lacks) are counted under ``"?"``."""
    conn = session.connection()
    found = []
    for name, (t, cols) in _tables().items():
        for col in cols:
            counts = ColumnKeys(column=f"{name}.{col.name}")
            total = conn.execute(select(func.count()).where(col.is_not(None))).scalar_one()
            for kid in key_ids:
                n = conn.execute(
                    select(func.count()).select_from(t).where(col.like(f"{kid}:%"))
                ).scalar_one()
                if n:
                    counts.by_key[kid] = n
            sealed = conn.execute(
                select(func.count()).select_from(t).where(col.like(f"{SUBJECT_PREFIX}%"))
            ).scalar_one()
            if sealed:
                counts.by_key[SUBJECT_PREFIX] = sealed  # under customers' own keys
            if total - counts.total:
                counts.by_key["?"] = total - counts.total
            found.append(counts)
    return found


def holds_encrypted_data(*, session: Session) -> bool:
    """Does the database hold values encrypted by some keyring (schema 0005 or later)?"""
    conn = session.connection()
    inspector = inspect(conn)
    if not inspector.has_table("identity"):
        return False
    if "value_index" not in {c["name"] for c in inspector.get_columns("identity")}:
        return False  # before migration 0005 nothing is encrypted yet
    for _name, (t, cols) in _tables().items():
        if conn.execute(
            select(t.c.id).where(or_(*(c.is_not(None) for c in cols))).limit(1)
        ).first():
            return True
    return False


def ensure_keys(*, db: Database) -> Keyring:
    """The keyring, its key file created when there is none (``patron init``, ``serve``,
    ``demo``) — refused when the database holds values the missing keys encrypted."""
    return ensure_keyring(
        has_encrypted_data=lambda: db.read(lambda s: holds_encrypted_data(session=s))
    )


def reencrypt_batch(
    conn: Connection, keyring: Keyring, table_name: str, *, after_id: int, batch_size: int
) -> tuple[int | None, int]:
    """Re-encrypt one batch of ``table_name`` (ids above ``after_id``) under the active key.

    Returns (the last id read, None at the end; values rewritten).
    """
    t, cols = _tables()[table_name]
    rows = conn.execute(
        select(t.c.id, *cols).where(t.c.id > after_id).order_by(t.c.id).limit(batch_size)
    ).all()
    if not rows:
        return None, 0
    prefix = f"{keyring.active}:"
    aads = [f"{table_name}.{c.name}".encode() for c in cols]
    changes: list[dict[str, Any]] = []
    rewritten = 0
    for row in rows:
        values = list(row[1:])
        changed = False
        for i, value in enumerate(values):
            if value is not None and not value.startswith((prefix, SUBJECT_PREFIX)):
                values[i] = keyring.encrypt(keyring.decrypt(value, aads[i]), aads[i])
                changed = True
                rewritten += 1
        if changed:
            changes.append(
                {"_id": row[0], **{f"_{c.name}": v for c, v in zip(cols, values, strict=True)}}
            )
    if changes:
        statement = (
            update(t)
            .where(t.c.id == bindparam("_id"))
            .values({c.name: bindparam(f"_{c.name}") for c in cols})
        )
        conn.execute(statement, changes)
    return rows[-1][0], rewritten


Progress = Callable[[str, int], None]  # (table, values rewritten so far in it)


def reencrypt_personal_data(
    *, db: Database, keyring: Keyring, batch_size: int = 1000, progress: Progress | None = None
) -> dict[str, int]:
    """Bring every encrypted value under ``keyring``'s active key, a batch per transaction.

    Returns the values rewritten per table.
    """
    done: dict[str, int] = {}
    for name in _tables():
        after: int | None = 0
        done[name] = 0
        while after is not None:
            start = after

            def work(
                session: Session, start: int = start, name: str = name
            ) -> tuple[int | None, int]:
                return reencrypt_batch(
                    session.connection(), keyring, name, after_id=start, batch_size=batch_size
                )

            after, rewritten = db.write(work)
            done[name] += rewritten
            if progress is not None:
                progress(name, done[name])
    return done


@dataclass(frozen=True)
class Rotation:
    previous_key: str
    active_key: str
    key_file: str
    rewritten: dict[str, int]
    remaining: list[ColumnKeys]


def rotate_keys(
    *,
    db: Database,
    actor: Actor,
    resume: bool = False,
    batch_size: int = 1000,
    progress: Progress | None = None,
) -> Rotation:
    """A new active data key, every value re-encrypted under it, an audit entry.

    The key file is rewritten (atomically) *before* any value is, so no value is ever under
    a key that is not on disk. ``resume`` makes no new key: it finishes a rotation that was
    interrupted. The blind-index key is kept, so look-ups work throughout.
    """
    settings = get_settings()
    if settings.encryption_keys is not None:
        raise KeyringError(
            f"the keys come from {ENV_VAR}; rotation rewrites a key file: set PATRON_KEY_FILE "
            "(or keep keys.json in the data directory) instead"
        )
    current = load_keyring(settings)
    path = current.path or key_file_path(settings)
    keyring = current if resume else write_key_file(current.rotated(), path, replace=True)
    adopt_keyring(keyring)
    rewritten = reencrypt_personal_data(
        db=db, keyring=keyring, batch_size=batch_size, progress=progress
    )

    def audit(session: Session) -> list[ColumnKeys]:
        record_audit(
            session=session,
            actor=actor,
            action="keys.rotated",
            target_kind="keyring",
            target_id=keyring.active,
            details={
                "previous_key": current.active,
                "active_key": keyring.active,
                "resumed": resume,
                "values_rewritten": rewritten,
            },
        )
        return count_encrypted_values(session=session, key_ids=sorted(keyring.data_keys))

    if keyring.wrap_active is not None:
        roll_wrapping_key(db=db, batch_size=batch_size)  # customers' keys rewrapped too
    remaining = db.write(audit)
    return Rotation(
        previous_key=current.active,
        active_key=keyring.active,
        key_file=str(path),
        rewritten=rewritten,
        remaining=remaining,
    )


# --------------------------------------------------------------------- wrapping keys

_CUSTOMER_KEY = table("customer_key", column("id"), column("ref"), column("wrapped"))


@dataclass(frozen=True)
class WrapRoll:
    rolled: bool
    wrapping_key: str | None
    rewrapped: int
    note: str | None = None


def _rewrap_all(db: Database, keyring: Keyring, batch_size: int) -> int:
    t = _CUSTOMER_KEY
    prefix = f"{keyring.wrap_active}:"
    done, after = 0, 0
    while True:

        def work(session: Session, after: int = after) -> tuple[int | None, int]:
            conn = session.connection()
            rows = conn.execute(
                select(t.c.id, t.c.ref, t.c.wrapped)
                .where(t.c.id > after)
                .order_by(t.c.id)
                .limit(batch_size)
            ).all()
            changes = [
                {"_id": i, "_wrapped": keyring.wrap(keyring.unwrap(w, ref), ref)}
                for i, ref, w in rows
                if not w.startswith(prefix)
            ]
            if changes:
                conn.execute(
                    update(t)
                    .where(t.c.id == bindparam("_id"))
                    .values(wrapped=bindparam("_wrapped")),
                    changes,
                )
            return (rows[-1][0] if rows else None), len(changes)

        last, n = db.write(work)
        done += n
        if last is None:
            return done
        after = last


def roll_wrapping_key(*, db: Database, batch_size: int = 1000) -> WrapRoll:
    """A new wrapping key, every customer's data key rewrapped under it, the old wrapping
    keys dropped from the key file (docs/privacy.md).

    After an erasure this is what makes the destroyed key unrecoverable from copies of the
    database made before (backups, freed pages): they hold it wrapped under a key that no
    longer exists. The key file is written with both keys before any row changes, and with
    the new one only once every row is rewrapped; an interrupted roll is finished by the next.
    """
    settings = get_settings()
    if settings.encryption_keys is not None:
        return WrapRoll(
            False,
            None,
            0,
            f"the keys come from {ENV_VAR}: roll the wrapping key by moving them to a key file",
        )
    try:
        current = load_keyring(settings)
    except KeyringMissing:
        return WrapRoll(False, None, 0, "the keys live in memory only: nothing to roll")
    path = current.path or key_file_path(settings)
    both = adopt_keyring(write_key_file(current.with_new_wrap_key(), path, replace=True))
    rewrapped = _rewrap_all(db, both, batch_size)
    final = adopt_keyring(write_key_file(both.without_old_wrap_keys(), path, replace=True))
    return WrapRoll(True, final.wrap_active, rewrapped)


def give_customers_keys(
    *, db: Database, batch_size: int = 500, progress: Callable[[int], None] | None = None
) -> int:
    """The migration path for data written before customers had keys of their own
    (docs/privacy.md): add a wrapping key to the key file when it has none, then give every
    customer without a data key one and reseal their values under it, a batch per
    transaction. Stopped, it is finished by running it again. Returns the customers done."""
    from patron.core.crypto import get_keyring
    from patron.customers.sealing import KeysBatch, give_keys_batch

    if get_keyring().wrap_active is None:
        rolled = roll_wrapping_key(db=db)
        if not rolled.rolled:
            raise KeyringError(f"no wrapping key can be added: {rolled.note}")
    done, after = 0, 0
    while True:

        def work(session: Session, after: int = after) -> KeysBatch:
            return give_keys_batch(session, after_id=after, batch_size=batch_size)

        batch = db.write(work)
        if batch.last_id is None:
            return done
        done += batch.customers
        after = batch.last_id
        if progress is not None:
            progress(done)
