"""The ticket inbox (mine, my store's queue, all I may see; SLA clocks in colour) and the
ticket page: reply, note, move, assign, photos, approve a return."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from patron.catalog import service as catalog
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import PatronError
from patron.staff import service as staff
from patron.staff.roles import Permission as P
from patron.support import sla
from patron.support.pages.titles import (
    CHANNEL_TITLES,
    CLOCK_TITLES,
    ENTRY_TITLES,
    PRIORITY_TITLES,
    STATUS_TITLES,
    TYPE_TITLES,
)
from patron.support.tickets import attachments, money, workflow
from patron.support.tickets import service as tickets
from patron.support.tickets.models import TicketStatus
from patron.support.tickets.schemas import (
    AssignIn,
    EntryIn,
    TicketCreate,
    TicketFilter,
    TicketRead,
    TransitionIn,
)
from patron.web.deps import Db, PathId
from patron.web.forms import error_line, first_error
from patron.web.i18n import N_, _, title_of
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

VIEWS = {"mine": N_("Mine"), "queue": N_("My stores' queue"), "all": N_("All I may see")}
LABELS = {
    "subject": N_("Subject"),
    "customer": N_("Customer's phone"),
    "order_id": N_("Order number"),
    "lines": N_("Order lines"),
    "store_code": N_("Store"),
    "category_code": N_("Category"),
    "staff_id": N_("Assign to"),
    "file": N_("Photo"),
    "body": N_("Text"),
}
Short = Annotated[str, Query(max_length=32)]


def titles() -> dict[str, Any]:
    return {
        "status_title": lambda c: title_of(STATUS_TITLES, c),
        "type_title": lambda c: title_of(TYPE_TITLES, c),
        "priority_title": lambda c: title_of(PRIORITY_TITLES, c),
        "channel_title": lambda c: title_of(CHANNEL_TITLES, c),
        "entry_title": lambda c: title_of(ENTRY_TITLES, c),
        "clock_title": lambda c: title_of(CLOCK_TITLES, c),
    }


def clock(ticket: TicketRead, now: datetime) -> str:
    """The colour of the ticket's most pressing clock."""
    if ticket.status in ("resolved", "closed"):
        return "grey"
    due = ticket.first_reply_due_at if ticket.first_replied_at is None else None
    due = (
        min(d for d in (due, ticket.resolve_due_at) if d)
        if (due or ticket.resolve_due_at)
        else None
    )
    if due is None:
        return "grey"
    if now >= due:
        return "red"
    span = (due - ticket.opened_at).total_seconds()
    return "amber" if span > 0 and (due - now).total_seconds() < span * 0.2 else "green"


@router.get("/tickets", response_class=HTMLResponse)
def inbox(
    request: Request,
    actor: CurrentActor,
    db: Db,
    view: Short = "all",
    status: Short = "",
    ticket_type: Short = "",
    priority: Short = "",
    store_code: Short = "",
    open_only: Short = "1",
) -> Response:
    if view not in VIEWS:
        view = "all"
    filters = TicketFilter.model_validate(
        {
            "status": status if status in STATUS_TITLES else None,
            "ticket_type": ticket_type if ticket_type in TYPE_TITLES else None,
            "priority": priority if priority in PRIORITY_TITLES else None,
            "store_code": store_code.strip() or None,
            "open_only": open_only == "1" and not status,
            "assignee_id": actor.id if view == "mine" and actor.kind == "staff" else None,
            "unassigned": view == "queue",
            "limit": 200,
        }
    )
    found = db.read(lambda s: tickets.list_tickets(session=s, filters=filters, actor=actor))
    stores = db.read(lambda s: catalog.list_stores(session=s))
    now = utcnow()
    query = {"status": status, "ticket_type": ticket_type, "priority": priority,
             "store_code": store_code, "open_only": open_only}  # fmt: skip
    context: dict[str, Any] = {
        "actor": actor,
        "tickets": [(t, clock(t, now)) for t in found],
        "view": view,
        "views": VIEWS,
        "filters": query,
        "view_url": lambda v: "/tickets?" + urlencode({**query, "view": v}),
        "statuses": STATUS_TITLES,
        "types": TYPE_TITLES,
        "priorities": PRIORITY_TITLES,
        "stores": [s for s in stores if actor.sees_store(s.id)],
        "may_open": actor.can(P.TICKETS_WRITE),
        **titles(),
    }
    return TEMPLATES.TemplateResponse(request, "support/inbox.html", context)


def _new_page(
    request: Request, actor: Actor, db: Database, form: dict[str, str], error: str | None = None
) -> Response:
    stores = db.read(lambda s: catalog.list_stores(session=s))
    categories = db.read(lambda s: tickets.list_categories(session=s))
    context: dict[str, Any] = {
        "actor": actor,
        "form": form,
        "error": error,
        "types": TYPE_TITLES,
        "priorities": PRIORITY_TITLES,
        "channels": {k: v for k, v in CHANNEL_TITLES.items() if k != "survey"},
        "stores": [s for s in stores if actor.sees_store(s.id)],
        "categories": categories,
    }
    return TEMPLATES.TemplateResponse(
        request, "support/new.html", context, status_code=422 if error else 200
    )


@router.get("/tickets/new", response_class=HTMLResponse)
def new_ticket(
    request: Request,
    actor: CurrentActor,
    db: Db,
    order_id: Short = "",
    phone: Short = "",
    ticket_type: Short = "complaint",
) -> Response:
    form = {"order_id": order_id, "phone": phone, "ticket_type": ticket_type,
            "priority": "normal", "channel": "store"}  # fmt: skip
    return _new_page(request, actor, db, form)


def _lines(text: str) -> list[dict[str, str]]:
    """ "1, 2x3" → line 1 (one piece) and line 2 (three)."""
    found = []
    for part in text.replace("，", ",").split(","):
        if part.strip():
            line_no, _x, quantity = part.strip().lower().partition("x")
            found.append({"line_no": line_no.strip(), "quantity": quantity.strip() or "1"})
    return found


@router.post("/tickets", response_class=HTMLResponse)
def create_ticket(
    request: Request,
    actor: CurrentActor,
    db: Db,
    ticket_type: Annotated[str, Form(max_length=16)] = "complaint",
    subject: Annotated[str, Form(max_length=300)] = "",
    description: Annotated[str, Form(max_length=10_000)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
    order_id: Annotated[str, Form(max_length=20)] = "",
    lines: Annotated[str, Form(max_length=200)] = "",
    store_code: Annotated[str, Form(max_length=32)] = "",
    priority: Annotated[str, Form(max_length=16)] = "normal",
    channel: Annotated[str, Form(max_length=16)] = "store",
    category_code: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    form = {"ticket_type": ticket_type, "subject": subject, "description": description,
            "phone": phone, "order_id": order_id, "lines": lines, "store_code": store_code,
            "priority": priority, "channel": channel, "category_code": category_code}  # fmt: skip
    try:
        ticket_in = TicketCreate.model_validate(
            {
                "ticket_type": ticket_type,
                "subject": subject.strip(),
                "description": description.strip(),
                "customer": {"phone": phone.strip()} if phone.strip() else {},
                "order_id": order_id.strip() or None,
                "lines": _lines(lines),
                "store_code": store_code.strip() or None,
                "priority": priority,
                "channel": channel,
                "category_code": category_code.strip() or None,
            }
        )
        opened = db.write(
            lambda s: tickets.open_ticket(session=s, ticket_in=ticket_in, actor=actor)
        )
    except ValidationError as exc:
        return _new_page(request, actor, db, form, first_error(exc, LABELS))
    except PatronError as exc:
        return _new_page(request, actor, db, form, error_line(exc, LABELS))
    return RedirectResponse(f"/tickets/{opened.id}?done=opened", status_code=303)


def _ticket_page(
    request: Request,
    actor: Actor,
    db: Database,
    ticket_id: int,
    *,
    error: str | None = None,
    done: str | None = None,
) -> Response:
    detail = db.read(lambda s: tickets.get_ticket(session=s, ticket_id=ticket_id, actor=actor))
    events = db.read(lambda s: sla.events_of(session=s, ticket_id=ticket_id))
    people = db.read(lambda s: staff.list_staff(session=s))
    code = detail.store_code
    assignable = [
        p for p in people
        if p.is_active and (p.role not in ("store_manager", "cashier") or code in p.store_codes)
    ]  # fmt: skip
    nexts = sorted(
        workflow.NEXT[TicketStatus(detail.status)] - {TicketStatus.ASSIGNED},
        key=list(TicketStatus).index,
    )
    context: dict[str, Any] = {
        "actor": actor,
        "t": detail,
        "clock": clock(detail, utcnow()),
        "events": events,
        "assignable": assignable,
        "next_statuses": [str(s) for s in nexts],
        "may_write": actor.can(P.TICKETS_WRITE),
        "may_refund": actor.can(P.REFUNDS_WRITE)
        and detail.ticket_type == "return"
        and detail.order_id is not None
        and detail.refund_id is None,
        "error": error,
        "done": done,
        **titles(),
    }
    return TEMPLATES.TemplateResponse(
        request, "support/ticket.html", context, status_code=422 if error else 200
    )


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
def ticket_page(
    request: Request, ticket_id: PathId, actor: CurrentActor, db: Db, done: Short = ""
) -> Response:
    return _ticket_page(request, actor, db, ticket_id, done=done or None)


def _after(
    request: Request, actor: Actor, db: Database, ticket_id: int, done: str, work: Any
) -> Response:
    """Run ``work`` in a transaction; back to the ticket, or its page with the error."""
    try:
        db.write(work)
    except ValidationError as exc:
        return _ticket_page(request, actor, db, ticket_id, error=first_error(exc, LABELS))
    except PatronError as exc:
        if exc.code == "ticket_not_found":
            raise
        if exc.code == "ticket_transition_refused":  # the statuses by their titles
            facts = {k: title_of(STATUS_TITLES, str(v)) for k, v in exc.facts.items()}
            text = _("a ticket %(current)s cannot become %(wanted)s", **facts)
            return _ticket_page(request, actor, db, ticket_id, error=text)
        return _ticket_page(request, actor, db, ticket_id, error=error_line(exc, LABELS))
    return RedirectResponse(f"/tickets/{ticket_id}?done={done}", status_code=303)


@router.post("/tickets/{ticket_id}/entries", response_class=HTMLResponse)
def add_entry(
    request: Request,
    ticket_id: PathId,
    actor: CurrentActor,
    db: Db,
    kind: Annotated[str, Form(max_length=8)] = "reply",
    body: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    def work(s: Any) -> None:
        entry_in = EntryIn.model_validate({"kind": kind, "body": body.strip()})
        tickets.add_entry(session=s, ticket_id=ticket_id, entry_in=entry_in, actor=actor)

    return _after(request, actor, db, ticket_id, kind, work)


@router.post("/tickets/{ticket_id}/status", response_class=HTMLResponse)
def move(
    request: Request,
    ticket_id: PathId,
    actor: CurrentActor,
    db: Db,
    status: Annotated[str, Form(max_length=24)] = "",
    note: Annotated[str, Form(max_length=2_000)] = "",
) -> Response:
    def work(s: Any) -> None:
        change = TransitionIn.model_validate({"status": status, "note": note.strip()})
        tickets.transition(session=s, ticket_id=ticket_id, transition_in=change, actor=actor)

    return _after(request, actor, db, ticket_id, "moved", work)


@router.post("/tickets/{ticket_id}/assign", response_class=HTMLResponse)
def assign(
    request: Request,
    ticket_id: PathId,
    actor: CurrentActor,
    db: Db,
    staff_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    def work(s: Any) -> None:
        assign_in = AssignIn.model_validate({"staff_id": staff_id.strip() or None})
        tickets.assign(session=s, ticket_id=ticket_id, assign_in=assign_in, actor=actor)

    return _after(request, actor, db, ticket_id, "assigned", work)


@router.post("/tickets/{ticket_id}/refund", response_class=HTMLResponse)
def refund(request: Request, ticket_id: PathId, actor: CurrentActor, db: Db) -> Response:
    def work(s: Any) -> None:
        money.approve_return(session=s, ticket_id=ticket_id, actor=actor)

    return _after(request, actor, db, ticket_id, "refunded", work)


@router.post("/tickets/{ticket_id}/photos", response_class=HTMLResponse)
async def add_photo(request: Request, ticket_id: PathId, actor: CurrentActor, db: Db) -> Response:
    form = await request.form()
    upload = form.get("file")
    content, name = b"", "photo"
    if upload is not None and not isinstance(upload, str):
        content = await upload.read(attachments.MAX_BYTES + 1)
        name = upload.filename or name

    def work(s: Any) -> None:
        attachments.add_attachment(
            session=s, ticket_id=ticket_id, file_name=name, content=content, actor=actor
        )

    return _after(request, actor, db, ticket_id, "photo", work)


@router.get("/tickets/{ticket_id}/photos/{attachment_id}")
def photo(ticket_id: PathId, attachment_id: PathId, actor: CurrentActor, db: Db) -> Response:
    found = db.read(
        lambda s: attachments.get_attachment(
            session=s, ticket_id=ticket_id, attachment_id=attachment_id, actor=actor
        )
    )
    return FileResponse(
        found.path, media_type=found.content_type, headers={"cache-control": "private, no-store"}
    )
