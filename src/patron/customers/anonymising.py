"""Anonymising profiles for a retention policy (docs/privacy.md): the personal fields are
cleared, the identifiers and their blind-index entries deleted, tags and interaction notes
deleted, merge before-images emptied. The profile row stays (status ``anonymised``) so its
orders, refunds and points remain as an anonymous record and no total changes.

Every function can count instead of change (``dry_run``), through the same statements, so a
dry run's counts are what the run does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.orm import Session

from patron.customers.models import (
    Customer,
    CustomerFieldValue,
    CustomerMerge,
    CustomerStatus,
    CustomerTag,
    Identity,
    IdentityCorrection,
    Interaction,
)
from patron.customers.sealing import destroy_keys

LIVE_STATUS = CustomerStatus.ACTIVE  # the profiles a retention policy may anonymise


@dataclass(frozen=True)
class Anonymised:
    customers: int  # live profiles anonymised
    profiles: int  # rows cleared: those and the profiles merged into them
    identities: int
    interactions: int
    tags: int


def _with_merged(session: Session, customer_ids: Sequence[int]) -> list[int]:
    ids, frontier = list(customer_ids), list(customer_ids)
    while frontier:
        found = session.scalars(select(Customer.id).where(Customer.merged_into_id.in_(frontier)))
        frontier = [i for i in found if i not in ids]
        ids += frontier
    return ids


def _count(session: Session, query: Select[Any]) -> int:
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def anonymise_customers(
    *, session: Session, customer_ids: Sequence[int], dry_run: bool = False
) -> Anonymised:
    """Anonymise these live profiles (others are skipped) and the profiles merged into
    them; with ``dry_run``, only count what would change."""
    live = list(
        session.scalars(
            select(Customer.id).where(
                Customer.id.in_(customer_ids), Customer.status == CustomerStatus.ACTIVE
            )
        )
    )
    ids = _with_merged(session, live)
    counts = Anonymised(
        customers=len(live),
        profiles=len(ids),
        identities=_count(session, select(Identity.id).where(Identity.customer_id.in_(ids))),
        interactions=_count(
            session, select(Interaction.id).where(Interaction.customer_id.in_(ids))
        ),
        tags=_count(
            session, select(CustomerTag.customer_id).where(CustomerTag.customer_id.in_(ids))
        ),
    )
    if dry_run or not ids:
        return counts
    session.execute(delete(Identity).where(Identity.customer_id.in_(ids)))
    session.execute(delete(Interaction).where(Interaction.customer_id.in_(ids)))
    session.execute(delete(CustomerTag).where(CustomerTag.customer_id.in_(ids)))
    cleared = {
        "name": None,
        "name_index": None,
        "birthday": None,
        "address": None,
        "gender": None,
        "city": None,
    }
    session.execute(update(Customer).where(Customer.id.in_(ids)).values(**cleared))
    session.execute(
        update(Customer).where(Customer.id.in_(live)).values(status=CustomerStatus.ANONYMISED)
    )
    session.execute(
        update(CustomerMerge)
        .where(or_(CustomerMerge.survivor_id.in_(ids), CustomerMerge.merged_id.in_(ids)))
        .values(survivor_before={})
    )
    session.expire_all()
    return counts


def delete_interactions_before(*, session: Session, before: datetime, dry_run: bool = False) -> int:
    """Delete interaction notes that happened before ``before``; returns how many."""
    where = Interaction.occurred_at < before
    count = _count(session, select(Interaction.id).where(where))
    if not dry_run and count:
        session.execute(delete(Interaction).where(where))
    return count


@dataclass(frozen=True)
class Erased:
    customer_id: int  # the profile erased (the one others were merged into)
    profiles: int
    identities: int
    interactions: int
    field_values: int
    keys_destroyed: int


def survivor_of(session: Session, customer_id: int) -> int:
    """The profile a customer was merged into, through every merge; itself if none."""
    current, seen = customer_id, set()
    while current not in seen:
        seen.add(current)
        into = session.scalar(select(Customer.merged_into_id).where(Customer.id == current))
        if into is None:
            return current
        current = into
    return current


def erase_customer(*, session: Session, customer_id: int) -> Erased:
    """Erase a person (docs/privacy.md): anonymise the profile and every profile merged into
    it, delete their custom field values, and destroy their data keys, so whatever was sealed
    under them (in this database, its backups, the audit log's before-images) is unreadable.
    Orders, refunds and points stay on the anonymous profile."""
    root = survivor_of(session, customer_id)
    ids = _with_merged(session, [root])
    identities = _count(session, select(Identity.id).where(Identity.customer_id.in_(ids)))
    interactions = _count(session, select(Interaction.id).where(Interaction.customer_id.in_(ids)))
    field_values = _count(
        session, select(CustomerFieldValue.id).where(CustomerFieldValue.customer_id.in_(ids))
    )
    anonymise_customers(session=session, customer_ids=[root])
    # an already anonymised profile is cleared again: nothing personal may be left
    session.execute(delete(Identity).where(Identity.customer_id.in_(ids)))
    session.execute(delete(Interaction).where(Interaction.customer_id.in_(ids)))
    session.execute(delete(CustomerFieldValue).where(CustomerFieldValue.customer_id.in_(ids)))
    session.execute(
        update(IdentityCorrection)
        .where(IdentityCorrection.customer_id.in_(ids))
        .values(old_value=None)
    )
    session.execute(
        update(Customer)
        .where(Customer.id.in_(ids))
        .values(name=None, name_index=None, birthday=None, address=None, gender=None, city=None)
    )
    session.execute(
        update(Customer).where(Customer.id == root).values(status=CustomerStatus.ANONYMISED)
    )
    destroyed = destroy_keys(session, ids)
    session.expire_all()
    return Erased(root, len(ids), identities, interactions, field_values, destroyed)
