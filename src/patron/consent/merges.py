"""Consent when two profiles of one person merge, and when the merge is undone
(docs/consent.md, "Merged profiles").

Per channel and purpose, each profile's latest choice is taken and the most restrictive of
them becomes the survivor's: a withdrawal on either profile wins over a grant, and a grant
on the merged profile reaches a survivor that had made no choice. Each change is a new event
in the survivor's ledger (source ``merge``, referring to the merged profile), so the legal
record says why the state moved; the merged profile's own ledger stays as it was. Undoing
the merge gives the survivor back the choice it had before, unless it chose again since.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from patron.consent.models import ConsentEvent, ConsentState
from patron.core.clock import utcnow

MERGE_SOURCE = "merge"
_MOVED = "consent_event"


def _states(session: Session, customer_id: int) -> dict[tuple[str, str], ConsentState]:
    return {
        (s.channel, s.purpose): s
        for s in session.scalars(
            select(ConsentState).where(ConsentState.customer_id == customer_id)
        )
    }


def _record(
    session: Session,
    *,
    customer_id: int,
    key: tuple[str, str],
    granted: bool,
    notice_version: str | None,
    reference: str,
    state: ConsentState | None,
) -> ConsentEvent:
    now = utcnow()
    event = ConsentEvent(
        customer_id=customer_id,
        channel=key[0],
        purpose=key[1],
        granted=granted,
        at=now,
        source=MERGE_SOURCE,
        notice_version=notice_version,
        recorded_by="profile merge",
        reference=reference,
    )
    session.add(event)
    session.flush()
    if state is None:
        session.add(
            ConsentState(
                customer_id=customer_id,
                channel=key[0],
                purpose=key[1],
                granted=granted,
                at=now,
                source=MERGE_SOURCE,
                notice_version=notice_version,
                event_id=event.id,
            )
        )
    else:
        state.granted, state.at, state.source = granted, now, MERGE_SOURCE
        state.notice_version, state.event_id = notice_version, event.id
    return event


def move_customer_records(
    *, session: Session, from_customer_id: int, to_customer_id: int
) -> dict[str, list[int]]:
    """The survivor's consent made the most restrictive of the two profiles' latest
    choices; returns the events recorded, for :func:`restore_customer_records`."""
    survivor = _states(session, to_customer_id)
    merged = _states(session, from_customer_id)
    recorded: list[int] = []
    for key in sorted(merged):
        theirs = merged[key]
        mine = survivor.get(key)
        granted = theirs.granted if mine is None else (mine.granted and theirs.granted)
        if mine is not None and mine.granted == granted:
            continue
        event = _record(
            session,
            customer_id=to_customer_id,
            key=key,
            granted=granted,
            notice_version=theirs.notice_version,
            reference=f"merged {from_customer_id}",
            state=mine,
        )
        recorded.append(event.id)
    session.flush()
    return {_MOVED: recorded} if recorded else {}


def restore_customer_records(
    *,
    session: Session,
    moved: dict[str, list[int]],
    from_customer_id: int,
    to_customer_id: int,
) -> None:
    """Give the survivor back the choices it had before the merge (a choice made since is
    kept), each as a new event of the ledger. Records go back from the survivor
    (``from_customer_id``) to the profile merged into it (``to_customer_id``)."""
    ids = moved.get(_MOVED) or []
    if not ids:
        return
    survivor_id, merged_id = from_customer_id, to_customer_id
    survivor = _states(session, survivor_id)
    for event in session.scalars(select(ConsentEvent).where(ConsentEvent.id.in_(ids))):
        key = (event.channel, event.purpose)
        state = survivor.get(key)
        if state is None or state.event_id != event.id:
            continue  # chosen again since the merge: that choice stands
        before = session.scalar(
            select(ConsentEvent)
            .where(
                ConsentEvent.customer_id == survivor_id,
                ConsentEvent.channel == event.channel,
                ConsentEvent.purpose == event.purpose,
                ConsentEvent.id < event.id,
            )
            .order_by(ConsentEvent.at.desc(), ConsentEvent.id.desc())
            .limit(1)
        )
        if before is None:  # no choice before the merge: none again
            session.execute(delete(ConsentState).where(ConsentState.id == state.id))
            continue
        _record(
            session,
            customer_id=survivor_id,
            key=key,
            granted=before.granted,
            notice_version=before.notice_version,
            reference=f"unmerged {merged_id}",
            state=state,
        )
    session.flush()
