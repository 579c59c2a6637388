"""Reads of customers: profiles, look-ups by identifier, lists, interactions, birthdays.

A store-bound caller (``store_ids``) reads only the customers of its stores, by the rule
of :mod:`patron.customers.scope`; a look-up of another store's customer finds nobody.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    bindparam,
    select,
)
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.catalog import service as catalog
from patron.core.actor import Actor
from patron.core.crypto import identity_index, name_index
from patron.core.errors import InvalidInput
from patron.core.phone import normalise_email, normalise_phone
from patron.core.settings import get_settings
from patron.customers import identity as _identity
from patron.customers.exceptions import AmbiguousIdentifier, CustomerNotFound, OutOfScope
from patron.customers.models import (
    Customer,
    CustomerStatus,
    CustomerTag,
    Identity,
    IdentityKind,
    Interaction,
    Tag,
)
from patron.customers.schemas import (
    CustomerFilter,
    CustomerPage,
    CustomerRead,
    IdentityRead,
    InteractionRead,
)
from patron.customers.scope import belongs_to_stores, in_stores


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


@cache
def _scope_statement() -> Select[int]:
    """The customer if they belong to one of ``:store_ids``. Built once: a store's till
    checks this on every look-up and quote."""
    customer_id: Any = bindparam("customer_id")
    return select(Customer.id).where(Customer.id == customer_id, belongs_to_stores(customer_id))


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
        query = query.where(in_stores(store_ids))
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
            query = query.where(in_stores(store_ids))
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
