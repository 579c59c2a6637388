"""Customers: sign-up, profiles, look-up, tags, interactions, merge and unmerge.

Other domains use this module, never the customer tables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    Table,
    bindparam,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from patron.audit.service import record_audit
from patron.catalog import service as catalog
from patron.core.actor import Actor, system_actor
from patron.core.clock import utcnow
from patron.core.crypto import identity_index, name_index
from patron.core.errors import InvalidInput
from patron.core.phone import normalise_email, normalise_phone
from patron.core.settings import get_settings
from patron.customers import identity as _identity
from patron.customers import merging as _merging
from patron.customers import suggestions as _suggestions
from patron.customers.encryption import (
    ColumnKeys,
    Rotation,
    count_encrypted_values,
    ensure_keys,
    holds_encrypted_data,
    rotate_keys,
)
from patron.customers.exceptions import AmbiguousIdentifier, CustomerNotFound, OutOfScope
from patron.customers.identity import Resolution, ResolveContext
from patron.customers.masking import mask_customer
from patron.customers.models import (
    Customer,
    CustomerMerge,
    CustomerStatus,
    CustomerTag,
    Identity,
    IdentityKind,
    Interaction,
    MergeSuggestion,
    SuggestionStatus,
    Tag,
)
from patron.customers.schemas import (
    CustomerCreate,
    CustomerFilter,
    CustomerPage,
    CustomerRead,
    CustomerRef,
    CustomerUpdate,
    CustomerWrite,
    IdentityRead,
    InteractionCreate,
    InteractionRead,
    MergeRead,
    MergeSuggestionPage,
    MergeSuggestionRead,
)

__all__ = [
    "ColumnKeys",
    "Resolution",
    "ResolveContext",
    "Rotation",
    "accept_merge_suggestion",
    "add_tag",
    "count_encrypted_values",
    "dismiss_merge_suggestion",
    "ensure_keys",
    "get_customer",
    "get_customer_or_raise",
    "holds_encrypted_data",
    "list_customers",
    "list_interactions",
    "list_merge_suggestions",
    "list_merges",
    "lookup_customer",
    "merge_customers",
    "record_interaction",
    "register_customer",
    "register_customers",
    "remove_tag",
    "resolve_customers",
    "reveal_customer",
    "rotate_keys",
    "unmerge_customers",
    "update_customer",
]


@dataclass(frozen=True, slots=True)
class RegisterOutcome:
    customer_id: int
    created: bool


def resolve_customers(
    *,
    session: Session,
    refs: Sequence[CustomerRef | None],
    contexts: Sequence[ResolveContext],
    field_prefix: str = "customer",
    actor: Actor | None = None,
    store_ids: frozenset[int] | None = None,
) -> Resolution:
    """The customer each record belongs to, creating and merging profiles as identity rules
    say (customers/identity.py): ``actor`` sent the records (default: the system), and may
    change only customers of ``store_ids`` (default: the actor's stores; None: every store)."""
    return _identity.resolve(
        session=session,
        refs=refs,
        contexts=contexts,
        field_prefix=field_prefix,
        actor=actor,
        store_ids=store_ids,
    )


def _signup_store(
    stores: dict[str, Any], code: str | None, scope: frozenset[int] | None, field: str
) -> int | None:
    """The store a sign-up names; a store-bound actor's must be one of theirs, and is theirs
    when they work in one store and name none."""
    if not code:
        return next(iter(scope)) if scope is not None and len(scope) == 1 else None
    store = stores.get(code)
    if store is None or (scope is not None and store.id not in scope):
        # another store is named like one that does not exist
        raise InvalidInput(field, f"no store with code {code!r} among yours" if scope else
                           f"no store with code {code!r}")  # fmt: skip
    return int(store.id)


def register_customers(
    *,
    session: Session,
    customers_in: Sequence[CustomerCreate],
    source: str,
    actor: Actor | None = None,
) -> list[RegisterOutcome]:
    """Sign-ups in bulk. A known identifier updates that profile's blanks instead of
    duplicating it — when ``actor`` may change that profile (identity.py says when)."""
    stores = catalog.stores_by_code(session=session)
    scope = actor.store_ids if actor is not None else None
    refs: list[CustomerRef | None] = []
    contexts: list[ResolveContext] = []
    now = utcnow()
    for i, customer_in in enumerate(customers_in):
        store_id = _signup_store(
            stores,
            customer_in.home_store_code,
            scope,
            f"{i}.home_store_code" if len(customers_in) > 1 else "home_store_code",
        )
        refs.append(
            CustomerRef.model_construct(
                **customer_in.identities.model_dump(),
                id=None,
                name=customer_in.name,
                gender=customer_in.gender,
                birthday=customer_in.birthday,
                city=customer_in.city,
                address=customer_in.address,
            )
        )
        contexts.append(
            ResolveContext(
                source=source,
                label=f"sign-up via {source}",
                at=customer_in.signed_up_at or now,
                channel=customer_in.signup_channel,
                store_id=store_id,
                signup=True,
            )
        )
    resolution = resolve_customers(session=session, refs=refs, contexts=contexts, actor=actor)
    outcomes = []
    for customer_in, cid, created, context in zip(
        customers_in, resolution.customer_ids, resolution.created, contexts, strict=True
    ):
        assert cid is not None
        # Tags of a new profile are part of creating it; on a known one they are a change.
        # The profile is one the actor may change: resolution gave it a profile of its own
        # otherwise.
        for tag in customer_in.tags:
            _add_tag(session, cid, tag, None if created else (actor or _SYSTEM), context.label)
        outcomes.append(RegisterOutcome(customer_id=cid, created=created))
    # Known since the earliest evidence: a sign-up older than their first purchase here.
    earliest = {
        o.customer_id: c.at
        for o, c, customer_in in zip(outcomes, contexts, customers_in, strict=True)
        if not o.created and customer_in.signed_up_at is not None
    }
    note_earliest_evidence(session=session, earliest=earliest)
    return outcomes


def register_customer(
    *, session: Session, customer_in: CustomerCreate, source: str, actor: Actor | None = None
) -> CustomerWrite:
    outcome = register_customers(
        session=session, customers_in=[customer_in], source=source, actor=actor
    )[0]
    return CustomerWrite(
        created=outcome.created,
        customer=get_customer_or_raise(session=session, customer_id=outcome.customer_id),
    )


def _reads(session: Session, customers: Sequence[Customer]) -> list[CustomerRead]:
    if not customers:
        return []
    ids = [c.id for c in customers]
    identities: dict[int, list[IdentityRead]] = defaultdict(list)
    for row in session.scalars(
        select(Identity).where(Identity.customer_id.in_(ids)).order_by(Identity.id)
    ):
        identities[row.customer_id].append(IdentityRead.model_validate(row))
    tags: dict[int, list[str]] = defaultdict(list)
    for cid, name in session.execute(
        select(CustomerTag.customer_id, Tag.name)
        .join(Tag, Tag.id == CustomerTag.tag_id)
        .where(CustomerTag.customer_id.in_(ids))
        .order_by(Tag.name)
    ):
        tags[cid].append(name)
    store_codes = catalog.store_codes_by_id(session=session)
    return [
        CustomerRead(
            id=c.id,
            name=c.name,
            gender=c.gender,
            birthday=c.birthday,
            city=c.city,
            home_store_code=store_codes.get(c.home_store_id) if c.home_store_id else None,
            address=c.address,
            signup_channel=c.signup_channel,
            signed_up_at=c.signed_up_at,
            status=c.status,
            merged_into_id=c.merged_into_id,
            identities=identities[c.id],
            tags=tags[c.id],
            created_at=c.created_at,
            updated_at=c.updated_at,
        )
        for c in customers
    ]


def get_customer(*, session: Session, customer_id: int) -> CustomerRead | None:
    customer = session.get(Customer, customer_id)
    return _reads(session, [customer])[0] if customer else None


def get_customers(*, session: Session, customer_ids: Sequence[int]) -> dict[int, CustomerRead]:
    """The customers with these ids, by id (unknown ids left out), in three queries however
    many there are: for lists of scored or at-risk customers."""
    if not customer_ids:
        return {}
    found = session.scalars(select(Customer).where(Customer.id.in_(set(customer_ids)))).all()
    return {c.id: c for c in _reads(session, found)}


def get_customer_or_raise(
    *, session: Session, customer_id: int, store_ids: frozenset[int] | None = None
) -> CustomerRead:
    """The customer; ``store_ids``, when given, must include one of theirs (else OutOfScope)."""
    customer = get_customer(session=session, customer_id=customer_id)
    if customer is None:
        raise CustomerNotFound(f"no customer {customer_id}", customer_id=customer_id)
    if store_ids is not None:
        check_customer_in_scope(session=session, customer_id=customer_id, store_ids=store_ids)
    return customer


def reveal_customer(
    *,
    session: Session,
    customer_id: int,
    reason: str,
    actor: Actor,
    store_ids: frozenset[int] | None = None,
) -> CustomerRead:
    """The profile as stored, for someone who gave a reason; the reveal goes in the audit log."""
    customer = get_customer_or_raise(session=session, customer_id=customer_id, store_ids=store_ids)
    record_audit(
        session=session,
        actor=actor,
        action="customer.reveal",
        target_kind="customer",
        target_id=customer_id,
        reason=reason,
        details={"fields": ["name", "birthday", "address", "identities"]},
    )
    return customer


def customer_exists(*, session: Session, customer_id: int) -> bool:
    return session.scalar(select(Customer.id).where(Customer.id == customer_id)) is not None


_LOOKUP_KINDS = {
    "phone": IdentityKind.PHONE,
    "member_card": IdentityKind.MEMBER_CARD,
    "email": IdentityKind.EMAIL,
    "wechat_unionid": IdentityKind.WECHAT_UNIONID,
    "wechat_openid": IdentityKind.WECHAT_OPENID,
    "external_account": IdentityKind.EXTERNAL_ACCOUNT,
}


def lookup_customer(
    *,
    session: Session,
    kind: str,
    value: str,
    namespace: str = "",
    store_ids: frozenset[int] | None = None,
) -> CustomerRead | None:
    """The customer owning an identifier, e.g. ``kind="phone", value="138 0013 8000"``.

    Found through the identifier's blind index (values are encrypted at rest).
    ``store_ids``, when given, must include one of the customer's stores: another store's
    customer is None, as nobody is, so a look-up tells a store nothing of who shops
    elsewhere.
    """
    if kind == "external_account" and not namespace:
        # The id a shop system (or an import, under its source) gave the customer, without
        # naming the system: found in whichever system has it.
        owners = find_customer_ids_by_account(session=session, value=value)
        if len(owners) > 1:
            raise AmbiguousIdentifier(
                f"customer id {value!r} names {len(owners)} customers of different systems; "
                "give the system as namespace",
                kind=kind,
            )
        customer_id = owners[0] if owners else None
    else:
        customer_id = find_customer_id(session=session, kind=kind, value=value, namespace=namespace)
    if customer_id is None:
        return None
    try:
        return get_customer_or_raise(session=session, customer_id=customer_id, store_ids=store_ids)
    except OutOfScope:
        return None


def find_customer_ids_by_account(*, session: Session, value: str) -> list[int]:
    """The customers holding ``value`` as an account id in any system (one query per the
    few systems that give ids: the blind index includes the system)."""
    kind = IdentityKind.EXTERNAL_ACCOUNT
    systems = list(
        session.scalars(select(Identity.namespace).where(Identity.kind == kind).distinct())
    )
    if not systems:
        return []
    indexes = [identity_index(kind, system, value.strip()) for system in systems]
    found = session.scalars(
        select(Identity.customer_id)
        .where(Identity.kind == kind, Identity.value_index.in_(indexes))
        .distinct()
        .order_by(Identity.customer_id)
    )
    return [int(c) for c in found]


def find_customer_id(*, session: Session, kind: str, value: str, namespace: str = "") -> int | None:
    """Only the id of the customer owning an identifier (one indexed query): for the till,
    which needs no profile to price a basket."""
    found = session.scalar(_owner_statement(), identity_params(kind, value, namespace))
    return int(found) if found is not None else None


def identity_params(kind: str, value: str, namespace: str = "") -> dict[str, Any]:
    """The values :func:`identity_owner` is bound with, for an identifier as typed (the phone
    or e-mail normalised, then indexed). InvalidInput names ``kind`` if it cannot be read."""
    identity_kind = _LOOKUP_KINDS.get(kind)
    if identity_kind is None:
        raise InvalidInput("kind", f"look up by one of {', '.join(_LOOKUP_KINDS)}")
    try:
        if identity_kind == IdentityKind.PHONE:
            value = normalise_phone(value, get_settings().phone_region)
        elif identity_kind == IdentityKind.EMAIL:
            value = normalise_email(value)
    except ValueError as exc:
        raise InvalidInput(kind, str(exc)) from None
    return {
        "value_index": identity_index(identity_kind, namespace, value),
        "kind": identity_kind,
        "namespace": namespace,
    }


@cache
def _owner_statement() -> Select[int]:
    # Built once: every till look-up and quote starts here.
    return select(Identity.customer_id).where(
        Identity.value_index == bindparam("value_index"),
        Identity.kind == bindparam("kind"),
        Identity.namespace == bindparam("namespace"),
    )


def identity_owner() -> ScalarSelect[int]:
    """The id of the customer owning an identifier, as a scalar subquery bound with
    :func:`identity_params`: for other domains that read a member's records in the same
    statement as the look-up (the till)."""
    return _owner_statement().scalar_subquery()


def belongs_to_stores(customer_id: Any) -> ColumnElement[bool]:
    """Whether the customer ``customer_id`` (a column or subquery) belongs to one of the
    stores bound as ``:store_ids`` (expanding): home store, or an order there, the rule of
    :func:`_in_stores` written for a single customer."""
    from patron.orders.models import Order  # orders build on customers, not back

    stores: Any = bindparam("store_ids", expanding=True)
    bought_there = (
        select(Order.id)
        .where(Order.customer_id == customer_id, Order.store_id.in_(stores))
        .exists()
    )
    c = aliased(Customer)  # never correlated with a customer table around it
    home = select(c.id).where(c.id == customer_id, c.home_store_id.in_(stores))
    return or_(home.exists(), bought_there)


def _in_stores(store_ids: frozenset[int]) -> ColumnElement[bool]:
    """A customer belongs to a store if it is their home store or they bought there.

    Written for sets of customers (lists, other domains' scoped reads); the same rule for
    one customer is :func:`belongs_to_stores`, whose correlated EXISTS reads only that
    customer's orders instead of every order of the stores."""
    from patron.orders import service as orders  # orders build on customers, not back

    return or_(
        Customer.home_store_id.in_(store_ids),
        Customer.id.in_(orders.customers_buying_in(store_ids=store_ids)),
    )


@cache
def _scope_statement() -> Select[int]:
    """The customer if they belong to one of ``:store_ids``. Built once: a store's till
    checks this on every look-up and quote."""
    customer_id: Any = bindparam("customer_id")
    return select(Customer.id).where(Customer.id == customer_id, belongs_to_stores(customer_id))


def customer_ids_in_stores(store_ids: frozenset[int]) -> Select[int]:
    """The ids of these stores' customers (home store, or bought there), as a subquery for
    other domains' scoped reads: ``X.customer_id.in_(customer_ids_in_stores(ids))``."""
    return select(Customer.id).where(_in_stores(store_ids))


def check_customer_in_scope(
    *, session: Session, customer_id: int, store_ids: frozenset[int] | None
) -> None:
    """Raise CustomerNotFound unless the customer exists, OutOfScope unless they belong to
    one of ``store_ids`` (None: every store)."""
    if store_ids is None:
        if not customer_exists(session=session, customer_id=customer_id):
            raise CustomerNotFound(f"no customer {customer_id}", customer_id=customer_id)
        return
    found = session.scalar(
        _scope_statement(), {"customer_id": customer_id, "store_ids": sorted(store_ids)}
    )
    if found is None:
        if not customer_exists(session=session, customer_id=customer_id):
            raise CustomerNotFound(f"no customer {customer_id}", customer_id=customer_id)
        raise OutOfScope("this customer belongs to another store", customer_id=customer_id)


def list_customers(
    *,
    session: Session,
    filters: CustomerFilter,
    limit: int = 50,
    cursor: str | None = None,
    store_ids: frozenset[int] | None = None,
) -> CustomerPage:
    """Customers matching ``filters``, newest first, a page at a time (keyset on id).

    ``filters.q`` finds a whole name (NFKC, case and spaces aside) through the name's blind
    index: names are encrypted at rest, so part of a name finds nothing, by design.
    ``store_ids`` limits the list to those stores' customers (None: every store).
    """
    query = select(Customer).order_by(Customer.id.desc()).limit(limit + 1)
    if store_ids is not None:
        query = query.where(_in_stores(store_ids))
    if cursor:
        try:
            query = query.where(Customer.id < int(cursor))
        except ValueError:
            raise InvalidInput("cursor", "not a cursor this API gave out") from None
    if filters.status:
        query = query.where(Customer.status == filters.status)
    if filters.q and (wanted := name_index(filters.q)) is not None:
        query = query.where(Customer.name_index == wanted)
    if filters.city:
        query = query.where(Customer.city == filters.city)
    if filters.gender:
        query = query.where(Customer.gender == filters.gender)
    if filters.signup_channel:
        query = query.where(Customer.signup_channel == filters.signup_channel)
    if filters.signed_up_from:
        query = query.where(Customer.signed_up_at >= filters.signed_up_from)
    if filters.signed_up_to:
        query = query.where(Customer.signed_up_at < filters.signed_up_to)
    if filters.home_store_code:
        store = catalog.get_store_by_code(session=session, code=filters.home_store_code)
        query = query.where(Customer.home_store_id == (store.id if store else -1))
    if filters.tag:
        query = query.where(
            Customer.id.in_(
                select(CustomerTag.customer_id)
                .join(Tag, Tag.id == CustomerTag.tag_id)
                .where(Tag.name == filters.tag)
            )
        )
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return CustomerPage(
        items=_reads(session, rows), next_cursor=str(rows[-1].id) if more and rows else None
    )


_SYSTEM = system_actor()


def update_customer(
    *,
    session: Session,
    customer_id: int,
    customer_in: CustomerUpdate,
    actor: Actor | None = None,
    reason: str | None = None,
) -> CustomerRead:
    """Change a profile's fields; the change is audited (``customer.update``) with what the
    fields held before, encrypted, and ``reason`` when one is given."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise CustomerNotFound(f"no customer {customer_id}", customer_id=customer_id)
    changes = customer_in.model_dump(exclude_unset=True)
    before: dict[str, Any] = {}
    if "home_store_code" in changes:
        code = changes.pop("home_store_code")
        store_id = (
            catalog.get_store_by_code_or_raise(session=session, code=code).id if code else None
        )
        if store_id != customer.home_store_id:
            before["home_store_id"] = customer.home_store_id
            customer.home_store_id = store_id
    for key, value in changes.items():
        old = getattr(customer, key)
        if old != value:
            before[key] = old.isoformat() if isinstance(old, date) else old
            setattr(customer, key, value)
    session.flush()
    if before:
        record_audit(
            session=session,
            actor=actor or _SYSTEM,
            action="customer.update",
            target_kind="customer",
            target_id=customer_id,
            reason=reason,
            details={"fields": sorted(before)},
            before_image=before,
        )
    return get_customer_or_raise(session=session, customer_id=customer_id)


def add_tag(*, session: Session, customer_id: int, name: str, actor: Actor | None = None) -> None:
    """Tag a customer (audited as a change of their profile when the tag is new to them)."""
    _add_tag(session, customer_id, name, actor or _SYSTEM, None)


def _add_tag(
    session: Session, customer_id: int, name: str, actor: Actor | None, cause: str | None
) -> None:
    """``actor`` None: part of creating the profile, not a change to audit."""
    tag_id = session.scalar(select(Tag.id).where(Tag.name == name))
    if tag_id is None:
        tag = Tag(name=name)
        session.add(tag)
        session.flush()
        tag_id = tag.id
    if session.get(CustomerTag, (customer_id, tag_id)) is None:
        session.add(CustomerTag(customer_id=customer_id, tag_id=tag_id))
        session.flush()
        if actor is not None:
            _audit_tag(session, actor, "customer.tag_add", customer_id, name, cause)


def remove_tag(
    *, session: Session, customer_id: int, name: str, actor: Actor | None = None
) -> None:
    tag_id = session.scalar(select(Tag.id).where(Tag.name == name))
    if tag_id is not None:
        removed = session.execute(
            delete(CustomerTag).where(
                CustomerTag.customer_id == customer_id, CustomerTag.tag_id == tag_id
            )
        )
        if getattr(removed, "rowcount", 0):
            _audit_tag(session, actor or _SYSTEM, "customer.tag_remove", customer_id, name, None)


def _audit_tag(
    session: Session, actor: Actor, action: str, customer_id: int, name: str, cause: str | None
) -> None:
    record_audit(
        session=session,
        actor=actor,
        action=action,
        target_kind="customer",
        target_id=customer_id,
        reason=cause,
        details={"fields": ["tags"]},
        before_image={"tag": name},
    )


def record_interaction(
    *, session: Session, customer_id: int, interaction_in: InteractionCreate
) -> InteractionRead:
    if not customer_exists(session=session, customer_id=customer_id):
        raise CustomerNotFound(f"no customer {customer_id}", customer_id=customer_id)
    interaction = Interaction(
        customer_id=customer_id,
        **interaction_in.model_dump(exclude={"occurred_at"}),
        occurred_at=interaction_in.occurred_at or utcnow(),
    )
    session.add(interaction)
    session.flush()
    return InteractionRead.model_validate(interaction)


def list_interactions(
    *, session: Session, customer_id: int, limit: int = 100
) -> list[InteractionRead]:
    rows = session.scalars(
        select(Interaction)
        .where(Interaction.customer_id == customer_id)
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
        .limit(limit)
    )
    return [InteractionRead.model_validate(r) for r in rows]


def merge_customers(
    *, session: Session, survivor_id: int, merged_id: int, reason: str, actor: Actor
) -> MergeRead:
    """Fold ``merged_id`` into ``survivor_id`` (staff-initiated, audited); undo with
    unmerge_customers."""
    merge = MergeRead.model_validate(
        _merging.merge_customers(
            session=session, survivor_id=survivor_id, merged_id=merged_id, reason=reason
        )
    )
    _audit_merge(session, actor, "customer.merge", merge, reason=reason)
    return merge


# ------------------------------------------------------------------------ merge suggestions


def _suggestion_reads(
    session: Session, rows: Sequence[MergeSuggestion]
) -> list[MergeSuggestionRead]:
    from patron.orders import service as orders  # orders build on customers, not back

    ids = {cid for row in rows for cid in (row.first_id, row.second_id)}
    profiles = get_customers(session=session, customer_ids=list(ids))
    counts = orders.count_orders_of(session=session, customer_ids=list(ids))
    codes = catalog.store_codes_by_id(session=session)
    return [
        MergeSuggestionRead(
            id=row.id,
            status=row.status,
            first=mask_customer(profiles[row.first_id]),
            second=mask_customer(profiles[row.second_id]),
            first_orders=counts.get(row.first_id, 0),
            second_orders=counts.get(row.second_id, 0),
            reason=row.reason,
            store_code=codes.get(row.store_id) if row.store_id else None,
            raised_by=row.raised_by,
            raised_at=row.raised_at,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            decision_reason=row.decision_reason,
            merge_id=row.merge_id,
        )
        for row in rows
    ]


def list_merge_suggestions(
    *,
    session: Session,
    status: str | None = SuggestionStatus.PENDING,
    limit: int = 50,
    cursor: str | None = None,
) -> MergeSuggestionPage:
    """Merge suggestions (pending ones by default), oldest first, both profiles masked."""
    rows, next_cursor = _suggestions.list_suggestions(
        session=session, status=status, limit=limit, cursor=cursor
    )
    return MergeSuggestionPage(items=_suggestion_reads(session, rows), next_cursor=next_cursor)


def get_merge_suggestion_or_raise(*, session: Session, suggestion_id: int) -> MergeSuggestionRead:
    row = _suggestions.get_suggestion_or_raise(session=session, suggestion_id=suggestion_id)
    return _suggestion_reads(session, [row])[0]


def accept_merge_suggestion(
    *, session: Session, suggestion_id: int, reason: str, actor: Actor
) -> MergeRead:
    """Merge the two profiles (the newer into the older, as automatic merges do); audited
    as a merge whose cause is the suggestion. Undo it like any merge."""
    row = _suggestions.get_suggestion_or_raise(
        session=session, suggestion_id=suggestion_id, for_update=True
    )
    _suggestions.check_pending(row)
    survivor_id, merged_id = _suggestions.live_pair(session, row)
    cause = f"merge suggestion {row.id} ({row.reason}): {reason}"
    merge = MergeRead.model_validate(
        _merging.merge_customers(
            session=session, survivor_id=survivor_id, merged_id=merged_id, reason=cause
        )
    )
    _audit_merge(session, actor, "customer.merge", merge, reason=reason, suggestion_id=row.id)
    _suggestions.mark_accepted(suggestion=row, actor=actor, reason=reason, merge_id=merge.id)
    session.flush()
    return merge


def dismiss_merge_suggestion(
    *, session: Session, suggestion_id: int, reason: str, actor: Actor
) -> MergeSuggestionRead:
    """The two are different people: the pair is never suggested, nor merged, again."""
    row = _suggestions.get_suggestion_or_raise(
        session=session, suggestion_id=suggestion_id, for_update=True
    )
    _suggestions.dismiss(session=session, suggestion=row, actor=actor, reason=reason)
    return _suggestion_reads(session, [row])[0]


def unmerge_customers(*, session: Session, merge_id: int, actor: Actor) -> MergeRead:
    """Give back both profiles as they were, with their identities and orders (audited)."""
    merge = MergeRead.model_validate(_merging.unmerge_customers(session=session, merge_id=merge_id))
    _audit_merge(session, actor, "customer.unmerge", merge)
    return merge


def _audit_merge(
    session: Session,
    actor: Actor,
    action: str,
    merge: MergeRead,
    *,
    reason: str | None = None,
    suggestion_id: int | None = None,
) -> None:
    details: dict[str, Any] = {
        "merge_id": merge.id,
        "merged_id": merge.merged_id,
        "automatic": False,
    }
    if suggestion_id is not None:
        details["suggestion_id"] = suggestion_id
    record_audit(
        session=session,
        actor=actor,
        action=action,
        target_kind="customer",
        target_id=merge.survivor_id,
        reason=reason,
        details=details,
    )


def list_merges(*, session: Session, customer_id: int) -> list[MergeRead]:
    rows = session.scalars(
        select(CustomerMerge)
        .where(
            (CustomerMerge.survivor_id == customer_id) | (CustomerMerge.merged_id == customer_id)
        )
        .order_by(CustomerMerge.id)
    )
    return [MergeRead.model_validate(r) for r in rows]


def active_customer_id(*, session: Session, customer_id: int) -> int:
    """Where a customer id points now, following merges."""
    return _identity._live_customer(session, customer_id, "customer_id")


def count_customers(*, session: Session, status: str | None = CustomerStatus.ACTIVE) -> int:
    from sqlalchemy import func

    query = select(func.count()).select_from(Customer)
    if status:
        query = query.where(Customer.status == status)
    return int(session.scalar(query) or 0)


def is_live_customer(customer_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """A condition on ``customer_id`` (a column of another table): a live profile (not
    merged away) — for set-based statements over many customers."""
    # EXISTS, not IN: negated it stays an anti-join (PostgreSQL's NOT IN over a subquery
    # larger than work_mem runs the subquery once per row).
    return (
        select(Customer.id)
        .where(Customer.id == customer_id, Customer.status == CustomerStatus.ACTIVE)
        .exists()
    )


def live_customer_ids(
    *, session: Session, customer_ids: Sequence[int], store_ids: frozenset[int] | None = None
) -> set[int]:
    """Which of ``customer_ids`` are live (not merged away) profiles, within ``store_ids``."""
    found: set[int] = set()
    ids = sorted(set(customer_ids))
    for start in range(0, len(ids), 1_000):
        query = select(Customer.id).where(
            Customer.id.in_(ids[start : start + 1_000]),
            Customer.status == CustomerStatus.ACTIVE,
        )
        if store_ids is not None:
            query = query.where(_in_stores(store_ids))
        found.update(session.scalars(query))
    return found


class Birthday(NamedTuple):
    born: date
    signed_up_at: datetime  # a gift for a past day goes only to who was a member by then


def birthdays(
    *, session: Session, customer_ids: Sequence[int] | None = None
) -> dict[int, Birthday]:
    """Known birthdays of these live customers (all of them when ``customer_ids`` is None),
    with when each signed up; decrypted here: they are stored encrypted, so no query can
    search for a date."""
    found: dict[int, Birthday] = {}
    live = Customer.status == CustomerStatus.ACTIVE
    columns = (Customer.id, Customer.birthday, Customer.signed_up_at)
    if customer_ids is not None:
        ids = sorted(set(customer_ids))
        for start in range(0, len(ids), 1_000):
            rows = session.execute(
                select(*columns).where(Customer.id.in_(ids[start : start + 1_000]), live)
            )
            found.update({cid: Birthday(born, at) for cid, born, at in rows if born is not None})
        return found
    after = 0
    while True:
        batch = session.execute(
            select(*columns).where(Customer.id > after, live).order_by(Customer.id).limit(5_000)
        ).all()
        if not batch:
            return found
        found.update({cid: Birthday(born, at) for cid, born, at in batch if born is not None})
        after = batch[-1][0]


def note_earliest_evidence(*, session: Session, earliest: dict[int, datetime]) -> None:
    """Move each customer's sign-up back to ``earliest[customer_id]`` when that is older:
    a customer is known since their earliest evidence (a purchase or a sign-up), whatever
    order the records arrive in."""
    if not earliest:
        return
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        # Straight to the driver: an import moves thousands of these a batch. SQLite keeps
        # instants as UTC text in this one format, so text order is time order.
        params = [
            (stamp, cid, stamp)
            for cid, at in earliest.items()
            for stamp in (f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f}",)
        ]
        conn.exec_driver_sql(
            "UPDATE customer SET signed_up_at = ? WHERE id = ? AND signed_up_at > ?", params
        )
        return
    if conn.dialect.name == "postgresql":
        # One statement for the whole batch (an executemany is one round of the server's
        # work per customer): the pairs go in as two arrays.
        ids = list(earliest)
        conn.exec_driver_sql(
            "UPDATE customer AS c SET signed_up_at = v.at "
            "FROM unnest(%(ids)s::bigint[], %(ats)s::timestamptz[]) AS v(id, at) "
            "WHERE c.id = v.id AND c.signed_up_at > v.at",
            {"ids": ids, "ats": [earliest[i].astimezone(UTC) for i in ids]},
        )
        return
    table = cast(Table, Customer.__table__)
    statement = (
        update(table)
        .where(table.c.id == bindparam("cid"), table.c.signed_up_at > bindparam("at"))
        .values(signed_up_at=bindparam("at"))
    )
    conn.execute(statement, [{"cid": cid, "at": at} for cid, at in earliest.items()])
