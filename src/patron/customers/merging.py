"""Merging two profiles of one person, and undoing it.

A merge moves everything that points at the merged profile (identities, interactions,
orders, and whatever later domains register) to the survivor and records each moved row,
so :func:`unmerge_customers` can give every row back.
"""

from __future__ import annotations

import importlib
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from patron import events
from patron.core.clock import utcnow
from patron.customers.exceptions import CannotMerge, CannotUnmerge, CustomerNotFound, MergeNotFound
from patron.customers.models import (
    Customer,
    CustomerMerge,
    CustomerStatus,
    CustomerTag,
    Identity,
    Interaction,
)
from patron.customers.suggestions import dismissed_pairs

# Domains whose rows point at customers. Each module offers move_customer_records() and
# restore_customer_records(); a new domain with customer rows adds itself here.
MERGE_PARTICIPANTS: tuple[str, ...] = (
    "patron.orders.participant",
    "patron.loyalty",
    "patron.support.merges",
    "patron.journeys.merges",
    "patron.consent.merges",
    "patron.events",
)

PROFILE_FIELDS = (
    "name",
    "gender",
    "birthday",
    "city",
    "address",
    "home_store_id",
    "signup_channel",
)


class MergeParticipant(Protocol):
    def move_customer_records(
        self, *, session: Session, from_customer_id: int, to_customer_id: int
    ) -> dict[str, list[int]]: ...

    def restore_customer_records(
        self,
        *,
        session: Session,
        moved: dict[str, list[int]],
        from_customer_id: int,
        to_customer_id: int,
    ) -> None: ...


def _participants() -> list[MergeParticipant]:
    return [importlib.import_module(name) for name in MERGE_PARTICIPANTS]


def _jsonable(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _profile_snapshot(customer: Customer) -> dict[str, Any]:
    snap = {f: _jsonable(getattr(customer, f)) for f in PROFILE_FIELDS}
    snap["signed_up_at"] = customer.signed_up_at.isoformat()
    return snap


def blocked_pairs(*, session: Session, customer_ids: set[int]) -> set[frozenset[int]]:
    """Pairs of profiles staff said are two people (they unmerged them, or dismissed a
    suggestion to merge them): never merge them again automatically."""
    rows = session.execute(
        select(CustomerMerge.survivor_id, CustomerMerge.merged_id).where(
            CustomerMerge.unmerged_at.is_not(None),
            CustomerMerge.survivor_id.in_(customer_ids),
            CustomerMerge.merged_id.in_(customer_ids),
        )
    )
    blocked = {frozenset(row) for row in rows}
    return blocked | dismissed_pairs(session=session, customer_ids=customer_ids)


def merge_customers(
    *, session: Session, survivor_id: int, merged_id: int, reason: str
) -> CustomerMerge:
    if survivor_id == merged_id:
        raise CannotMerge("a customer cannot be merged with itself", customer_id=survivor_id)
    survivor = session.get(Customer, survivor_id, with_for_update=True)
    merged = session.get(Customer, merged_id, with_for_update=True)
    for cid, customer in ((survivor_id, survivor), (merged_id, merged)):
        if customer is None:
            raise CustomerNotFound(f"no customer {cid}", customer_id=cid)
        if customer.status != CustomerStatus.ACTIVE:
            raise CannotMerge(
                f"customer {cid} is {customer.status}", customer_id=cid, status=customer.status
            )
    assert survivor is not None and merged is not None
    before = _profile_snapshot(survivor)
    for field in PROFILE_FIELDS:
        if getattr(survivor, field) is None and getattr(merged, field) is not None:
            setattr(survivor, field, getattr(merged, field))
    survivor.signed_up_at = min(survivor.signed_up_at, merged.signed_up_at)

    moved: dict[str, list[int]] = {}
    moved["identity"] = list(
        session.scalars(select(Identity.id).where(Identity.customer_id == merged_id))
    )
    session.execute(
        update(Identity).where(Identity.customer_id == merged_id).values(customer_id=survivor_id)
    )
    moved["interaction"] = list(
        session.scalars(select(Interaction.id).where(Interaction.customer_id == merged_id))
    )
    session.execute(
        update(Interaction)
        .where(Interaction.customer_id == merged_id)
        .values(customer_id=survivor_id)
    )
    survivor_tags = set(
        session.scalars(select(CustomerTag.tag_id).where(CustomerTag.customer_id == survivor_id))
    )
    copied = [
        t
        for t in session.scalars(
            select(CustomerTag.tag_id).where(CustomerTag.customer_id == merged_id)
        )
        if t not in survivor_tags
    ]
    session.add_all(CustomerTag(customer_id=survivor_id, tag_id=t) for t in copied)
    moved["tag"] = copied
    for participant in _participants():
        moved.update(
            participant.move_customer_records(
                session=session, from_customer_id=merged_id, to_customer_id=survivor_id
            )
        )
    merged.status = CustomerStatus.MERGED
    merged.merged_into_id = survivor_id
    record = CustomerMerge(
        survivor_id=survivor_id,
        merged_id=merged_id,
        reason=reason[:255],
        survivor_before=before,
        moved=moved,
        merged_at=utcnow(),
    )
    session.add(record)
    session.flush()
    events.publish(
        session,
        "customer.merged",
        customer_id=survivor_id,
        properties={"merged_id": merged_id, "merge_id": record.id},
        event_id=f"customer.merged:{record.id}",
    )
    return record


def unmerge_customers(*, session: Session, merge_id: int) -> CustomerMerge:
    record = session.get(CustomerMerge, merge_id, with_for_update=True)
    if record is None:
        raise MergeNotFound(f"no merge {merge_id}", merge_id=merge_id)
    if record.unmerged_at is not None:
        raise CannotUnmerge(f"merge {merge_id} was already undone", merge_id=merge_id)
    survivor = session.get(Customer, record.survivor_id, with_for_update=True)
    merged = session.get(Customer, record.merged_id, with_for_update=True)
    assert survivor is not None and merged is not None
    if survivor.status != CustomerStatus.ACTIVE:
        raise CannotUnmerge(
            f"customer {survivor.id} was merged into {survivor.merged_into_id} since; "
            "undo that merge first",
            merge_id=merge_id,
        )
    if merged.status != CustomerStatus.MERGED or merged.merged_into_id != survivor.id:
        raise CannotUnmerge(f"customer {merged.id} is no longer merged", merge_id=merge_id)
    moved = record.moved
    if moved.get("identity"):
        session.execute(
            update(Identity)
            .where(Identity.id.in_(moved["identity"]), Identity.customer_id == survivor.id)
            .values(customer_id=merged.id)
        )
    if moved.get("interaction"):
        session.execute(
            update(Interaction)
            .where(Interaction.id.in_(moved["interaction"]), Interaction.customer_id == survivor.id)
            .values(customer_id=merged.id)
        )
    if moved.get("tag"):
        session.execute(
            delete(CustomerTag).where(
                CustomerTag.customer_id == survivor.id, CustomerTag.tag_id.in_(moved["tag"])
            )
        )
    for participant in _participants():
        participant.restore_customer_records(
            session=session, moved=moved, from_customer_id=survivor.id, to_customer_id=merged.id
        )
    _restore_profile(survivor, record.survivor_before)
    merged.status = CustomerStatus.ACTIVE
    merged.merged_into_id = None
    record.unmerged_at = utcnow()
    session.flush()
    return record


def _restore_profile(customer: Customer, before: dict[str, Any]) -> None:
    for field in PROFILE_FIELDS:
        if field not in before:
            continue  # a merge recorded before the field existed
        value = before[field]
        if field == "birthday" and value is not None:
            value = date.fromisoformat(value)
        setattr(customer, field, value)
    if before.get("signed_up_at"):
        customer.signed_up_at = datetime.fromisoformat(before["signed_up_at"])
