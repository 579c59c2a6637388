"""Erasure requests answered (docs/privacy.md): what blocks them (legal holds, open
after-sales tickets), and the erasure itself — consents withdrawn, the profile anonymised,
the person's data key destroyed — recorded on the request and in the audit log.

The wrapping key is rolled afterwards, outside this transaction
(``customers.encryption.roll_wrapping_key``): the edges call :func:`erase_and_roll`.
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron import analytics, events
from patron.audit.service import record_audit
from patron.consent import service as consent
from patron.consent.schemas import ConsentChange, ConsentIn
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.customers import anonymising
from patron.customers import service as customers
from patron.customers.encryption import roll_wrapping_key
from patron.privacy.exceptions import ErasureHeld, HoldNotFound, NotAnErasure, RequestClosed
from patron.privacy.models import (
    OPEN_STATUSES,
    LegalHold,
    PrivacyRequest,
    RequestKind,
    RequestStatus,
)
from patron.privacy.requests import _get_row_or_raise, _read
from patron.privacy.schemas import ErasureRead, HoldIn, HoldRead
from patron.support.tickets.service import open_tickets_of

log = logging.getLogger(__name__)


def place_hold(*, session: Session, customer_id: int, hold_in: HoldIn, actor: Actor) -> HoldRead:
    """Keep this person's data for now (a dispute, an authority's request): audited."""
    customers.get_customer_or_raise(session=session, customer_id=customer_id)
    row = LegalHold(
        customer_id=customer_id, reason=hold_in.reason.strip(), placed_by=actor.label[:120]
    )
    session.add(row)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="privacy.hold.placed",
        target_kind="customer",
        target_id=customer_id,
        reason=row.reason,
        details={"hold_id": row.id},
    )
    return _hold_read(row)


def lift_hold(*, session: Session, hold_id: int, actor: Actor) -> HoldRead:
    row = session.get(LegalHold, hold_id)
    if row is None or row.lifted_at is not None:
        raise HoldNotFound(hold_id)
    row.lifted_at = utcnow()
    row.lifted_by = actor.label[:120]
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="privacy.hold.lifted",
        target_kind="customer",
        target_id=row.customer_id,
        details={"hold_id": row.id},
    )
    return _hold_read(row)


def _hold_read(row: LegalHold) -> HoldRead:
    return HoldRead(
        kind="legal",
        id=row.id,
        reason=row.reason,
        placed_by=row.placed_by,
        placed_at=row.placed_at,
    )


def erasure_holds(*, session: Session, customer_id: int) -> list[HoldRead]:
    """What blocks erasing this person now: legal holds in force on them (or on a profile
    merged into theirs), and their after-sales tickets still open. A points balance does not
    block: the points stay on the anonymous profile (docs/privacy.md)."""
    root = anonymising.survivor_of(session, customer_id)
    ids = anonymising._with_merged(session, [root])
    holds = [
        _hold_read(h)
        for h in session.scalars(
            select(LegalHold)
            .where(LegalHold.customer_id.in_(ids), LegalHold.lifted_at.is_(None))
            .order_by(LegalHold.id)
        )
    ]
    holds += [
        HoldRead(kind="ticket", id=t, reason=f"ticket {t} is open")
        for t in open_tickets_of(session=session, customer_ids=ids)
    ]
    return holds


def _withdraw_all(session: Session, customer_id: int, actor: Actor) -> None:
    state = consent.get_consent(session=session, customer_id=customer_id, history_limit=0)
    changes = [
        ConsentChange(channel=s.channel, purpose=s.purpose, granted=False)
        for s in state.states
        if s.granted
    ]
    for start in range(0, len(changes), 8):
        consent.record_consent(
            session=session,
            customer_id=customer_id,
            consent_in=ConsentIn(changes=changes[start : start + 8]),
            actor=actor,
        )


def erase(*, session: Session, request_id: int, actor: Actor, outcome: str = "") -> ErasureRead:
    """Answer an erasure request: refused with every reason while something holds it;
    otherwise every marketing consent is withdrawn, the person erased
    (``customers.anonymising.erase_customer``) and the request closed as done."""
    row = _get_row_or_raise(session, request_id)
    if row.kind != RequestKind.ERASURE:
        raise NotAnErasure(request_id, row.kind)
    if row.status not in OPEN_STATUSES:
        raise RequestClosed(request_id, row.status)
    holds = erasure_holds(session=session, customer_id=row.customer_id)
    if holds:
        raise ErasureHeld(
            request_id,
            legal=[h.reason for h in holds if h.kind == "legal"],
            tickets=[h.id for h in holds if h.kind == "ticket"],
        )
    root = anonymising.survivor_of(session, row.customer_id)
    _withdraw_all(session, root, actor)
    person = anonymising._with_merged(session, [root])
    erased_events = events.erase_customer_events(session=session, customer_ids=person)
    erased = anonymising.erase_customer(session=session, customer_id=root)
    row.handler = actor.label[:120]
    row.status = RequestStatus.DONE
    row.outcome = outcome.strip() or "erased: personal data destroyed, sales and points kept"
    row.closed_at = utcnow()
    session.flush()
    counts = {**asdict(erased), "events": erased_events}
    record_audit(
        session=session,
        actor=actor,
        action="privacy.erasure",
        target_kind="customer",
        target_id=erased.customer_id,
        reason=row.outcome,
        details={"request_id": row.id, **counts},
    )
    return ErasureRead(request=_read(row), wrapping_key_rolled=False, **counts)


def erase_and_roll(
    *, db: Database, request_id: int, actor: Actor, outcome: str = ""
) -> ErasureRead:
    """:func:`erase` in one transaction, then the wrapping key rolled so that copies of the
    destroyed key (old backups, freed pages) can no longer be unwrapped."""
    result = db.write(
        lambda s: erase(session=s, request_id=request_id, actor=actor, outcome=outcome)
    )
    archived = _erase_archived(db, result.customer_id)
    rolled = roll_wrapping_key(db=db)
    return result.model_copy(
        update={
            "wrapping_key_rolled": rolled.rolled,
            "note": rolled.note,
            "archived_events": archived,
        }
    )


def _erase_archived(db: Database, customer_id: int) -> int | None:
    """The person's behaviour events in the event archive (the analytics store), deleted
    after the erasure committed; None when the store is busy: the nightly archive run
    deletes them then (:func:`erased_customer_ids`)."""
    person = db.read(lambda s: anonymising._with_merged(s, [customer_id]))
    try:
        return int(analytics.erase_archived_behaviour(customer_ids=person))
    except (analytics.AnalyticsBusy, analytics.AnalyticsStoreUnavailable):
        log.warning("analytics store busy: customer %s's archived events wait", customer_id)
        return None


def erased_customer_ids(*, session: Session) -> list[int]:
    """Every profile erased on request (and those merged into them): the nightly archive
    run deletes their archived behaviour events again, in case the store was busy."""
    roots = session.scalars(
        select(PrivacyRequest.customer_id).where(
            PrivacyRequest.kind == RequestKind.ERASURE,
            PrivacyRequest.status == RequestStatus.DONE,
        )
    )
    return anonymising._with_merged(session, sorted(set(roots)))
