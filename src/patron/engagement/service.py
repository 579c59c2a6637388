"""The outbox: claiming due messages, the hand-over, recording outcomes, taking back
stalled claims, and publishing due messages to the job queue (content and enqueueing are
in ``enqueue.py``, re-exported here).

Services take ``session`` keyword-only and never commit. The dispatcher (``dispatch.py``)
strings them into its transactions.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from patron.engagement.enqueue import (
    create_content,
    enqueue_messages,
    enqueue_rows,
    enqueue_selected,
    get_contents,
)
from patron.engagement.models import (
    MessageStatus,
    OutboxAttempt,
    OutboxMessage,
    Purpose,
)
from patron.engagement.schemas import (
    AttemptRead,
    OutboxMessageRead,
)

M = cast(Table, OutboxMessage.__table__)
A = cast(Table, OutboxAttempt.__table__)

# Content and enqueueing live in engagement/enqueue.py; callers reach them here, with the
# rest of the outbox.
__all__ = ["create_content", "enqueue_messages", "enqueue_rows", "enqueue_selected", "get_contents"]

# ------------------------------------------------------------------------------ holding


def hold_messages(*, session: Session, source_kind: str, source_id: str) -> int:
    """Hold back a source's messages not yet handed over (a campaign paused after its send):
    queued ones, and claimed ones whose request has not reached a provider — their claim is
    taken from the dispatcher, whose hand-over then fails and sends nothing. Returns how many
    are held; :func:`release_messages` lets them go again."""
    result = session.execute(
        update(M)
        .where(
            M.c.source_kind == source_kind,
            M.c.source_id == source_id,
            or_(
                M.c.status == MessageStatus.QUEUED,
                and_(M.c.status == MessageStatus.SENDING, M.c.handed_over_at.is_(None)),
            ),
        )
        .values(status=MessageStatus.HELD, sent_at=None, published_at=None, **_RELEASE)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def release_messages(*, session: Session, source_kind: str, source_id: str) -> int:
    """Back to the queue, as they were due; those past their latest time are then skipped as
    late by the dispatcher, never sent late."""
    result = session.execute(
        update(M)
        .where(
            M.c.source_kind == source_kind,
            M.c.source_id == source_id,
            M.c.status == MessageStatus.HELD,
        )
        .values(status=MessageStatus.QUEUED)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def skip_unsent(
    *, session: Session, source_kind: str, source_id: str, reason: str, now: datetime
) -> int:
    """Settle a source's messages not yet claimed (queued or held) as skipped with
    ``reason``, final: what they were for is over (a survey answered before its invitation
    went out). A claimed one is left to its sender. Returns how many."""
    result = session.execute(
        update(M)
        .where(
            M.c.source_kind == source_kind,
            M.c.source_id == source_id,
            M.c.status.in_([MessageStatus.QUEUED, MessageStatus.HELD]),
        )
        .values(
            status=MessageStatus.SKIPPED,
            reason=reason,
            finished_at=now,
            sent_at=None,
            published_at=None,
            **_RELEASE,
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------ reading


def get_message(*, session: Session, message_id: int) -> OutboxMessageRead | None:
    row = session.get(OutboxMessage, message_id)
    if row is None:
        return None
    attempts = session.scalars(
        select(OutboxAttempt)
        .where(OutboxAttempt.message_id == message_id)
        .order_by(OutboxAttempt.number)
    )
    read = OutboxMessageRead.model_validate(row)
    read.history = [AttemptRead.model_validate(a) for a in attempts]
    return read


def find_message_id(
    *, session: Session, source_kind: str, source_id: str, customer_id: int, channel: str
) -> int | None:
    return session.scalar(
        select(M.c.id).where(
            M.c.source_kind == source_kind,
            M.c.source_id == source_id,
            M.c.customer_id == customer_id,
            M.c.channel == channel,
        )
    )


def count_by_status(
    *, session: Session, source_kind: str | None = None, source_id: str | None = None
) -> dict[str, int]:
    query: Select[Any] = select(M.c.status, func.count()).group_by(M.c.status)
    if source_kind is not None:
        query = query.where(M.c.source_kind == source_kind)
    if source_id is not None:
        query = query.where(M.c.source_id == source_id)
    return {status: int(n) for status, n in session.execute(query)}


# ------------------------------------------------------------------------------ claiming


@dataclass(frozen=True)
class ClaimedMessage:
    id: int
    customer_id: int
    channel: str
    purpose: str
    content_id: int
    variables: dict[str, Any] | None
    priority: int
    attempts: int
    not_after: datetime | None

    @property
    def marketing(self) -> bool:
        return self.purpose == Purpose.MARKETING


@dataclass(frozen=True)
class Claim:
    token: str
    until: datetime
    messages: list[ClaimedMessage]


_CLAIMED_COLUMNS = (
    M.c.id,
    M.c.customer_id,
    M.c.channel,
    M.c.purpose,
    M.c.content_id,
    M.c.variables,
    M.c.priority,
    M.c.attempts,
    M.c.not_after,
)


def _claim(
    session: Session, which: ColumnElement[bool], *, now: datetime, limit: int, lease_s: float
) -> Claim:
    """Mark due queued rows as ours, atomically: the UPDATE takes rows that are still queued
    and due, and a claimed row no longer matches. On PostgreSQL the rows are picked with
    ``FOR UPDATE SKIP LOCKED``, so claimers never wait for each other; SQLite has one writer
    at a time (``BEGIN IMMEDIATE``)."""
    token = secrets.token_hex(16)
    until = now + timedelta(seconds=lease_s)
    due = (
        select(M.c.id)
        .where(which, M.c.status == MessageStatus.QUEUED, M.c.next_attempt_at <= now)
        .order_by(M.c.next_attempt_at, M.c.priority.desc(), M.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(M)
        .where(M.c.id.in_(due.scalar_subquery()))
        .values(status=MessageStatus.SENDING, claim_token=token, claimed_until=until)
        .returning(*_CLAIMED_COLUMNS)
    )
    rows = session.execute(statement).all()
    messages = sorted((ClaimedMessage(*row) for row in rows), key=lambda m: (-m.priority, m.id))
    return Claim(token, until, messages)


def claim_due(*, session: Session, now: datetime, limit: int, lease_s: float) -> Claim:
    """Claim up to ``limit`` due messages, earliest first (by priority among equals)."""
    return _claim(session, literal(True), now=now, limit=limit, lease_s=lease_s)


def claim_messages(
    *, session: Session, message_ids: Sequence[int], now: datetime, lease_s: float
) -> Claim:
    """Claim those of ``message_ids`` that are still queued and due (a job from the queue
    names its messages; a second job naming them finds nothing left to claim)."""
    ids = sorted(set(message_ids))
    return _claim(session, M.c.id.in_(ids), now=now, limit=max(1, len(ids)), lease_s=lease_s)


def lock_customers(*, session: Session, customer_ids: Iterable[int]) -> None:
    """Serialise send decisions per customer until the transaction ends, so two workers never
    both pass a frequency cap for one customer (PostgreSQL advisory locks, taken in order;
    SQLite already has one writer at a time)."""
    ids = sorted({cid % 2_147_483_647 for cid in customer_ids})
    if not ids or session.get_bind().dialect.name != "postgresql":
        return
    session.execute(
        text("SELECT pg_advisory_xact_lock(:space, x) FROM unnest(CAST(:ids AS int[])) AS x"),
        {"space": _CAP_LOCK_SPACE, "ids": ids},
    )


_CAP_LOCK_SPACE = 0x5041_5452  # "PATR": the frequency caps' advisory locks


def marketing_history(
    *, session: Session, customer_ids: Iterable[int], since: datetime
) -> dict[int, list[tuple[datetime, str]]]:
    """(sent_at, channel) of marketing messages sent, or being sent, to these customers
    since ``since``: what the frequency caps count."""
    ids = sorted(set(customer_ids))
    found: dict[int, list[tuple[datetime, str]]] = {cid: [] for cid in ids}
    if not ids:
        return found
    counted = (
        MessageStatus.SENDING,
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
        MessageStatus.BOUNCED,
    )
    rows = session.execute(
        select(M.c.customer_id, M.c.sent_at, M.c.channel).where(
            M.c.customer_id.in_(ids),
            M.c.sent_at >= since,
            M.c.purpose == Purpose.MARKETING,
            M.c.status.in_(counted),
        )
    )
    for cid, at, channel in rows:
        found[cid].append((at, channel))
    return found


# ------------------------------------------------------------------------------ decisions


def _ours(message_id: int, token: str) -> ColumnElement[bool]:
    return and_(M.c.id == message_id, M.c.claim_token == token, M.c.status == MessageStatus.SENDING)


_RELEASE = {"claim_token": None, "claimed_until": None, "handed_over_at": None}


def approve(*, session: Session, message_ids: Sequence[int], token: str, now: datetime) -> None:
    """These messages passed the send-time checks: from now on they count for the caps."""
    if message_ids:
        session.execute(
            update(M)
            .where(
                M.c.id.in_(sorted(message_ids)),
                M.c.claim_token == token,
                M.c.status == MessageStatus.SENDING,
            )
            .values(sent_at=now, reason=None)
        )


def skip(
    *,
    session: Session,
    message_id: int,
    token: str,
    reason: str,
    now: datetime,
    detail: str | None = None,
) -> None:
    session.execute(
        update(M)
        .where(_ours(message_id, token))
        .values(
            status=MessageStatus.SKIPPED,
            reason=reason,
            detail=detail,
            finished_at=now,
            sent_at=None,
            **_RELEASE,
        )
    )


def defer(*, session: Session, message_id: int, token: str, until: datetime, reason: str) -> None:
    """Back to the queue until ``until`` (quiet hours, a provider's budget): not an attempt."""
    session.execute(
        update(M)
        .where(_ours(message_id, token))
        .values(
            status=MessageStatus.QUEUED,
            next_attempt_at=until,
            reason=reason,
            sent_at=None,
            published_at=None,
            **_RELEASE,
        )
    )


# The statements of every message's hand-over and outcome, built once: the dispatcher runs
# them for each message, and building a statement costs more CPU than running it.
_THIS_CLAIM = and_(
    M.c.id == bindparam("p_message_id"),
    M.c.claim_token == bindparam("p_token"),
    M.c.status == MessageStatus.SENDING,
)
_HAND_OVER = (
    update(M)
    .where(_THIS_CLAIM)
    .values(handed_over_at=bindparam("p_now"), provider=bindparam("p_provider"))
)
_ATTEMPT = insert(A).values(
    message_id=bindparam("p_message_id"),
    number=select(func.coalesce(func.max(A.c.number), 0) + 1)
    .where(A.c.message_id == bindparam("p_message_id"))
    .scalar_subquery(),
    provider=bindparam("p_provider"),
    started_at=bindparam("p_started_at"),
    finished_at=bindparam("p_now"),
    outcome=bindparam("p_outcome"),
    code=bindparam("p_code"),
    detail=bindparam("p_detail"),
    provider_message_id=bindparam("p_provider_message_id"),
)
_OUTCOME_COMMON: dict[str, Any] = {
    "status": bindparam("p_status"),
    "attempts": M.c.attempts + 1,
    "reason": bindparam("p_reason"),
    "detail": bindparam("p_message_detail"),
    "provider": bindparam("p_provider"),
    **_RELEASE,
}
_BACK_TO_QUEUE = (
    update(M)
    .where(_THIS_CLAIM)
    .values(
        **_OUTCOME_COMMON,
        next_attempt_at=bindparam("p_next_attempt_at"),
        sent_at=None,
        published_at=None,
    )
)
_SENT = (
    update(M)
    .where(_THIS_CLAIM)
    .values(
        **_OUTCOME_COMMON,
        finished_at=bindparam("p_now"),
        provider_message_id=func.coalesce(
            bindparam("p_provider_message_id"), M.c.provider_message_id
        ),
    )
)
_FAILED = (
    update(M)
    .where(_THIS_CLAIM)
    .values(**_OUTCOME_COMMON, finished_at=bindparam("p_now"), sent_at=None)
)


_NEXT_CLAIM = and_(
    M.c.id == bindparam("next_id"),
    M.c.claim_token == bindparam("next_token"),
    M.c.status == MessageStatus.SENDING,
)
# On PostgreSQL, one statement records a sent message and hands the next one over: data-
# modifying CTEs run whether or not the main statement reads them (one round trip for three).
_SENT_THEN_HAND_OVER = (
    update(M)
    .where(_NEXT_CLAIM)
    .values(handed_over_at=bindparam("next_now"), provider=bindparam("next_provider"))
    .add_cte(_ATTEMPT.cte("attempt"))
    .add_cte(_SENT.cte("previous"))
)


def mark_handed_over(
    *,
    session: Session,
    message_id: int,
    token: str,
    provider: str,
    now: datetime,
    sent: dict[str, Any] | None = None,
) -> bool:
    """Record that the request is about to reach ``provider`` whole (see channels/base.py);
    False when the claim is no longer ours, and then nothing may be sent. ``sent``, the
    arguments of a :func:`record_attempt` of a message sent just before, is recorded in the
    same statement where the database allows it."""
    conn = session.connection()
    if sent is not None and conn.dialect.name == "postgresql":
        params = _attempt_params(**sent)
        params.update(next_id=message_id, next_token=token, next_now=now, next_provider=provider)
        return bool(conn.execute(_SENT_THEN_HAND_OVER, params).rowcount)
    if sent is not None:
        record_attempt(session=session, **sent)
    result = conn.execute(
        _HAND_OVER,
        {"p_message_id": message_id, "p_token": token, "p_now": now, "p_provider": provider},
    )
    return bool(result.rowcount)


def _next_number(message_id: int) -> Any:
    """The next attempt's number, computed in the INSERT itself (one round trip)."""
    return (
        select(func.coalesce(func.max(A.c.number), 0) + 1)
        .where(A.c.message_id == message_id)
        .scalar_subquery()
    )


def _attempt_params(
    *,
    message_id: int,
    token: str,
    provider: str,
    started_at: datetime,
    now: datetime,
    outcome: str,
    code: str | None,
    detail: str | None,
    provider_message_id: str | None,
    status: MessageStatus,
    reason: str | None = None,
    next_attempt_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "p_message_id": message_id,
        "p_token": token,
        "p_provider": provider,
        "p_started_at": started_at,
        "p_now": now,
        "p_outcome": outcome,
        "p_code": code,
        "p_detail": detail,
        "p_provider_message_id": provider_message_id,
        "p_status": str(status),
        "p_reason": reason,
        "p_message_detail": None if status == MessageStatus.SENT else detail,
        "p_next_attempt_at": next_attempt_at or now,
    }


def record_attempt(
    *,
    session: Session,
    message_id: int,
    token: str,
    provider: str,
    started_at: datetime,
    now: datetime,
    outcome: str,
    code: str | None,
    detail: str | None,
    provider_message_id: str | None,
    status: MessageStatus,
    reason: str | None = None,
    next_attempt_at: datetime | None = None,
) -> bool:
    """The attempt on its own row, and the message's new status: ``queued`` again (with
    ``next_attempt_at``) or final. Returns False when the claim had been taken back meanwhile
    (the attempt is still recorded)."""
    conn = session.connection()
    params = _attempt_params(
        message_id=message_id,
        token=token,
        provider=provider,
        started_at=started_at,
        now=now,
        outcome=outcome,
        code=code,
        detail=detail,
        provider_message_id=provider_message_id,
        status=status,
        reason=reason,
        next_attempt_at=next_attempt_at,
    )
    conn.execute(_ATTEMPT, params)
    if status == MessageStatus.QUEUED:
        statement = _BACK_TO_QUEUE
    elif status == MessageStatus.SENT:
        statement = _SENT
    else:
        statement = _FAILED
    return bool(conn.execute(statement, params).rowcount)


# ------------------------------------------------------------------------------ stalled claims


def sweep_stalled(
    *, session: Session, now: datetime, idempotent_providers: Iterable[str] = ()
) -> dict[str, int]:
    """Take back claims whose lease ran out (their worker was killed or hung).

    Not handed over: nothing reached a provider, so the message goes back to the queue.
    Handed over: the provider had the whole request, so the message was sent; it is marked
    sent (reason ``unconfirmed``) and never sent again — unless its provider drops repeats
    of the same key, when it is simply sent again to learn the outcome.
    """
    stalled = and_(M.c.status == MessageStatus.SENDING, M.c.claimed_until < now)
    resend = M.c.provider.in_(sorted(set(idempotent_providers)))
    requeued = session.execute(
        update(M)
        .where(stalled, or_(M.c.handed_over_at.is_(None), resend))
        .values(
            status=MessageStatus.QUEUED,
            next_attempt_at=now,
            sent_at=None,
            published_at=None,
            attempts=case((M.c.handed_over_at.is_(None), M.c.attempts), else_=M.c.attempts + 1),
            **_RELEASE,
        )
    ).rowcount  # type: ignore[attr-defined]
    unconfirmed = session.execute(
        select(M.c.id, M.c.provider, M.c.handed_over_at).where(
            stalled, M.c.handed_over_at.is_not(None)
        )
    ).all()
    for message_id, provider, handed_over_at in unconfirmed:
        session.execute(
            insert(A).values(
                message_id=message_id,
                number=_next_number(message_id),
                provider=provider or "unknown",
                started_at=handed_over_at,
                finished_at=now,
                outcome="unconfirmed",
                code="worker_stopped",
                detail="the worker stopped after handing the message over",
            )
        )
    if unconfirmed:
        session.execute(
            update(M)
            .where(M.c.id.in_([row[0] for row in unconfirmed]), stalled)
            .values(
                status=MessageStatus.SENT,
                reason="unconfirmed",
                finished_at=now,
                attempts=M.c.attempts + 1,
                claim_token=None,
                claimed_until=None,
            )
        )
    return {"requeued": int(requeued or 0), "unconfirmed": len(unconfirmed)}


# ------------------------------------------------------------------------------ publishing


def publish_due(
    *, session: Session, now: datetime, limit: int, republish_after_s: float
) -> list[int]:
    """Ids of due queued messages for the job queue, marked published so the next relay pass
    does not publish them again (unless they are still queued ``republish_after_s`` later: a
    job lost with its broker). Publishing twice is harmless: a job claims before it sends."""
    stale = now - timedelta(seconds=republish_after_s)
    due = (
        select(M.c.id)
        .where(
            M.c.status == MessageStatus.QUEUED,
            M.c.next_attempt_at <= now,
            or_(M.c.published_at.is_(None), M.c.published_at < stale),
        )
        .order_by(M.c.next_attempt_at, M.c.priority.desc(), M.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = session.execute(
        update(M)
        .where(M.c.id.in_(due.scalar_subquery()))
        .values(published_at=now)
        .returning(M.c.id)
    )
    return sorted(row[0] for row in rows)
