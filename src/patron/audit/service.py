"""Writing and reading the audit log. Entries are only ever added.

Actions in use: ``sign_in``, ``sign_in_failed``, ``sign_out``, ``password_change``,
``staff.create``, ``staff.update``, ``api_key.create``, ``api_key.revoke``,
``customer.reveal``, ``customer.merge``, ``customer.unmerge``, ``customer.export``,
``customer.update`` (staff changed a profile), ``customer.fill`` (a sale or sign-up filled
a profile's blanks or added identifiers to it), ``customer.tag_add``, ``customer.tag_remove``,
``merge_suggestion.raise``, ``merge_suggestion.dismiss``,
``keys.rotated``, ``loyalty.adjust``, ``coupon.bulk_issue``, ``promotion.create``,
``promotion.end``, ``lottery.create``. Details hold ids, counts and field names, never
personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, attributes

from patron.audit.models import AuditEntry
from patron.audit.schemas import AuditEntryRead, AuditPage
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.errors import InvalidInput


def record_audit(
    *,
    session: Session,
    actor: Actor,
    action: str,
    target_kind: str | None = None,
    target_id: int | str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    actor_name: str | None = None,
    before_image: dict[str, Any] | None = None,
) -> None:
    """Add one entry in the caller's transaction: it stands or falls with what it records.

    ``before_image`` is what a changed record held before (personal data allowed: it is
    stored encrypted); ``details`` never holds personal data."""
    session.add(
        AuditEntry(
            at=utcnow(),
            actor_kind=actor.kind,
            actor_id=actor.id,
            actor_name=(actor_name or actor.name)[:120],
            action=action,
            target_kind=target_kind,
            target_id=None if target_id is None else str(target_id),
            reason=reason,
            ip=actor.ip,
            details=details or {},
            before_image=before_image,
        )
    )


def list_audit(
    *,
    session: Session,
    action: str | None = None,
    actor_name: str | None = None,
    target_kind: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> AuditPage:
    """Newest first, filtered; ``cursor`` is the id to continue below. ``since`` is
    included, ``until`` is not; a range that ends before it starts is refused."""
    if since is not None and until is not None and until <= since:
        raise InvalidInput("until", "is before the first day", message_code="range_reversed")
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit + 1)
    if cursor:
        if not cursor.isdigit():
            raise InvalidInput("cursor", "not a cursor from this list")
        query = query.where(AuditEntry.id < int(cursor))
    if action:
        query = query.where(AuditEntry.action == action)
    if actor_name:
        query = query.where(AuditEntry.actor_name == actor_name)
    if target_kind:
        query = query.where(AuditEntry.target_kind == target_kind)
    if target_id:
        query = query.where(AuditEntry.target_id == target_id)
    if since:
        query = query.where(AuditEntry.at >= since)
    if until:
        query = query.where(AuditEntry.at < until)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(
        items=[AuditEntryRead.model_validate(r) for r in rows],
        next_cursor=str(rows[-1].id) if more and rows else None,
    )


def count_by_actor(
    *,
    session: Session,
    actions: Sequence[str],
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[tuple[str, str, str, int]]:
    """How many entries of each of ``actions`` each actor made: (actor kind, actor name,
    action, count), most active first. ``since`` is included, ``until`` is not."""
    query = (
        select(AuditEntry.actor_kind, AuditEntry.actor_name, AuditEntry.action, func.count())
        .where(AuditEntry.action.in_(actions))
        .group_by(AuditEntry.actor_kind, AuditEntry.actor_name, AuditEntry.action)
    )
    if since:
        query = query.where(AuditEntry.at >= since)
    if until:
        query = query.where(AuditEntry.at < until)
    rows = [(k, n, a, int(c)) for k, n, a, c in session.execute(query)]
    return sorted(rows, key=lambda r: (-r[3], r[1], r[2]))


def flag_before_images(*, session: Session, target_kind: str, target_ids: list[str]) -> int:
    """Mark the before-images about these targets as changed, so the next flush writes them
    again (``customers.sealing`` seals them under the customer's own key); returns how many."""
    entries = session.scalars(
        select(AuditEntry).where(
            AuditEntry.target_kind == target_kind,
            AuditEntry.target_id.in_(target_ids),
            AuditEntry.before_image.is_not(None),
        )
    )
    count = 0
    for entry in entries:
        attributes.flag_modified(entry, "before_image")
        count += 1
    return count
