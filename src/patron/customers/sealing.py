"""Each customer's personal data under a data key of their own (envelope encryption,
docs/privacy.md): the keys' table, sealing on every ORM flush and in the bulk import path,
and making keys for customers who have none yet (``patron keys subject-keys``).

A value sealed here reads ``@<ref>:…``; :mod:`patron.core.crypto` opens it with the key
``ref`` names, unwrapped once per session. Values written before a customer had a key stay
under the keyring and read as before.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, delete, event, inspect, select, update
from sqlalchemy.orm import Session, attributes
from sqlalchemy.orm.util import identity_key

from patron.audit.service import flag_before_images
from patron.core.clock import utcnow
from patron.core.crypto import (
    Encrypted,
    Sealed,
    can_make_subject_keys,
    forget_subject_keys,
    new_subject_key,
    register_subject_key_fetcher,
    seal,
)
from patron.core.db import PlainWriter, insert_rows
from patron.customers.models import (
    Customer,
    CustomerFieldValue,
    CustomerKey,
    CustomerMerge,
    Identity,
    IdentityCorrection,
    Interaction,
)

_REFS = "patron.customer_refs"  # session.info: customer id -> key ref
_SEALED = "patron.sealed"  # session.info: (object, attribute, plain value) to restore
_KEYS = cast(Table, CustomerKey.__table__)
_CUSTOMER = cast(Table, Customer.__table__)


def _fetch(session: Any, refs: list[str]) -> dict[str, str]:
    rows = session.connection().execute(
        select(_KEYS.c.ref, _KEYS.c.wrapped).where(_KEYS.c.ref.in_(refs))
    )
    return {ref: wrapped for ref, wrapped in rows}


register_subject_key_fetcher(_fetch)


def _personal(cls: type) -> list[tuple[str, Encrypted]]:
    found = []
    mapper: Any = inspect(cls)
    for prop in mapper.column_attrs:
        col_type: Any = prop.columns[0].type
        if isinstance(col_type, Encrypted):
            found.append((prop.key, col_type))
    return found


_PERSONAL: dict[type, list[tuple[str, Encrypted]]] = {
    cls: _personal(cls)
    for cls in (
        Customer,
        Identity,
        Interaction,
        CustomerFieldValue,
        CustomerMerge,
        IdentityCorrection,
    )
}
_AUDIT_TABLE = "audit_entry"  # its before-images about a customer are sealed as theirs


def _personal_of(cls: type) -> list[tuple[str, Encrypted]] | None:
    if cls in _PERSONAL:
        return _PERSONAL[cls]
    if getattr(cls, "__tablename__", None) == _AUDIT_TABLE:
        _PERSONAL[cls] = _personal(cls)
        return _PERSONAL[cls]
    return None


def new_key(session: Session) -> str:
    """A new data key, stored wrapped; returns its ref."""
    return new_keys(session, 1)[0]


def new_keys(session: Session, count: int) -> list[str]:
    """``count`` new data keys, stored wrapped in one statement; returns their refs."""
    now = utcnow()
    refs: list[str] = []
    rows: list[dict[str, Any]] = []
    for _ in range(count):
        ref, wrapped = new_subject_key(session)
        refs.append(ref)
        rows.append({"ref": ref, "wrapped": wrapped, "created_at": now})
    if rows:
        # Straight to the driver (an import batch makes thousands of keys at once).
        insert_rows(session.connection(), _KEYS, rows, want_ids=False)
    return refs


def plain_new_key(writer: PlainWriter) -> str:
    """:func:`new_key` in a plain write (core/db.plain_write): the key remembered in the
    writer as a session remembers it, its wrapped form inserted by the same statement."""
    ref, wrapped = new_subject_key(writer)
    if not writer.insert_many(_KEYS, [{"ref": ref, "wrapped": wrapped, "created_at": utcnow()}]):
        raise RuntimeError("a key row that needs SQLAlchemy")
    return ref


def seal_plain_row(writer: PlainWriter, table: Table, row: dict[str, Any], ref: str) -> None:
    """:func:`seal_row` in a plain write, under a key the writer made (:func:`plain_new_key`)."""
    for name, col_type, aad in _encrypted_columns(table):
        value = row.get(name)
        if value is not None and not isinstance(value, Sealed):
            row[name] = seal(col_type.text_of(value), aad, ref=ref, session=writer)


def remember_refs(session: Session, refs: dict[int, str]) -> None:
    """Note the key refs of customers just written with them (a bulk insert), so sealing
    their identities needs no look-up of what this session wrote itself."""
    session.info.setdefault(_REFS, {}).update(refs)


def refs_for(
    session: Session, customer_ids: Iterable[int], *, create: bool = True
) -> dict[int, str]:
    """The key ref of each customer; with ``create``, a key is made for those without one
    (when the keyring has a wrapping key)."""
    cache: dict[int, str | None] = session.info.setdefault(_REFS, {})
    wanted = {i for i in customer_ids if i is not None}
    for cid in wanted - cache.keys():
        instance = session.identity_map.get(identity_key(Customer, cid))
        if instance is not None and "key_ref" in instance.__dict__:
            cache[cid] = instance.__dict__["key_ref"]
    missing = sorted(wanted - cache.keys())
    if missing:
        rows = session.connection().execute(
            select(_CUSTOMER.c.id, _CUSTOMER.c.key_ref).where(_CUSTOMER.c.id.in_(missing))
        )
        cache.update({cid: ref for cid, ref in rows})
    if create and can_make_subject_keys():
        for cid in sorted(wanted):
            if cache.get(cid) is None and cid in cache:
                made = new_key(session)
                session.connection().execute(
                    update(_CUSTOMER).where(_CUSTOMER.c.id == cid).values(key_ref=made)
                )
                instance = session.identity_map.get(identity_key(Customer, cid))
                if instance is not None:
                    attributes.set_committed_value(instance, "key_ref", made)
                cache[cid] = made
    return {cid: ref for cid in wanted if (ref := cache.get(cid)) is not None}


def seal_row(session: Session, table: Table, row: dict[str, Any], ref: str | None) -> None:
    """Seal a row's personal values under ``ref`` in place (bulk inserts)."""
    if ref is None:
        return
    for name, col_type, aad in _encrypted_columns(table):
        value = row.get(name)
        if value is not None and not isinstance(value, Sealed):
            row[name] = seal(col_type.text_of(value), aad, ref=ref, session=session)


@functools.cache
def _encrypted_columns(table: Table) -> list[tuple[str, Encrypted, bytes]]:
    """A table's encrypted columns (name, type, the AAD its values are sealed with), found
    once: a bulk insert seals thousands of rows of the same table. The schema's, never a
    row's: nothing to reset between tests."""
    return [
        (col.name, col.type, col.type.column.encode())
        for col in table.columns
        if isinstance(col.type, Encrypted)
    ]


def _subject_id(obj: Any) -> int | None:
    if isinstance(obj, (Identity, Interaction, CustomerFieldValue, IdentityCorrection)):
        return obj.customer_id
    if isinstance(obj, CustomerMerge):
        return obj.survivor_id
    if (
        getattr(type(obj), "__tablename__", None) == _AUDIT_TABLE
        and obj.target_kind == "customer"
        and obj.target_id
        and obj.target_id.isdigit()
    ):
        return int(obj.target_id)
    return None


def _changed(obj: Any, columns: list[tuple[str, Encrypted]]) -> list[tuple[str, Encrypted]]:
    state = inspect(obj)
    out = []
    for key, col_type in columns:
        value = state.dict.get(key)
        if value is None or isinstance(value, Sealed):
            continue
        if state.pending or key in state.committed_state:
            out.append((key, col_type))
    return out


@event.listens_for(Session, "before_flush")
def _seal_on_flush(session: Session, _context: Any, _instances: Any) -> None:
    work = [o for o in (*session.new, *session.dirty) if _personal_of(type(o))]
    if not work or not can_make_subject_keys():
        return
    sealed: list[tuple[Any, str, Any]] = session.info.setdefault(_SEALED, [])
    for obj in sorted(work, key=lambda o: not isinstance(o, Customer)):
        changed = _changed(obj, _personal_of(type(obj)) or [])
        if not changed:
            continue
        if isinstance(obj, Customer):
            if obj.key_ref is None:
                obj.key_ref = new_key(session)
                if obj.id is not None:
                    session.info.setdefault(_REFS, {})[obj.id] = obj.key_ref
            ref: str | None = obj.key_ref
        else:
            subject = _subject_id(obj)
            ref = refs_for(session, [subject]).get(subject) if subject is not None else None
        if ref is None:
            continue
        for key, col_type in changed:
            plain = obj.__dict__[key]
            obj.__dict__[key] = seal(
                col_type.text_of(plain), col_type.column.encode(), ref=ref, session=session
            )
            sealed.append((obj, key, plain))


@event.listens_for(Session, "after_flush_postexec")
def _restore_plain(session: Session, _context: Any) -> None:
    for obj, key, plain in session.info.pop(_SEALED, []):
        attributes.set_committed_value(obj, key, plain)


# ------------------------------------------------------------------------------ erasure


def destroy_keys(session: Session, customer_ids: Sequence[int]) -> int:
    """Delete these customers' data keys: what was sealed under them is unreadable."""
    found = session.scalars(
        select(Customer.key_ref).where(Customer.id.in_(customer_ids), Customer.key_ref.is_not(None))
    )
    refs = [r for r in found if r]
    if refs:
        session.execute(delete(CustomerKey).where(CustomerKey.ref.in_(refs)))
        forget_subject_keys(session, refs)
    return len(refs)


# ------------------------------------------------------------------- existing customers


@dataclass(frozen=True)
class KeysBatch:
    last_id: int | None  # None at the end
    customers: int  # given a key and their values resealed


def give_keys_batch(session: Session, *, after_id: int, batch_size: int) -> KeysBatch:
    """Give the next customers without a data key one, and reseal their values under it
    (profile, identities, interactions, personal custom fields, merges, audit
    before-images)."""
    ids = list(
        session.scalars(
            select(Customer.id)
            .where(Customer.id > after_id, Customer.key_ref.is_(None))
            .order_by(Customer.id)
            .limit(batch_size)
        )
    )
    if not ids:
        return KeysBatch(None, 0)
    refs_for(session, ids)
    targets = [str(i) for i in ids]
    for cls, where in (
        (Customer, Customer.id.in_(ids)),
        (Identity, Identity.customer_id.in_(ids)),
        (Interaction, Interaction.customer_id.in_(ids)),
        (CustomerFieldValue, CustomerFieldValue.customer_id.in_(ids)),
        (CustomerMerge, CustomerMerge.survivor_id.in_(ids)),
        (IdentityCorrection, IdentityCorrection.customer_id.in_(ids)),
    ):
        for obj in session.scalars(select(cls).where(where)):
            for key, _type in _PERSONAL[cls]:
                if getattr(obj, key) is not None:
                    attributes.flag_modified(obj, key)
    flag_before_images(session=session, target_kind="customer", target_ids=targets)
    session.flush()
    return KeysBatch(ids[-1], len(ids))
