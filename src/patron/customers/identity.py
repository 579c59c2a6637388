"""Identity resolution: which customer does a record belong to?

A record (an order, a sign-up, a file row) carries some identifiers. The rules:

* an identifier someone already owns attaches the record to that customer;
* identifiers nobody owns yet are attached to the customer the record resolves to;
* a record with no known identifier creates a customer;
* when a record's *strong* identifiers (phone, member card, WeChat unionid) belong to two
  customers, they are one person: the later profile is merged into the earlier one
  (reversibly, see merging.py, and audited with the record as its cause) — unless staff
  have unmerged that pair before or dismissed a suggestion to merge it;
* weak identifiers (e-mail, openid, a shop account) never cause a merge: an e-mail can be
  shared by a family. When only weak ones match, the highest-priority one decides,
  unless the matched profile already holds a different phone, card or unionid than the
  record's: then the record is someone else, and gets a profile of its own.

Who sends the record matters (the ``actor``):

* only a chain-wide actor allowed to merge (``customers.merge``; the command line, imports
  and jobs are) merges. For anyone else — a store's till above all — two profiles sharing a
  strong identifier become a merge suggestion (suggestions.py) that staff merge or dismiss;
  the record goes to the first of them the actor may change;
* a store-bound actor (a cashier's or store manager's key) may attach a sale to another
  store's customer — the sale happened — but changes nothing of that profile: no identifier
  is added to it, no blank filled. Its sign-up of a person another store knows is a profile
  of its own, in its store, with a suggestion to merge it with the one the identifier found.
  A customer id it names must be one of its stores' customers.

Every change a record makes to an existing profile (blanks filled, identifiers added) is in
the audit log as ``customer.fill``, with the record as its cause.

Records are resolved in bulk (a batch of orders costs one identity query), in order, so
two records in one batch that share an identifier end up on the same new customer.

Identifiers are encrypted at rest; they are found through their keyed blind index
(``Identity.value_index``), computed once per distinct identifier of a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, literal_column, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from patron import events
from patron.audit.service import record_audit
from patron.core.actor import Actor, system_actor
from patron.core.clock import utcnow
from patron.core.crypto import can_make_subject_keys, get_keyring, name_index
from patron.core.db import insert_rows, one_of, plain_rows
from patron.customers.exceptions import UnknownCustomer
from patron.customers.masking import mask_identity
from patron.customers.merging import blocked_pairs, merge_customers
from patron.customers.models import STRONG_KINDS, Customer, CustomerStatus, Identity
from patron.customers.schemas import CustomerRef
from patron.customers.scope import customers_in_stores, home_or_bought_in
from patron.customers.sealing import new_keys, refs_for, remember_refs, seal_row
from patron.customers.suggestions import suggest_merge

Key = tuple[str, str, str]  # (kind, namespace, value)

_FILLABLE = ("name", "gender", "birthday", "city", "address")
_IDENTITY = cast(Table, Identity.__table__)
_CUSTOMER = cast(Table, Customer.__table__)
# With each owner's sign-up, which saves an order's no-op "move the sign-up back" statement.
_OWNER_COLUMNS = (
    _IDENTITY.c.kind,
    _IDENTITY.c.namespace,
    _IDENTITY.c.value_index,
    _IDENTITY.c.customer_id,
    _CUSTOMER.c.signed_up_at,
)
_OWNERS_OF_INDEX = (
    select(*_OWNER_COLUMNS)
    .join(_CUSTOMER, _CUSTOMER.c.id == _IDENTITY.c.customer_id)
    .where(_IDENTITY.c.value_index == bindparam("value_index"))
)
_CHUNK = 400


@cache
def _owners_in_scope(single: bool, dialect: str = "") -> Any:
    """The owners' statement with whether each owner is in the stores ``:scope_stores``
    (the store-scope rule, customers/scope.py), built once: a store's till asks it for every
    order it posts."""
    in_scope = home_or_bought_in(_CUSTOMER.c.id, _CUSTOMER.c.home_store_id).label("in_scope")
    statement = select(*_OWNER_COLUMNS, in_scope).join(
        _CUSTOMER, _CUSTOMER.c.id == _IDENTITY.c.customer_id
    )
    if single:
        return statement.where(_IDENTITY.c.value_index == bindparam("value_index"))
    if dialect == "postgresql":
        return _owners_by_probes(True)
    return statement.where(one_of(_IDENTITY.c.value_index, "values", dialect))


@cache
def _owners_of_indexes(dialect: str) -> Any:
    """The owners of the blind indexes ``:values``, built once per dialect."""
    if dialect == "postgresql":
        return _owners_by_probes(False)
    return (
        select(*_OWNER_COLUMNS)
        .join(_CUSTOMER, _CUSTOMER.c.id == _IDENTITY.c.customer_id)
        .where(one_of(_IDENTITY.c.value_index, "values", dialect))
    )


@cache
def _owners_by_probes(scoped: bool) -> Any:
    """PostgreSQL: the owners of the blind indexes ``:values`` (an array), one index probe
    per value and one primary-key probe per owner, as laterals the planner cannot turn
    into a join of its choice. As a plain join, a batch's few hundred values were matched
    by scanning every identity and every customer into a hash (the plan the planner takes
    for tables it has no statistics of, or that grew since): each batch then read both
    tables whole. ``scoped``: with whether each owner is in the stores ``:scope_stores``
    (customers/scope.py), asked of that one customer."""
    values = (
        func.unnest(bindparam("values", type_=ARRAY(_IDENTITY.c.value_index.type)))
        .table_valued("value_index")
        .render_derived()
    )
    # OFFSET 0 keeps each subquery a probe of its own (the planner flattens it otherwise).
    held = (
        select(
            _IDENTITY.c.kind,
            _IDENTITY.c.namespace,
            _IDENTITY.c.value_index,
            _IDENTITY.c.customer_id,
        )
        .where(_IDENTITY.c.value_index == values.c.value_index)
        .offset(literal_column("0"))
        .lateral("held")
    )
    owner_columns: list[Any] = [_CUSTOMER.c.signed_up_at]
    if scoped:
        owner_columns.append(
            home_or_bought_in(_CUSTOMER.c.id, _CUSTOMER.c.home_store_id).label("in_scope")
        )
    owner = (
        select(*owner_columns)
        .where(_CUSTOMER.c.id == held.c.customer_id)
        .offset(literal_column("0"))
    )
    owner_of = owner.lateral("owner")
    columns = [held.c.kind, held.c.namespace, held.c.value_index, held.c.customer_id]
    columns.append(owner_of.c.signed_up_at)
    if scoped:
        columns.append(owner_of.c.in_scope)
    return select(*columns).select_from(values.join(held, true()).join(owner_of, true()))


@dataclass(frozen=True, slots=True)
class ResolveContext:
    """Where a record came from: used for new customers and for the merge reason."""

    source: str
    label: str
    at: datetime
    channel: str | None = None
    store_id: int | None = None
    # A sign-up (not a sale): it fills the home store and sign-up channel of a profile it
    # finds, and one by a store-bound actor that finds another store's customer becomes a
    # profile of its own.
    signup: bool = False


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
    suggestions: int = 0
    # The sign-up instant of customers read or created here, as read (a merge may since
    # have moved a survivor's earlier, never later): what may skip a no-op move back.
    signed_up: dict[int, datetime] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Suggestion:
    first: Handle
    second: Handle
    shared: str  # the identifier the second holds, masked
    context: ResolveContext


@dataclass
class _Batch:
    session: Session
    actor: Actor
    # The stores whose customers the actor may change (None: every store's).
    scope: frozenset[int] | None = None
    may_merge: bool = True
    visible: dict[int, bool] = field(default_factory=dict)
    owner: dict[Key, Handle] = field(default_factory=dict)
    alias: dict[Handle, Handle] = field(default_factory=dict)
    new_keys: dict[Key, Handle] = field(default_factory=dict)
    key_source: dict[Key, str] = field(default_factory=dict)
    index: dict[Key, str] = field(default_factory=dict)  # blind index of every key seen
    fills: dict[int, dict[str, Any]] = field(default_factory=dict)
    pendings: list[_Pending] = field(default_factory=list)
    merges: int = 0
    suggestions: list[_Suggestion] = field(default_factory=list)
    cause: dict[int, str] = field(default_factory=dict)  # what first changed a profile

    def may_change(self, handle: Handle) -> bool:
        """May this batch's actor change the profile (add identifiers, fill blanks)? A
        profile it creates, yes; an existing one if it is a customer of the actor's stores
        (as they were before this batch)."""
        if self.scope is None or isinstance(handle, _Pending):
            return True
        if handle not in self.visible:
            self.visible.update(customers_in_stores(self.session, {handle}, self.scope))
        return self.visible[handle]

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
    *,
    session: Session,
    keys: Sequence[Key],
    indexes: dict[Key, str] | None = None,
    signed_up: dict[int, datetime] | None = None,
    scope: frozenset[int] | None = None,
    visible: dict[int, bool] | None = None,
) -> dict[Key, int]:
    """The current owner of each identifier that has one.

    ``indexes`` carries blind indexes already computed (and receives the new ones);
    ``signed_up``, when given, receives each owner's sign-up instant; ``visible``, with
    ``scope``, whether each owner belongs to one of those stores (customers/scope.py).
    """
    owners: dict[Key, int] = {}
    unique = list(dict.fromkeys(keys))
    if not unique:
        return owners
    indexes = index_keys(unique, indexes)
    # Straight to the driver (core/db.plain_rows), not the ORM: this runs for every order
    conn = session.connection()
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        # The index alone is selective; kind and namespace are checked below.
        wanted = {(k[0], k[1], indexes[k]): k for k in chunk}
        values = sorted({w[2] for w in wanted})
        if scope is not None and visible is not None:
            stores = sorted(scope)
            if len(values) == 1:
                params = {"value_index": values[0], "scope_stores": stores}
                result = plain_rows(conn, _owners_in_scope(True), params)
            else:
                params = {"values": values, "scope_stores": stores}
                result = plain_rows(conn, _owners_in_scope(False, conn.dialect.name), params)
        elif len(values) == 1:
            result = plain_rows(conn, _OWNERS_OF_INDEX, {"value_index": values[0]})
        else:
            statement = _owners_of_indexes(conn.dialect.name)
            result = plain_rows(conn, statement, {"values": values})
        for row in result:
            kind, namespace, value_index, customer_id, signed_up_at = row[:5]
            if scope is not None and visible is not None:
                visible[customer_id] = bool(row[5])
            key = wanted.get((kind, namespace, value_index))
            if key is not None:
                owners[key] = customer_id
                if signed_up is not None:
                    signed_up[customer_id] = signed_up_at
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
    actor: Actor | None = None,
    store_ids: frozenset[int] | None = None,
) -> Resolution:
    """Resolve each record to a customer id (None for an anonymous record).

    ``actor`` sent the records (default: the system, which may merge); ``store_ids`` are
    the stores whose customers it may change (default: the actor's own).
    """
    actor = actor or system_actor()
    scope = store_ids if store_ids is not None else actor.store_ids
    batch = _Batch(
        session=session,
        actor=actor,
        scope=scope,
        may_merge=scope is None and actor.can("customers.merge"),
    )
    # Each record's identifiers, listed once (an import's orders of one customer share
    # their ref: listed once for all of them).
    listed: dict[int, list[Key]] = {}
    ref_keys: list[list[Key]] = []
    for ref in refs:
        if ref is None:
            ref_keys.append([])
            continue
        keys = listed.get(id(ref))
        if keys is None:
            keys = listed[id(ref)] = ref.identity_keys()
        ref_keys.append(keys)
    all_keys = [k for keys in ref_keys for k in keys]
    signed_up: dict[int, datetime] = {}
    # With the owners, which of them the actor may change (scope), as they are now.
    visible: dict[int, bool] = {}
    owners = load_owners(
        session=session,
        keys=all_keys,
        indexes=batch.index,
        signed_up=signed_up,
        scope=scope,
        visible=visible,
    )
    batch.owner.update(owners)
    if scope is not None:
        batch.visible.update({h: visible[h] for h in owners.values()})
    handles: list[Handle | None] = []
    for ref, keys, context in zip(refs, ref_keys, contexts, strict=True):
        if ref is None or (ref.id is None and not keys):  # ref.is_empty()
            handles.append(None)
            continue
        handles.append(_resolve_one(batch, ref, keys, context, field_prefix))
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
            signed_up[root.customer_id] = root.context.at  # as _write created it
            # The first record that led to a new customer created it; later ones found it.
            created.append(root.customer_id not in announced)
            announced.add(root.customer_id)
        else:
            ids.append(root)
            created.append(False)
    suggested = _record_suggestions(batch)
    return Resolution(
        customer_ids=ids,
        created=created,
        merges=batch.merges,
        suggestions=suggested,
        signed_up=signed_up,
    )


def _resolve_one(
    batch: _Batch, ref: CustomerRef, keys: list[Key], context: ResolveContext, prefix: str
) -> Handle:
    """The profile ``ref`` (whose identifiers are ``keys``) goes to."""
    strong: list[Handle] = []
    weak: list[Handle] = []
    if ref.id is not None:
        named = _live_customer(batch.session, ref.id, f"{prefix}.id")
        if not batch.may_change(named):
            # Another store's customer, named like one that does not exist: an id is no
            # way into a profile the actor may not see.
            raise UnknownCustomer(f"{prefix}.id", f"no customer {ref.id}", customer_id=ref.id)
        strong.append(named)
    for key in keys:
        owner = batch.owner.get(key)
        if owner is None:
            continue
        owner = batch.find(owner)
        (strong if key[0] in STRONG_KINDS else weak).append(owner)
    strong = list(dict.fromkeys(strong))
    profile = _profile_of(ref)
    if strong:
        target = _unite(batch, strong, keys, context)
    elif weak and not _contradicts(batch, weak[0], keys):
        target = weak[0]  # identity_keys() lists identifiers by priority
    else:
        target = _Pending(profile=profile, context=context)
        batch.pendings.append(target)
    if context.signup and not batch.may_change(target):
        # A store's sign-up of someone another store knows: a profile of its own, in the
        # signing store, and (when a strong identifier found them) a suggestion to merge.
        matched = target
        target = _Pending(profile=dict(profile), context=context)
        batch.pendings.append(target)
        if isinstance(matched, int) and matched in strong:
            batch.suggestions.append(
                _Suggestion(target, matched, _describe(keys, batch, matched), context)
            )
    if not batch.may_change(target):
        return target  # a sale attached to another store's customer, and nothing else
    for key in keys:
        if key not in batch.owner:
            batch.owner[key] = target
            batch.new_keys[key] = target
            batch.key_source[key] = context.source
            if isinstance(target, int):
                batch.cause.setdefault(target, context.label)
    _fill(batch, target, profile, context)
    if context.signup and isinstance(target, int):
        signup = {"home_store_id": context.store_id, "signup_channel": context.channel}
        _fill(batch, target, {k: v for k, v in signup.items() if v is not None}, context)
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
    record then goes to the owner of its highest-priority identifier. An actor that may not
    merge gets suggestions instead (:func:`_suggest_instead`).
    """
    if not batch.may_merge:
        return _suggest_instead(batch, owners, keys, context)
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
                merge = merge_customers(
                    session=batch.session, survivor_id=survivor, merged_id=other, reason=reason
                )
                record_audit(
                    session=batch.session,
                    actor=batch.actor,
                    action="customer.merge",
                    target_kind="customer",
                    target_id=survivor,
                    reason=merge.reason,
                    details={"merge_id": merge.id, "merged_id": other, "automatic": True},
                )
                batch.alias[other] = survivor
                batch.merges += 1
                moved_fill = batch.fills.pop(other, None)
                if moved_fill:
                    _fill(batch, survivor, moved_fill, context)
        target: Handle = batch.find(existing[0])
    else:
        target = pendings.pop(0)
    for pending in pendings:
        if pending is target:
            continue
        batch.alias[pending] = target
        _fill(batch, target, pending.profile, context)
    return target


def _suggest_instead(
    batch: _Batch, owners: list[Handle], keys: list[Key], context: ResolveContext
) -> Handle:
    """The record goes to the first existing profile among ``owners`` the actor may change,
    else to a profile this batch creates, else to the first; every other existing profile
    among them is suggested for merging with it. Profiles this batch is about to create are
    folded into a target the actor may change, as they are not yet anyone's."""
    changeable = [h for h in owners if isinstance(h, int) and batch.may_change(h)]
    creating = [h for h in owners if isinstance(h, _Pending)]
    target = changeable[0] if changeable else creating[0] if creating else owners[0]
    others = [h for h in owners if isinstance(h, int) and h != target]
    if others:
        ids = {h for h in owners if isinstance(h, int)}
        blocked = blocked_pairs(session=batch.session, customer_ids=ids) if len(ids) > 1 else set()
        for other in others:
            if isinstance(target, int) and frozenset((target, other)) in blocked:
                continue  # staff said these are two people
            batch.suggestions.append(
                _Suggestion(target, other, _describe(keys, batch, other), context)
            )
    if batch.may_change(target):  # always, when some of owners are being created
        for pending in creating:
            if pending is not target:
                batch.alias[pending] = target
                _fill(batch, target, pending.profile, context)
    return target


def _record_suggestions(batch: _Batch) -> int:
    """Write the batch's merge suggestions (its new profiles have ids by now)."""
    made = 0
    for suggestion in batch.suggestions:
        ids = []
        for handle in (suggestion.first, suggestion.second):
            root = batch.find(handle)
            ids.append(root.customer_id if isinstance(root, _Pending) else root)
        first, second = ids
        if first is None or second is None or first == second:
            continue
        context = suggestion.context
        if suggest_merge(
            session=batch.session,
            customer_id=first,
            other_id=second,
            reason=f"{context.label} shares {suggestion.shared} with customer {second}",
            actor=batch.actor,
            store_id=context.store_id,
        ):
            made += 1
    return made


def _describe(keys: list[Key], batch: _Batch, other: int) -> str:
    for key in keys:
        owner = batch.owner.get(key)
        if owner is not None and batch.find(owner) == other and key[0] in STRONG_KINDS:
            # The reason is kept in plain text (merge history, audit): masked, like a screen.
            return f"{key[0]} {mask_identity(key[0], key[2])}"
    return "an identifier"


def _fill(batch: _Batch, target: Handle, profile: dict[str, Any], context: ResolveContext) -> None:
    if not profile:
        return
    if isinstance(target, _Pending):
        for k, v in profile.items():
            target.profile.setdefault(k, v)
    else:
        current = batch.fills.setdefault(target, {})
        batch.cause.setdefault(target, context.label)
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
        if can_make_subject_keys():  # each new profile under a key of its own
            for row, ref in zip(rows, new_keys(session, len(rows)), strict=True):
                row["key_ref"] = ref
                seal_row(session, _CUSTOMER, row, ref)
        ids = insert_rows(conn, _CUSTOMER, rows)
        for pending, customer_id in zip(roots, ids, strict=True):
            pending.customer_id = customer_id
        # Their identities are sealed under these keys below: no need to read them back.
        remember_refs(
            session,
            {cid: row["key_ref"] for cid, row in zip(ids, rows, strict=True) if "key_ref" in row},
        )
        events.publish_many(  # new profiles: no event names them yet
            session,
            [_customer_created(p, cid) for p, cid in zip(roots, ids, strict=True)],
            new=True,
        )
    added: dict[int, list[str]] = {}  # identifier kinds added to existing profiles
    if batch.new_keys:
        rows = []
        owners = {
            (root.customer_id if isinstance(root, _Pending) else root)
            for root in (batch.find(h) for h in batch.new_keys.values())
        }
        refs = refs_for(session, [o for o in owners if o is not None])
        for key, handle in batch.new_keys.items():
            root = batch.find(handle)
            owner_id = root.customer_id if isinstance(root, _Pending) else root
            if isinstance(root, int):
                added.setdefault(root, []).append(key[0])
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
            seal_row(session, _IDENTITY, rows[-1], refs.get(owner_id) if owner_id else None)
        insert_rows(conn, _IDENTITY, rows, want_ids=False)
    filled = _apply_fills(session, batch) if batch.fills else {}
    for customer_id in sorted(added.keys() | filled.keys()):
        fields = filled.get(customer_id, {})
        record_audit(
            session=session,
            actor=batch.actor,
            action="customer.fill",
            target_kind="customer",
            target_id=customer_id,
            reason=batch.cause.get(customer_id),
            details={
                "fields": sorted(fields),
                "identities_added": sorted(added.get(customer_id, [])),
                "automatic": True,
            },
            before_image=dict(fields) if fields else None,
        )


def _customer_created(pending: _Pending, customer_id: int) -> events.DomainEvent:
    """The ``customer.created`` event of a new profile (docs/events.md): no personal data."""
    properties = {
        "source": pending.context.source,
        "channel": pending.context.channel,
        "signed_up_at": pending.context.at.isoformat(),
    }
    return events.DomainEvent(
        "customer.created",
        customer_id,
        pending.context.store_id,
        properties,
        f"customer.created:{customer_id}",
    )


def _apply_fills(session: Session, batch: _Batch) -> dict[int, dict[str, Any]]:
    """Fill the blanks of existing profiles; per profile changed, the fields with what they
    held before (nothing: only blanks are filled)."""
    merged: dict[int, dict[str, Any]] = {}
    for handle, profile in batch.fills.items():
        root = batch.find(handle)
        if isinstance(root, int):
            target = merged.setdefault(root, {})
            for k, v in profile.items():
                target.setdefault(k, v)
            if handle != root and handle in batch.cause:
                batch.cause.setdefault(root, batch.cause[handle])
    changed: dict[int, dict[str, Any]] = {}
    ids = list(merged)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for customer in session.scalars(select(Customer).where(Customer.id.in_(chunk))):
            for k, v in merged[customer.id].items():
                if getattr(customer, k) is None:
                    setattr(customer, k, v)
                    changed.setdefault(customer.id, {})[k] = None
    session.flush()
    return changed
