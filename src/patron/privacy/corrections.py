"""Correction requests answered (docs/privacy.md, "Correction"): an identifier corrected
through ``customers.correction``, with the request named in its history; the request moves
to in progress and is closed by the officer with the outcome."""

from __future__ import annotations

from sqlalchemy.orm import Session

from patron.core.actor import Actor
from patron.customers.correction import correct_identity
from patron.customers.schemas import IdentityCorrectionIn, IdentityCorrectionRead
from patron.privacy.exceptions import NotACorrection, RequestClosed
from patron.privacy.models import OPEN_STATUSES, RequestKind, RequestStatus
from patron.privacy.requests import _get_row_or_raise


def correct_for_request(
    *, session: Session, request_id: int, correction_in: IdentityCorrectionIn, actor: Actor
) -> IdentityCorrectionRead:
    row = _get_row_or_raise(session, request_id)
    if row.kind != RequestKind.CORRECTION:
        raise NotACorrection(request_id, row.kind)
    if row.status not in OPEN_STATUSES:
        raise RequestClosed(request_id, row.status)
    done = correct_identity(
        session=session,
        customer_id=row.customer_id,
        correction_in=correction_in,
        actor=actor,
        request_id=request_id,
    )
    if row.status == RequestStatus.NEW:
        row.status = RequestStatus.IN_PROGRESS
        row.handler = actor.label[:120]
    session.flush()
    return done
