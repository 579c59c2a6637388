"""Service tickets, SLA policies and report, and surveys over HTTP (docs/support.md).

Store-bound keys see and change only their stores' tickets; another store's ticket is
"not found". The public survey page is in support/pages/public.py, not here.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from patron.catalog import service as catalog
from patron.core.schemas import MAX_ID
from patron.core.settings import get_settings
from patron.staff import service as staff
from patron.support import sla
from patron.support.surveys import results as survey_results
from patron.support.surveys import service as surveys
from patron.support.surveys.schemas import (
    Invitation,
    InviteIn,
    SurveyCreate,
    SurveyRead,
    SurveyResults,
)
from patron.support.tickets import attachments, money
from patron.support.tickets import service as tickets
from patron.support.tickets.models import Priority, TicketStatus, TicketType
from patron.support.tickets.schemas import (
    AssignIn,
    AttachmentRead,
    CategoryIn,
    CategoryRead,
    EntryIn,
    EntryRead,
    ExchangeIn,
    ExchangeRead,
    RepairIn,
    RepairRead,
    ReturnRead,
    SlaPolicyIn,
    SlaPolicyRead,
    TicketCreate,
    TicketDetail,
    TicketFilter,
    TicketRead,
    TransitionIn,
)
from patron.web.deps import Db, PathId
from patron.web.security import CurrentActor

router = APIRouter(prefix="/api/v1", tags=["support"])


@router.post("/tickets", response_model=TicketRead, status_code=201)
def open_ticket(ticket_in: TicketCreate, actor: CurrentActor, db: Db) -> TicketRead:
    return db.write(lambda s: tickets.open_ticket(session=s, ticket_in=ticket_in, actor=actor))


@router.get("/tickets", response_model=list[TicketRead])
def list_tickets(
    actor: CurrentActor,
    db: Db,
    status: TicketStatus | None = None,
    open_only: bool = False,
    ticket_type: TicketType | None = None,
    priority: Priority | None = None,
    store_code: Annotated[str | None, Query(max_length=32)] = None,
    assignee_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    unassigned: bool = False,
    customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[TicketRead]:
    filters = TicketFilter(
        status=status, open_only=open_only, ticket_type=ticket_type, priority=priority,
        store_code=store_code, assignee_id=assignee_id, unassigned=unassigned,
        customer_id=customer_id, limit=limit,
    )  # fmt: skip
    return db.read(lambda s: tickets.list_tickets(session=s, filters=filters, actor=actor))


@router.get("/tickets/{ticket_id}", response_model=TicketDetail)
def get_ticket(ticket_id: PathId, actor: CurrentActor, db: Db) -> TicketDetail:
    return db.read(lambda s: tickets.get_ticket(session=s, ticket_id=ticket_id, actor=actor))


@router.post("/tickets/{ticket_id}/status", response_model=TicketRead)
def move_ticket(
    ticket_id: PathId, transition_in: TransitionIn, actor: CurrentActor, db: Db
) -> TicketRead:
    return db.write(
        lambda s: tickets.transition(
            session=s, ticket_id=ticket_id, transition_in=transition_in, actor=actor
        )
    )


@router.post("/tickets/{ticket_id}/assign", response_model=TicketRead)
def assign_ticket(
    ticket_id: PathId, assign_in: AssignIn, actor: CurrentActor, db: Db
) -> TicketRead:
    return db.write(
        lambda s: tickets.assign(session=s, ticket_id=ticket_id, assign_in=assign_in, actor=actor)
    )


@router.post("/tickets/{ticket_id}/entries", response_model=EntryRead, status_code=201)
def add_entry(ticket_id: PathId, entry_in: EntryIn, actor: CurrentActor, db: Db) -> EntryRead:
    return db.write(
        lambda s: tickets.add_entry(session=s, ticket_id=ticket_id, entry_in=entry_in, actor=actor)
    )


@router.post("/tickets/{ticket_id}/attachments", response_model=AttachmentRead, status_code=201)
async def add_attachment(
    ticket_id: PathId,
    request: Request,
    actor: CurrentActor,
    db: Db,
    name: Annotated[str, Query(min_length=1, max_length=200)] = "photo",
) -> AttachmentRead:
    """The photo as the request's body (image/jpeg, image/png or image/webp, ≤ 5 MB)."""
    content = bytearray()
    async for chunk in request.stream():
        content += chunk
        if len(content) > attachments.MAX_BYTES:
            break
    body = bytes(content)
    return db.write(
        lambda s: attachments.add_attachment(
            session=s, ticket_id=ticket_id, file_name=name, content=body, actor=actor
        )
    )


@router.get("/tickets/{ticket_id}/attachments/{attachment_id}")
def get_attachment(
    ticket_id: PathId, attachment_id: PathId, actor: CurrentActor, db: Db
) -> Response:
    photo = db.read(
        lambda s: attachments.get_attachment(
            session=s, ticket_id=ticket_id, attachment_id=attachment_id, actor=actor
        )
    )
    return FileResponse(
        photo.path, media_type=photo.content_type, headers={"cache-control": "private, no-store"}
    )


@router.post("/tickets/{ticket_id}/refund", response_model=ReturnRead)
def approve_return(ticket_id: PathId, actor: CurrentActor, db: Db) -> ReturnRead:
    """Approve a return: the refund goes through the orders service, once."""
    return db.write(lambda s: money.approve_return(session=s, ticket_id=ticket_id, actor=actor))


@router.post("/tickets/{ticket_id}/exchange", response_model=ExchangeRead)
def exchange(
    ticket_id: PathId, exchange_in: ExchangeIn, actor: CurrentActor, db: Db
) -> ExchangeRead:
    return db.write(
        lambda s: money.exchange(
            session=s, ticket_id=ticket_id, lines=exchange_in.lines, actor=actor
        )
    )


@router.put("/tickets/{ticket_id}/repair", response_model=RepairRead)
def update_repair(
    ticket_id: PathId, repair_in: RepairIn, actor: CurrentActor, db: Db
) -> RepairRead:
    return db.write(
        lambda s: money.update_repair(
            session=s, ticket_id=ticket_id, repair_in=repair_in, actor=actor
        )
    )


@router.get("/ticket-categories", response_model=list[CategoryRead])
def list_categories(db: Db) -> list[CategoryRead]:
    return db.read(lambda s: tickets.list_categories(session=s))


@router.post("/ticket-categories", response_model=CategoryRead, status_code=201)
def create_category(category_in: CategoryIn, actor: CurrentActor, db: Db) -> CategoryRead:
    return db.write(
        lambda s: tickets.create_category(session=s, category_in=category_in, actor=actor)
    )


@router.get("/sla-policies", response_model=list[SlaPolicyRead])
def list_policies(db: Db) -> list[SlaPolicyRead]:
    return db.read(lambda s: sla.list_policies(session=s))


@router.post("/sla-policies", response_model=SlaPolicyRead)
def save_policy(policy_in: SlaPolicyIn, actor: CurrentActor, db: Db) -> SlaPolicyRead:
    return db.write(lambda s: sla.save_policy(session=s, policy_in=policy_in, actor=actor))


_EARLIEST, _LATEST = date(1900, 1, 1), date(9000, 12, 31)


def _clamp(day: date) -> date:
    return min(max(day, _EARLIEST), _LATEST)


def period(since: date | None, until: date | None) -> tuple[datetime, datetime]:
    """Days in the shop's zone, both included; the last 30 days when left out."""
    zone = get_settings().zone
    # A date near the calendar's ends cannot become an instant: a report from 0001-01-01
    # means "from the start", one to 9999-12-31 "to the end".
    last = _clamp(until or datetime.now(zone).date())
    first = _clamp(since or last - timedelta(days=29))
    return (
        datetime.combine(first, time(0), zone),
        datetime.combine(last + timedelta(days=1), time(0), zone),
    )


@router.get("/sla/report")
def sla_report(
    actor: CurrentActor, db: Db, since: date | None = None, until: date | None = None
) -> dict[str, object]:
    """Met %, median working minutes to the first reply and to resolution: overall and by
    store, type and agent, of the tickets opened in the period."""
    start, end = period(since, until)
    report = db.read(
        lambda s: sla.sla_report(session=s, since=start, until=end, store_ids=actor.store_ids)
    )
    return report_json(report)


def report_json(report: sla.SlaReport) -> dict[str, object]:
    def group(g: sla.SlaGroup) -> dict[str, object]:
        return {
            "key": g.key, "tickets": g.tickets, "judged": g.judged, "met": g.met,
            "met_percent": g.met_percent, "median_reply_minutes": g.median_reply_minutes,
            "median_resolve_minutes": g.median_resolve_minutes,
        }  # fmt: skip

    return {
        "since": report.since.isoformat(),
        "until": report.until.isoformat(),
        "overall": group(report.overall),
        "by_store": [group(g) for g in report.by_store],
        "by_type": [group(g) for g in report.by_type],
        "by_agent": [group(g) for g in report.by_agent],
    }


@router.get("/surveys", response_model=list[SurveyRead])
def list_surveys(db: Db) -> list[SurveyRead]:
    return db.read(lambda s: surveys.list_surveys(session=s))


@router.post("/surveys", response_model=SurveyRead, status_code=201)
def create_survey(survey_in: SurveyCreate, actor: CurrentActor, db: Db) -> SurveyRead:
    return db.write(lambda s: surveys.create_survey(session=s, survey_in=survey_in, actor=actor))


@router.post("/surveys/{code}/invitations", response_model=list[Invitation], status_code=201)
def invite(code: str, invite_in: InviteIn, actor: CurrentActor, db: Db) -> list[Invitation]:
    """Send the survey to a list; each link is shown once, here."""
    return db.write(
        lambda s: surveys.invite(
            session=s, code=code, customer_ids=invite_in.customer_ids, actor=actor
        )
    )


@router.get("/surveys/{code}/results", response_model=SurveyResults)
def results(
    code: str, actor: CurrentActor, db: Db, since: date | None = None, until: date | None = None
) -> SurveyResults:
    start, end = period(since, until)
    return db.read(lambda s: results_of(s, code, start, end, actor.store_ids))


def results_of(
    session: Session, code: str, start: datetime, end: datetime, store_ids: frozenset[int] | None
) -> SurveyResults:
    names = {p.id: p.display_name for p in staff.list_staff(session=session)}
    stores = catalog.store_codes_by_id(session=session)
    return survey_results.survey_results(
        session=session, code=code, since=start, until=end, store_ids=store_ids, names=names,
        stores=stores,
    )  # fmt: skip
