"""The outbox's content and enqueueing: what a set of messages says, and one outbox row per
recipient, written set-based in the caller's transaction (``service`` re-exports these).

Services take ``session`` keyword-only and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any, cast

import orjson
from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    column,
    func,
    literal,
    null,
    select,
    table,
    union_all,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from patron.core import bulk
from patron.core.clock import utcnow
from patron.core.settings import get_settings
from patron.customers import service as customers
from patron.engagement.exceptions import ContentMismatch, ContentNotFound
from patron.engagement.models import MessageContent, MessageStatus, OutboxMessage
from patron.engagement.schemas import ContentIn, EnqueueResult, MessagesIn

M = cast(Table, OutboxMessage.__table__)

# ------------------------------------------------------------------------------ content


def create_content(*, session: Session, content_in: ContentIn) -> int:
    """Store what a set of messages will say; returns its id for :func:`enqueue_messages`."""
    content = MessageContent(
        channel=content_in.channel, body=content_in.model_dump(exclude={"channel"})
    )
    session.add(content)
    session.flush()
    return content.id


def get_contents(
    *, session: Session, content_ids: Iterable[int]
) -> dict[int, tuple[str, dict[str, Any]]]:
    """(channel, body) of each content, by id."""
    ids = sorted(set(content_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(MessageContent.id, MessageContent.channel, MessageContent.body).where(
            MessageContent.id.in_(ids)
        )
    )
    return {cid: (channel, body) for cid, channel, body in rows}


# ------------------------------------------------------------------------------ enqueueing


def enqueue_messages(*, session: Session, messages_in: MessagesIn) -> EnqueueResult:
    """Write one outbox row per recipient, in the caller's transaction: a campaign's run or a
    journey's step enqueues its messages in the same transaction as its decision, so they
    exist exactly when the decision does.

    A message already enqueued for the same source, customer and channel is left as it is
    (the run was repeated); customers merged away or unknown are left out and named.
    """
    return enqueue_rows(
        session=session,
        messages_in=messages_in,
        rows=[(r.customer_id, r.variables) for r in messages_in.recipients],
    )


_RECIPIENT_COLUMNS = {"customer_id": ("bigint", "INTEGER"), "variables": ("json", "TEXT")}
# Up to this many recipients (a journey's step, a ticket's update: usually one) are written
# from literal rows in the statement itself, without a temporary table's create and drop.
_INLINE_RECIPIENTS = 20


def enqueue_rows(
    *,
    session: Session,
    messages_in: MessagesIn,
    rows: Sequence[tuple[int, dict[str, Any] | None]],
) -> EnqueueResult:
    """:func:`enqueue_messages` for recipients given as plain (customer id, variables)
    tuples, ``messages_in.recipients`` ignored: a campaign's million recipients are written
    set-based — into a temporary table (PostgreSQL ``COPY``, SQLite ``executemany``), then
    one ``INSERT … SELECT`` of the live ones — never an object or a dictionary per row.
    A customer named twice gets the variables of their last mention."""
    _content_channel(session, messages_in)
    wanted = dict(rows)
    if not wanted:
        return EnqueueResult(created=0, already_queued=0, left_out=[])
    if len(wanted) <= _INLINE_RECIPIENTS:
        json_type = M.c.variables.type
        # PostgreSQL types a bare parameter or NULL as text, which a json column refuses;
        # SQLite keeps JSON as text (a CAST to JSON there would make it a number).
        typed = session.get_bind().dialect.name == "postgresql"

        def as_json(value: dict[str, Any] | None) -> ColumnElement[Any]:
            given = null() if value is None else literal(value, type_=json_type)
            return sql_cast(given, json_type) if typed else given

        literal_rows = [
            select(
                literal(cid, type_=M.c.customer_id.type).label("customer_id"),
                as_json(v).label("variables"),
            )
            for cid, v in wanted.items()
        ]
        one = literal_rows[0] if len(literal_rows) == 1 else union_all(*literal_rows)
        given = one.subquery("recipients")
        return _enqueue_from(
            session, messages_in, given.c.customer_id, given.c.variables, total=len(wanted)
        )
    temp = bulk.temporary_table(session, "tmp_recipients", _RECIPIENT_COLUMNS)
    try:
        bulk.insert_tuples(
            session,
            temp,
            ("customer_id", "variables"),
            ((cid, None if v is None else orjson.dumps(v).decode()) for cid, v in wanted.items()),
        )
        t = table(temp, column("customer_id"), column("variables"))
        return _enqueue_from(
            session, messages_in, t.c.customer_id, t.c.variables, total=len(wanted)
        )
    finally:
        bulk.drop_table(session, temp)


def enqueue_selected(
    *, session: Session, messages_in: MessagesIn, customer_ids: Select[Any]
) -> EnqueueResult:
    """:func:`enqueue_messages` for the recipients a query selects (one column, the customer
    id, each at most once; no variables), ``messages_in.recipients`` ignored: a source that
    has already written its recipients (a campaign's members) enqueues them with one
    ``INSERT … SELECT``, without reading them back into Python."""
    _content_channel(session, messages_in)
    picked = customer_ids.subquery("recipients")
    total = int(session.scalar(select(func.count()).select_from(picked)) or 0)
    return _enqueue_from(session, messages_in, next(iter(picked.c)), null(), total=total)


def _content_channel(session: Session, messages_in: MessagesIn) -> None:
    """The content exists and is for the messages' channel."""
    found = get_contents(session=session, content_ids=[messages_in.content_id])
    if messages_in.content_id not in found:
        raise ContentNotFound(
            f"no message content {messages_in.content_id}", content_id=messages_in.content_id
        )
    channel = found[messages_in.content_id][0]
    if channel != messages_in.channel:
        raise ContentMismatch(
            "content_id",
            f"content {messages_in.content_id} is for {channel}, not {messages_in.channel}",
            content_channel=channel,
        )


def _enqueue_from(
    session: Session,
    messages_in: MessagesIn,
    customer_id: ColumnElement[Any],
    variables: ColumnElement[Any],
    *,
    total: int,
) -> EnqueueResult:
    """One ``INSERT … SELECT`` of the messages of the live customers among ``customer_id``
    (a column of a table or subquery of ``total`` rows, with ``variables`` beside it)."""
    now = utcnow()
    send_at = messages_in.send_at or now
    not_after = messages_in.not_after or send_at + timedelta(
        hours=get_settings().message_max_lateness_hours
    )
    live = customers.is_live_customer(customer_id)
    constants = {
        "source_kind": messages_in.source_kind,
        "source_id": messages_in.source_id,
        "channel": messages_in.channel,
        "purpose": messages_in.purpose,
        "content_id": messages_in.content_id,
        "priority": messages_in.priority,
        "status": MessageStatus.QUEUED,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": send_at,
        "not_after": not_after,
    }
    picked = select(
        *(literal(value, type_=M.c[name].type) for name, value in constants.items()),
        customer_id,
        variables,
    ).where(live)
    inserted = session.execute(
        _insert_ignoring(session).from_select([*constants, "customer_id", "variables"], picked),
        # the driver's count of rows inserted (rows already there not counted), which
        # SQLAlchemy otherwise drops for an INSERT … SELECT on psycopg
        execution_options={"preserve_rowcount": True},
    )
    created = int(inserted.rowcount)  # type: ignore[attr-defined]
    # Every one written (a first send): nobody was left out, and no need to look.
    left_out = (
        []
        if created == total
        else sorted(int(cid) for cid in session.scalars(select(customer_id).where(~live)))
    )
    live_count = total - len(left_out)
    return EnqueueResult(created=created, already_queued=live_count - created, left_out=left_out)


def _insert_ignoring(session: Session) -> Any:
    """An INSERT into the outbox that leaves a message already there as it is."""
    keys = ["source_kind", "source_id", "customer_id", "channel"]
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(M).on_conflict_do_nothing(index_elements=keys)
    return sqlite.insert(M).on_conflict_do_nothing(index_elements=keys)
