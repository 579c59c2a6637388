"""Merge suggestions: two profiles a record says are one person, where whoever sent the
record may not merge them.

A store's till (a cashier's or store manager's key) may sign customers up and attach sales,
but a merge pulls one profile's orders, identities and points into another, across stores:
that is for a privacy officer or a chain manager (``customers.merge``). When such a record
shows two profiles sharing a phone, member card or WeChat unionid, identity resolution
records a suggestion here instead of merging. Staff review it with both profiles masked side
by side and merge (the merge is then an ordinary, undoable merge) or dismiss it; a dismissed
pair is never suggested, nor merged automatically, again. Every step is in the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.errors import InvalidInput
from patron.customers.exceptions import CannotMerge, SuggestionDecided, SuggestionNotFound
from patron.customers.models import Customer, CustomerStatus, MergeSuggestion, SuggestionStatus


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def dismissed_pairs(*, session: Session, customer_ids: Iterable[int]) -> set[frozenset[int]]:
    """Pairs among ``customer_ids`` that staff said are two people (a dismissed suggestion)."""
    ids = sorted(set(customer_ids))
    if len(ids) < 2:
        return set()
    rows = session.execute(
        select(MergeSuggestion.first_id, MergeSuggestion.second_id).where(
            MergeSuggestion.status == SuggestionStatus.DISMISSED,
            MergeSuggestion.first_id.in_(ids),
            MergeSuggestion.second_id.in_(ids),
        )
    )
    return {frozenset(row) for row in rows}


def suggest_merge(
    *,
    session: Session,
    customer_id: int,
    other_id: int,
    reason: str,
    actor: Actor,
    store_id: int | None = None,
    at: datetime | None = None,
) -> int | None:
    """Record that ``customer_id`` and ``other_id`` look like one person; the suggestion's id,
    or None when one is pending already or staff dismissed the pair before (audited)."""
    first, second = _pair(customer_id, other_id)
    if first == second:
        return None
    known = session.scalar(
        select(MergeSuggestion.id).where(
            MergeSuggestion.first_id == first,
            MergeSuggestion.second_id == second,
            MergeSuggestion.status.in_([SuggestionStatus.PENDING, SuggestionStatus.DISMISSED]),
        )
    )
    if known is not None:
        return None
    suggestion = MergeSuggestion(
        first_id=first,
        second_id=second,
        status=SuggestionStatus.PENDING,
        reason=reason[:255],
        store_id=store_id,
        raised_by=actor.label[:140],
        raised_at=at or utcnow(),
    )
    session.add(suggestion)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="merge_suggestion.raise",
        target_kind="customer",
        target_id=first,
        reason=reason,
        details={"suggestion_id": suggestion.id, "other_id": second, "store_id": store_id},
    )
    return suggestion.id


def get_suggestion_or_raise(
    *, session: Session, suggestion_id: int, for_update: bool = False
) -> MergeSuggestion:
    found = session.get(MergeSuggestion, suggestion_id, with_for_update=for_update)
    if found is None:
        raise SuggestionNotFound(
            f"no merge suggestion {suggestion_id}", suggestion_id=suggestion_id
        )
    return found


def list_suggestions(
    *, session: Session, status: str | None, limit: int, cursor: str | None
) -> tuple[list[MergeSuggestion], str | None]:
    """Suggestions with ``status`` (None: all), oldest first, a page at a time."""
    query = select(MergeSuggestion).order_by(MergeSuggestion.id).limit(limit + 1)
    if status is not None:
        if status not in set(SuggestionStatus):
            raise InvalidInput("status", "must be pending, accepted or dismissed")
        query = query.where(MergeSuggestion.status == status)
    if cursor:
        if not cursor.isdigit():
            raise InvalidInput("cursor", "not a cursor this API gave out")
        query = query.where(MergeSuggestion.id > int(cursor))
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (str(rows[-1].id) if more and rows else None)


def pending_for(*, session: Session, customer_id: int) -> list[MergeSuggestion]:
    """The pending suggestions naming this customer."""
    return list(
        session.scalars(
            select(MergeSuggestion)
            .where(
                MergeSuggestion.status == SuggestionStatus.PENDING,
                or_(
                    MergeSuggestion.first_id == customer_id,
                    MergeSuggestion.second_id == customer_id,
                ),
            )
            .order_by(MergeSuggestion.id)
        )
    )


def check_pending(suggestion: MergeSuggestion) -> None:
    if suggestion.status != SuggestionStatus.PENDING:
        raise SuggestionDecided(
            f"merge suggestion {suggestion.id} was {suggestion.status} already",
            suggestion_id=suggestion.id,
            status=suggestion.status,
        )


def live_pair(session: Session, suggestion: MergeSuggestion) -> tuple[int, int]:
    """The two profiles to merge now: (survivor, merged), the older profile surviving as in
    automatic merges. Refused when one of them was merged into another profile since."""
    for cid in (suggestion.first_id, suggestion.second_id):
        status = session.scalar(select(Customer.status).where(Customer.id == cid))
        if status != CustomerStatus.ACTIVE:
            raise CannotMerge(
                f"customer {cid} was merged into another profile since; "
                "dismiss this suggestion, or merge the profiles by hand",
                customer_id=cid,
            )
    return suggestion.first_id, suggestion.second_id


def mark_accepted(*, suggestion: MergeSuggestion, actor: Actor, reason: str, merge_id: int) -> None:
    suggestion.status = SuggestionStatus.ACCEPTED
    suggestion.decided_by = actor.label[:140]
    suggestion.decided_at = utcnow()
    suggestion.decision_reason = reason[:500]
    suggestion.merge_id = merge_id


def dismiss(*, session: Session, suggestion: MergeSuggestion, actor: Actor, reason: str) -> None:
    """Staff say the two are different people: never suggested or merged again (audited)."""
    check_pending(suggestion)
    suggestion.status = SuggestionStatus.DISMISSED
    suggestion.decided_by = actor.label[:140]
    suggestion.decided_at = utcnow()
    suggestion.decision_reason = reason[:500]
    record_audit(
        session=session,
        actor=actor,
        action="merge_suggestion.dismiss",
        target_kind="customer",
        target_id=suggestion.first_id,
        reason=reason,
        details={"suggestion_id": suggestion.id, "other_id": suggestion.second_id},
    )
    session.flush()
