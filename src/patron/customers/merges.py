"""Merging and unmerging as staff ask, and the queue of merge suggestions: each audited.

The moving of records is :mod:`patron.customers.merging`; finding likely pairs is
:mod:`patron.customers.suggestions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.catalog import service as catalog
from patron.core.actor import Actor
from patron.customers import merging as _merging
from patron.customers import suggestions as _suggestions
from patron.customers.masking import mask_customer
from patron.customers.models import (
    CustomerMerge,
    MergeSuggestion,
    SuggestionStatus,
)
from patron.customers.reads import get_customers
from patron.customers.schemas import (
    MergeRead,
    MergeSuggestionPage,
    MergeSuggestionRead,
)
from patron.customers.scope import purchases


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
    ids = {cid for row in rows for cid in (row.first_id, row.second_id)}
    profiles = get_customers(session=session, customer_ids=list(ids))
    counts = purchases().count_orders_of(session=session, customer_ids=list(ids))
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
