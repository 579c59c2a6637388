"""Changes to customers: sign-ups (alone and in bulk), profile edits, tags, interactions,
and the sign-up moved back to a customer's earliest evidence. Each change staff make is
audited with what the profile held before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import (
    Table,
    bindparam,
    delete,
    select,
    update,
)
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.catalog import service as catalog
from patron.core.actor import Actor, system_actor
from patron.core.clock import utcnow
from patron.core.db import driver_execute
from patron.core.errors import InvalidInput
from patron.customers import identity as _identity
from patron.customers.exceptions import CustomerNotFound
from patron.customers.identity import Resolution, ResolveContext
from patron.customers.models import (
    Customer,
    CustomerTag,
    Interaction,
    Tag,
)
from patron.customers.reads import customer_exists, get_customer_or_raise
from patron.customers.schemas import (
    CustomerCreate,
    CustomerRead,
    CustomerRef,
    CustomerUpdate,
    CustomerWrite,
    InteractionCreate,
    InteractionRead,
)


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
        driver_execute(
            conn, "UPDATE customer SET signed_up_at = ? WHERE id = ? AND signed_up_at > ?",
            params, many=True,
        )  # fmt: skip
        return
    if conn.dialect.name == "postgresql":
        # One statement for the whole batch (an executemany is one round of the server's
        # work per customer): the pairs go in as two arrays. The ids are also named to the
        # customer table itself, so it is read for them alone (by its key, or a scan that
        # keeps only them) rather than hashed whole to be joined with the pairs.
        ids = list(earliest)
        driver_execute(
            conn,
            "UPDATE customer AS c SET signed_up_at = v.at "
            "FROM unnest(%(ids)s::bigint[], %(ats)s::timestamptz[]) AS v(id, at) "
            "WHERE c.id = ANY(%(ids)s::bigint[]) AND c.id = v.id AND c.signed_up_at > v.at",
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
