"""Identity resolution: which customer does a record belong to?

A record (an order, a sign-up, a file row) carries some identifiers. The rules:

* an identifier someone already owns attaches the record to that customer;
* identifiers nobody owns yet are attached to the customer the record resolves to;
* a record with no known identifier creates a customer;
* when a record's *strong* identifiers (phone, member card, WeChat unionid) belong to two
  customers, they are one person: the later profile is merged into the earlier one
  (reversibly, see merging.py) — unless staff have unmerged that pair before;
* weak identifiers (e-mail, openid, a shop account) never cause a merge: an e-mail can be
  shared by a family. When only weak ones match, the highest-priority one decides,
  unless the matched profile already holds a different phone, card or unionid than the
  record's: then the record is someone else, and gets a profile of its own.

Records are resolved in bulk (a batch of orders costs one identity query), in order, so
two records in one batch that share an identifier end up on the same new customer.

Identifiers are encrypted at rest; they are found through their keyed blind index
(``Identity.value_index``), computed once per distinct identifier of a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.crypto import get_keyring, name_index
from patron.core.db import insert_rows
from patron.customers.exceptions import UnknownCustomer
from patron.customers.masking import mask_identity
from patron.customers.merging import blocked_pairs, merge_customers
from patron.customers.models import STRONG_KINDS, Customer, CustomerStatus, Identity
from patron.customers.schemas import CustomerRef

Key = tuple[str, str, str]  # (kind, namespace, value)

_FILLABLE = ("name", "gender", "birthday", "city", "address")
_IDENTITY = cast(Table, Identity.__table__)
_CUSTOMER = cast(Table, Customer.__table__)
_OWNERS_OF_INDEX = select(
    _IDENTITY.c.kind, _IDENTITY.c.namespace, _IDENTITY.c.value_index, _IDENTITY.c.customer_id
).where(_IDENTITY.c.value_index == bindparam("value_index"))
_INSERT_IDENTITIES = insert(_IDENTITY)
_CHUNK = 400


@dataclass(frozen=True, slots=True)
class ResolveContext:
    """Where a record came from: used for new customers and for the merge reason."""

    source: str
    label: str
    at: datetime
    channel: str | None = None
    store_id: int | None = None


@dataclass(eq=False)
class _Pending:
    """A customer this batch will create."""

    profile: dict[str, Any]
    context: ResolveContext
    customer_id: int | None = None


Handle = int | _Pending


@dataclass
class Resolution:
    customer_ids: list[int | None]
    created: list[bool]
    merges: int = 0


@dataclass
class _Batch:
    session: Session
    owner: dict[Key, Handle] = field(default_factory=dict)
    alias: dict[Handle, Handle] = field(default_factory=dict)
    new_keys: dict[Key, Handle] = field(default_factory=dict)
    key_source: dict[Key, str] = field(default_factory=dict)
    index: dict[Key, str] = field(default_factory=dict)  # blind index of every key seen
    fills: dict[int, dict[str, Any]] = field(default_factory=dict)
    pendings: list[_Pending] = field(default_factory=list)
    merges: int = 0

    def find(self, handle: Handle) -> Handle:
        root = handle
        while root in self.alias:
            root = self.alias[root]
        while handle in self.alias and self.alias[handle] is not root:  # path compression
            self.alias[handle], handle = root, self.alias[handle]
        return root


def index_keys(keys: Sequence[Key], into: dict[Key, str] | None = None) -> dict[Key, str]:
    """The blind index of each identifier (kind, namespace and value go into the HMAC)."""
    found = {} if into is None else into
    index = get_keyring().blind_index  # one keyring for the batch, not one look-up per key
    for key in keys:
        if key not in found:
            found[key] = index(f"{key[0]}|{key[1]}|{key[2]}")
    return found


def load_owners(
    *, session: Session, keys: Sequence[Key], indexes: dict[Key, str] | None = None
) -> dict[Key, int]:
    """The current owner of each identifier that has one.

    ``indexes`` carries blind indexes already computed (and receives the new ones).
    """
    owners: dict[Key, int] = {}
    unique = list(dict.fromkeys(keys))
    if not unique:
        return owners
    indexes = index_keys(unique, indexes)
    conn = session.connection()  # Core, not the ORM: this runs for every order posted
    t = _IDENTITY
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        # The index alone is selective; kind and namespace are checked below.
        wanted = {(k[0], k[1], indexes[k]): k for k in chunk}
        values = sorted({w[2] for w in wanted})
        if len(values) == 1:
            result = conn.execute(_OWNERS_OF_INDEX, {"value_index": values[0]})
        else:
            result = conn.execute(
                select(t.c.kind, t.c.namespace, t.c.value_index, t.c.customer_id).where(
                    t.c.value_index.in_(values)
                )
            )
        for kind, namespace, value_index, customer_id in result:
            key = wanted.get((kind, namespace, value_index))
            if key is not None:
                owners[key] = customer_id
    return owners


def _live_customer(session: Session, customer_id: int, field_path: str) -> int:
    """Follow merges from ``customer_id`` to the profile that is active now."""
    seen = set()
    current = customer_id
    while True:
        row = session.execute(
            select(Customer.status, Customer.merged_into_id).where(Customer.id == current)
        ).first()
        if row is None:
            raise UnknownCustomer(field_path, f"no customer {customer_id}", customer_id=customer_id)
        status, merged_into = row
        if status == CustomerStatus.ACTIVE or merged_into is None or current in seen:
            return current
        seen.add(current)
        current = merged_into


def _profile_of(ref: CustomerRef | Any) -> dict[str, Any]:
    return {f: getattr(ref, f, None) for f in _FILLABLE if getattr(ref, f, None) is not None}


def resolve(
    *,
    session: Session,
    refs: Sequence[CustomerRef | None],
    contexts: Sequence[ResolveContext],
    field_prefix: str = "customer",
) -> Resolution:
    """Resolve each record to a customer id (None for an anonymous record)."""
    batch = _Batch(session=session)
    all_keys = [k for ref in refs if ref is not None for k in ref.identity_keys()]
    batch.owner.update(load_owners(session=session, keys=all_keys, indexes=batch.index))
    handles: list[Handle | None] = []
    for ref, context in zip(refs, contexts, strict=True):
        if ref is None or ref.is_empty():
            handles.append(None)
            continue
        handles.append(_resolve_one(batch, ref, context, field_prefix))
    _write(batch)
    ids: list[int | None] = []
    created: list[bool] = []
    announced: set[int] = set()
    for handle in handles:
        if handle is None:
            ids.append(None)
            created.append(False)
            continue
        root = batch.find(handle)
        if isinstance(root, _Pending):
            assert root.customer_id is not None
            ids.append(root.customer_id)
            # The first record that led to a new customer created it; later ones found it.
            created.append(root.customer_id not in announced)
            announced.add(root.customer_id)
        else:
            ids.append(root)
            created.append(False)
    return Resolution(customer_ids=ids, created=created, merges=batch.merges)


def _resolve_one(batch: _Batch, ref: CustomerRef, context: ResolveContext, prefix: str) -> Handle:
    keys = ref.identity_keys()
    strong: list[Handle] = []
    weak: list[Handle] = []
    if ref.id is not None:
        strong.append(_live_customer(batch.session, ref.id, f"{prefix}.id"))
    for key in keys:
        owner = batch.owner.get(key)
        if owner is None:
            continue
        owner = batch.find(owner)
        (strong if key[0] in STRONG_KINDS else weak).append(owner)
    strong = list(dict.fromkeys(strong))
    if strong:
        target = _unite(batch, strong, keys, context)
    elif weak and not _contradicts(batch, weak[0], keys):
        target = weak[0]  # identity_keys() lists identifiers by priority
    else:
        target = _Pending(profile=_profile_of(ref), context=context)
        batch.pendings.append(target)
    for key in keys:
        if key not in batch.owner:
            batch.owner[key] = target
            batch.new_keys[key] = target
            batch.key_source[key] = context.source
    _fill(batch, target, _profile_of(ref))
    return target


def _contradicts(batch: _Batch, owner: Handle, keys: list[Key]) -> bool:
    """Does ``owner`` already hold another phone, card or unionid than the record's?

    A weak match (a shared family e-mail) must not pull someone else's phone into a profile.
    """
    # Compared by blind index: (kind, namespace, index) stands for an identifier.
    mine = index_keys(keys, batch.index)
    kinds = {key[0]: (key[0], key[1], mine[key]) for key in keys if key[0] in STRONG_KINDS}
    if not kinds:
        return False
    held = {
        (k[0], k[1], batch.index[k]) for k, h in batch.new_keys.items() if batch.find(h) is owner
    }
    if isinstance(owner, int):
        rows = batch.session.execute(
            select(Identity.kind, Identity.namespace, Identity.value_index).where(
                Identity.customer_id == owner, Identity.kind.in_(list(kinds))
            )
        )
        held.update((kind, ns, value_index) for kind, ns, value_index in rows)
    return any(k[0] in kinds and k != kinds[k[0]] for k in held)


def _unite(batch: _Batch, owners: list[Handle], keys: list[Key], context: ResolveContext) -> Handle:
    """Make the profiles behind ``owners`` (in priority order) one, and return it.

    Existing profiles merge into the oldest; a pair staff have unmerged stays apart, and the
    record then goes to the owner of its highest-priority identifier.
    """
    existing = [h for h in owners if isinstance(h, int)]
    pendings = [h for h in owners if isinstance(h, _Pending)]
    if existing:
        survivor = min(existing)
        others = [h for h in existing if h != survivor]
        if others:
            blocked = blocked_pairs(session=batch.session, customer_ids=set(existing))
            for other in others:
                if frozenset((survivor, other)) in blocked:
                    continue  # staff said these are two people: leave both as they are
                reason = (
                    f"{context.label} shares {_describe(keys, batch, other)} "
                    f"with customer {survivor}"
                )
                merge_customers(
                    session=batch.session, survivor_id=survivor, merged_id=other, reason=reason
                )
                batch.alias[other] = survivor
                batch.merges += 1
                moved_fill = batch.fills.pop(other, None)
                if moved_fill:
                    _fill(batch, survivor, moved_fill)
        target: Handle = batch.find(existing[0])
    else:
        target = pendings.pop(0)
    for pending in pendings:
        if pending is target:
            continue
        batch.alias[pending] = target
        _fill(batch, target, pending.profile)
    return target


def _describe(keys: list[Key], batch: _Batch, other: int) -> str:
    for key in keys:
        owner = batch.owner.get(key)
        if owner is not None and batch.find(owner) == other and key[0] in STRONG_KINDS:
            # The reason is kept in plain text (merge history, audit): masked, like a screen.
            return f"{key[0]} {mask_identity(key[0], key[2])}"
    return "an identifier"


def _fill(batch: _Batch, target: Handle, profile: dict[str, Any]) -> None:
    if not profile:
        return
    if isinstance(target, _Pending):
        for k, v in profile.items():
            target.profile.setdefault(k, v)
    else:
        current = batch.fills.setdefault(target, {})
        for k, v in profile.items():
            current.setdefault(k, v)


def _write(batch: _Batch) -> None:
    session = batch.session
    roots = [p for p in batch.pendings if batch.find(p) is p]
    conn = session.connection()
    now = utcnow()
    if roots:
        rows = [
            {
                "name": None,
                "gender": None,
                "birthday": None,
                "city": None,
                "address": None,
                **p.profile,
                "name_index": name_index(p.profile.get("name")),
                "signup_channel": p.context.channel,
                "signed_up_at": p.context.at,
                "home_store_id": p.context.store_id,
                "status": CustomerStatus.ACTIVE.value,
                "merged_into_id": None,
                "created_at": now,
                "updated_at": now,
            }
            for p in roots
        ]
        ids = insert_rows(conn, _CUSTOMER, rows)
        for pending, customer_id in zip(roots, ids, strict=True):
            pending.customer_id = customer_id
    if batch.new_keys:
        rows = []
        for key, handle in batch.new_keys.items():
            root = batch.find(handle)
            owner_id = root.customer_id if isinstance(root, _Pending) else root
            rows.append(
                {
                    "customer_id": owner_id,
                    "kind": key[0],
                    "namespace": key[1],
                    "value": key[2],
                    "value_index": batch.index[key],
                    "source": batch.key_source.get(key),
                    "created_at": now,
                }
            )
        conn.execute(_INSERT_IDENTITIES, rows)
    if batch.fills:
        _apply_fills(session, batch)


def _apply_fills(session: Session, batch: _Batch) -> None:
    merged: dict[int, dict[str, Any]] = {}
    for handle, profile in batch.fills.items():
        root = batch.find(handle)
        if isinstance(root, int):
            target = merged.setdefault(root, {})
            for k, v in profile.items():
                target.setdefault(k, v)
    ids = list(merged)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for customer in session.scalars(select(Customer).where(Customer.id.in_(chunk))):
            for k, v in merged[customer.id].items():
                if getattr(customer, k) is None:
                    setattr(customer, k, v)
    session.flush()
