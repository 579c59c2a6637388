"""Data-subject requests: recorded with who asked and how their identity was checked, due
a number of working days after receipt (``PATRON_PRIVACY_REQUEST_WORKING_DAYS``, 15 by
default, counted on the chain's business calendar with China's public holidays and adjusted
working days), moved new → in progress → done or refused, every step audited."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.settings import get_settings
from patron.customers import service as customers
from patron.privacy.exceptions import PrivacyRequestNotFound, RequestClosed
from patron.privacy.models import OPEN_STATUSES, PrivacyRequest, RequestStatus
from patron.privacy.schemas import PrivacyRequestChange, PrivacyRequestCreate, PrivacyRequestRead
from patron.support.calendars import calendar_for_store
from patron.support.workingtime import BusinessCalendar

_MAX_DAYS = 3660  # a calendar with no working day in ten years is a broken calendar


def add_working_days(calendar: BusinessCalendar, start: date, days: int) -> date:
    """The ``days``-th working day after ``start`` (``start`` itself not counted): a day
    with opening hours on ``calendar``, so public holidays are skipped and adjusted
    working days (调休) count."""
    on, counted = start, 0
    for _ in range(_MAX_DAYS):
        on += timedelta(days=1)
        if calendar.day(on).hours:
            counted += 1
            if counted >= days:
                return on
    raise ValueError(f"no {days} working days within {_MAX_DAYS} days of {start}")


def due_date(*, session: Session, received_at: datetime, working_days: int | None = None) -> date:
    """When a request received at ``received_at`` must be answered by."""
    calendar = calendar_for_store(session=session, store_id=None)
    received_on = received_at.astimezone(calendar.zone).date()
    days = working_days or get_settings().privacy_request_working_days
    return add_working_days(calendar, received_on, days)


def _read(row: PrivacyRequest, today: date | None = None) -> PrivacyRequestRead:
    read = PrivacyRequestRead.model_validate(row)
    today = today or utcnow().astimezone(get_settings().zone).date()
    read.overdue = row.status in OPEN_STATUSES and row.due_on < today
    return read


def record_request(
    *, session: Session, request_in: PrivacyRequestCreate, actor: Actor
) -> PrivacyRequestRead:
    """A request received: the customer must exist; the due date follows the working-day
    rule unless the request names one."""
    customers.get_customer_or_raise(session=session, customer_id=request_in.customer_id)
    received_at = request_in.received_at or utcnow()
    row = PrivacyRequest(
        customer_id=request_in.customer_id,
        kind=request_in.kind,
        status=RequestStatus.NEW,
        requested_by=request_in.requested_by,
        channel=request_in.channel,
        verification=request_in.verification,
        details=request_in.details,
        received_at=received_at,
        due_on=request_in.due_on or due_date(session=session, received_at=received_at),
        created_by=actor.name[:120],
    )
    session.add(row)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="privacy.request.create",
        target_kind="customer",
        target_id=row.customer_id,
        details={"request_id": row.id, "kind": row.kind, "due_on": row.due_on.isoformat()},
    )
    return _read(row)


def _get_row_or_raise(session: Session, request_id: int) -> PrivacyRequest:
    row = session.get(PrivacyRequest, request_id)
    if row is None:
        raise PrivacyRequestNotFound(request_id)
    return row


def get_request_or_raise(*, session: Session, request_id: int) -> PrivacyRequestRead:
    return _read(_get_row_or_raise(session, request_id))


# Written out, not built from the change: the audit page names each action it can meet.
_ACTIONS = {
    "start": "privacy.request.start",
    "done": "privacy.request.done",
    "refuse": "privacy.request.refuse",
}


def change_request(
    *, session: Session, request_id: int, change: PrivacyRequestChange, actor: Actor
) -> PrivacyRequestRead:
    """Start, finish or refuse a request; a closed request stays closed."""
    row = _get_row_or_raise(session, request_id)
    if row.status not in OPEN_STATUSES:
        raise RequestClosed(request_id, row.status)
    row.handler = actor.name[:120]
    if change.action == "start":
        row.status = RequestStatus.IN_PROGRESS
    else:
        row.status = RequestStatus.DONE if change.action == "done" else RequestStatus.REFUSED
        row.outcome = change.outcome.strip()
        row.closed_at = utcnow()
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action=_ACTIONS[change.action],
        target_kind="customer",
        target_id=row.customer_id,
        reason=row.outcome if change.action != "start" else None,
        details={"request_id": row.id, "kind": row.kind, "status": row.status},
    )
    return _read(row)


def list_requests(
    *,
    session: Session,
    status: str | None = None,
    open_only: bool = False,
    customer_id: int | None = None,
    limit: int = 200,
) -> list[PrivacyRequestRead]:
    """Soonest due first (the queue's order)."""
    query = select(PrivacyRequest).order_by(PrivacyRequest.due_on, PrivacyRequest.id).limit(limit)
    if status:
        query = query.where(PrivacyRequest.status == status)
    if open_only:
        query = query.where(PrivacyRequest.status.in_(OPEN_STATUSES))
    if customer_id is not None:
        query = query.where(PrivacyRequest.customer_id == customer_id)
    today = utcnow().astimezone(get_settings().zone).date()
    return [_read(r, today) for r in session.scalars(query)]


def requests_due_soon(
    *, session: Session, within_days: int, today: date | None = None
) -> list[PrivacyRequestRead]:
    """Open requests due within ``within_days`` of ``today`` (overdue ones included) that
    were not reminded of today yet; each is marked reminded, so a second run the same day
    lists nothing new."""
    today = today or utcnow().astimezone(get_settings().zone).date()
    rows = session.scalars(
        select(PrivacyRequest)
        .where(
            PrivacyRequest.status.in_(OPEN_STATUSES),
            PrivacyRequest.due_on <= today + timedelta(days=within_days),
        )
        .order_by(PrivacyRequest.due_on, PrivacyRequest.id)
    ).all()
    due = [r for r in rows if r.reminded_on is None or r.reminded_on < today]
    for row in due:
        row.reminded_on = today
    session.flush()
    return [_read(r, today) for r in due]
