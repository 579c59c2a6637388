"""The privacy officer's console: the queue of data-subject requests (record, start,
finish or refuse, download a person's data), the processing register (edit, XLSX), the
reveals and exports per staff member, and each shop's public privacy notice."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from patron.catalog import service as catalog
from patron.core.actor import Actor
from patron.core.db import Database
from patron.core.errors import PatronError
from patron.core.schemas import MAX_ID
from patron.core.settings import get_settings
from patron.privacy import erasure, export, register, requests, retention
from patron.privacy.api import XLSX, ZIP, download
from patron.privacy.schemas import (
    ActivityIn,
    ExportIn,
    HoldIn,
    PrivacyRequestChange,
    PrivacyRequestCreate,
)
from patron.web.deps import Db, PathId
from patron.web.forms import error_line, first_error
from patron.web.i18n import N_, current_language, gettext, title_of
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

KIND_TITLES = {
    "access": N_("Access and copy"),
    "correction": N_("Correction"),
    "erasure": N_("Erasure"),
    "withdrawal": N_("Consent withdrawn"),
}
STATUS_TITLES = {
    "new": N_("New request"),
    "in_progress": N_("In progress"),
    "done": N_("Done"),
    "refused": N_("Refused"),
}
CHANNEL_TITLES = {
    "in_store": N_("In store"),
    "phone": N_("Phone"),
    "email": N_("E-mail"),
    "online": N_("Online"),
    "letter": N_("Letter"),
    "wechat": N_("WeChat"),
}
LABELS = {
    "customer_id": N_("Customer number"),
    "kind": N_("Request"),
    "requested_by": N_("Asked by"),
    "channel": N_("Received by"),
    "verification": N_("Identity checked by"),
    "outcome": N_("Outcome"),
    "reason": N_("Reason"),
    "purpose": N_("Purpose of processing"),
    "data_kinds": N_("Kinds of data"),
    "recipients": N_("Recipients"),
    "retention": N_("Retention"),
    "legal_basis": N_("Legal basis"),
}
Text = Annotated[str, Form(max_length=2000)]


def _titles() -> dict[str, Any]:
    return {
        "kind_title": lambda c: title_of(KIND_TITLES, c),
        "status_title": lambda c: title_of(STATUS_TITLES, c),
        "channel_title": lambda c: title_of(CHANNEL_TITLES, c),
        "kinds": KIND_TITLES,
        "channels": CHANNEL_TITLES,
    }


def _queue(
    request: Request,
    actor: Actor,
    db: Database,
    *,
    show: str = "open",
    error: str | None = None,
    form: dict[str, str] | None = None,
    code: int = 200,
) -> Response:
    found = db.read(
        lambda s: requests.list_requests(
            session=s, open_only=show == "open", status=None if show in ("open", "all") else show
        )
    )
    context = {
        "actor": actor,
        "requests": found,
        "show": show,
        "error": error,
        "form": form or {},
        "working_days": get_settings().privacy_request_working_days,
        **_titles(),
    }
    return TEMPLATES.TemplateResponse(request, "privacy/queue.html", context, status_code=code)


@router.get("/privacy", response_class=HTMLResponse)
def queue_page(
    request: Request,
    actor: CurrentActor,
    db: Db,
    show: Annotated[str, Query(pattern="^(open|all|done|refused)$")] = "open",
) -> Response:
    """Open requests, soonest due first, and the form to record a new one."""
    return _queue(request, actor, db, show=show)


@router.post("/privacy/requests", response_class=HTMLResponse)
def create_request(
    request: Request,
    actor: CurrentActor,
    db: Db,
    customer_id: Annotated[str, Form(max_length=20)] = "",
    kind: Annotated[str, Form(max_length=20)] = "",
    requested_by: Annotated[str, Form(max_length=200)] = "",
    channel: Annotated[str, Form(max_length=20)] = "",
    verification: Annotated[str, Form(max_length=300)] = "",
    details: Text = "",
) -> Response:
    form = {
        "customer_id": customer_id,
        "kind": kind,
        "requested_by": requested_by,
        "channel": channel,
        "verification": verification,
        "details": details,
    }
    try:
        request_in = PrivacyRequestCreate.model_validate(form)
        made = db.write(
            lambda s: requests.record_request(session=s, request_in=request_in, actor=actor)
        )
    except ValidationError as exc:
        return _queue(request, actor, db, error=first_error(exc, LABELS), form=form, code=422)
    except PatronError as exc:
        return _queue(request, actor, db, error=error_line(exc, LABELS), form=form, code=422)
    return RedirectResponse(f"/privacy/requests/{made.id}", status_code=303)


def _detail(
    request: Request, actor: Actor, db: Database, request_id: int, *, error: str | None = None
) -> Response:
    found = db.read(lambda s: requests.get_request_or_raise(session=s, request_id=request_id))
    holds = []
    if found.kind == "erasure" and found.status in ("new", "in_progress"):
        holds = db.read(lambda s: erasure.erasure_holds(session=s, customer_id=found.customer_id))
    context = {"actor": actor, "r": found, "holds": holds, "error": error, **_titles()}
    code = 422 if error else 200
    return TEMPLATES.TemplateResponse(request, "privacy/request.html", context, status_code=code)


@router.get("/privacy/requests/{request_id}", response_class=HTMLResponse)
def request_page(request: Request, request_id: PathId, actor: CurrentActor, db: Db) -> Response:
    return _detail(request, actor, db, request_id)


@router.post("/privacy/requests/{request_id}/change", response_class=HTMLResponse)
def change_request(
    request: Request,
    request_id: PathId,
    actor: CurrentActor,
    db: Db,
    action: Annotated[str, Form(max_length=10)] = "",
    outcome: Text = "",
) -> Response:
    """Start, finish or refuse (the last two say what was done, or why not)."""
    try:
        change = PrivacyRequestChange.model_validate({"action": action, "outcome": outcome})
        db.write(
            lambda s: requests.change_request(
                session=s, request_id=request_id, change=change, actor=actor
            )
        )
    except ValidationError as exc:
        return _detail(request, actor, db, request_id, error=first_error(exc, LABELS))
    except PatronError as exc:
        return _detail(request, actor, db, request_id, error=error_line(exc, LABELS))
    return RedirectResponse(f"/privacy/requests/{request_id}", status_code=303)


@router.post("/privacy/requests/{request_id}/erase", response_class=HTMLResponse)
def erase_request(
    request: Request, request_id: PathId, actor: CurrentActor, db: Db, outcome: Text = ""
) -> Response:
    """Erase the requester (refused, with the reasons, while a hold stands)."""
    said = outcome.strip() or gettext(
        "Erased: the person's data key destroyed; orders and points kept, anonymous."
    )
    try:
        erasure.erase_and_roll(db=db, request_id=request_id, actor=actor, outcome=said)
    except PatronError as exc:
        return _detail(request, actor, db, request_id, error=error_line(exc, LABELS))
    return RedirectResponse(f"/privacy/requests/{request_id}", status_code=303)


@router.post("/privacy/requests/{request_id}/holds", response_class=HTMLResponse)
def place_hold(
    request: Request,
    request_id: PathId,
    actor: CurrentActor,
    db: Db,
    reason: Annotated[str, Form(max_length=600)] = "",
) -> Response:
    """Place a legal hold on the requester (a dispute, an authority's request)."""
    found = db.read(lambda s: requests.get_request_or_raise(session=s, request_id=request_id))
    try:
        hold_in = HoldIn.model_validate({"reason": reason})
        db.write(
            lambda s: erasure.place_hold(
                session=s, customer_id=found.customer_id, hold_in=hold_in, actor=actor
            )
        )
    except ValidationError as exc:
        return _detail(request, actor, db, request_id, error=first_error(exc, LABELS))
    return RedirectResponse(f"/privacy/requests/{request_id}", status_code=303)


@router.post("/privacy/requests/{request_id}/holds/{hold_id}/lift", response_class=HTMLResponse)
def lift_hold(
    request: Request, request_id: PathId, hold_id: PathId, actor: CurrentActor, db: Db
) -> Response:
    try:
        db.write(lambda s: erasure.lift_hold(session=s, hold_id=hold_id, actor=actor))
    except PatronError as exc:
        return _detail(request, actor, db, request_id, error=error_line(exc, LABELS))
    return RedirectResponse(f"/privacy/requests/{request_id}", status_code=303)


@router.post("/privacy/requests/{request_id}/export", response_class=HTMLResponse)
def export_request(
    request: Request,
    request_id: PathId,
    actor: CurrentActor,
    db: Db,
    reason: Annotated[str, Form(max_length=600)] = "",
) -> Response:
    """The requester's data as a zip (audited with the reason and the request)."""
    found = db.read(lambda s: requests.get_request_or_raise(session=s, request_id=request_id))
    try:
        export_in = ExportIn.model_validate({"reason": reason, "request_id": request_id})
    except ValidationError as exc:
        return _detail(request, actor, db, request_id, error=first_error(exc, LABELS))
    data = db.write(
        lambda s: export.export_customer(
            session=s,
            customer_id=found.customer_id,
            reason=export_in.reason,
            actor=actor,
            request_id=request_id,
        )
    )
    return download(data, ZIP, f"customer-{found.customer_id}-request-{request_id}.zip")


# ------------------------------------------------------------------------ the register


def _register(
    request: Request,
    actor: Actor,
    db: Database,
    *,
    error: str | None = None,
    editing: int | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    context = {
        "actor": actor,
        "activities": db.read(lambda s: register.list_activities(session=s)),
        "policies": db.read(lambda s: retention.list_policies(session=s)),
        "error": error,
        "editing": editing,
        "form": form or {},
    }
    code = 422 if error else 200
    return TEMPLATES.TemplateResponse(request, "privacy/register.html", context, status_code=code)


@router.get("/privacy/register", response_class=HTMLResponse)
def register_page(
    request: Request,
    actor: CurrentActor,
    db: Db,
    edit: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    """What is processed, why, shared with whom, kept how long, on what legal basis."""
    return _register(request, actor, db, editing=edit)


def _save(
    request: Request, actor: Actor, db: Database, form: dict[str, str], activity_id: int | None
) -> Response:
    try:
        activity_in = ActivityIn.model_validate(form)
        db.write(
            lambda s: register.save_activity(
                session=s, activity_in=activity_in, actor=actor, activity_id=activity_id
            )
        )
    except ValidationError as exc:
        error = first_error(exc, LABELS)
        return _register(request, actor, db, error=error, editing=activity_id, form=form)
    except PatronError as exc:
        error = error_line(exc, LABELS)
        return _register(request, actor, db, error=error, editing=activity_id, form=form)
    return RedirectResponse("/privacy/register", status_code=303)


@router.post("/privacy/register", response_class=HTMLResponse)
def add_activity(
    request: Request,
    actor: CurrentActor,
    db: Db,
    purpose: Text = "",
    data_kinds: Text = "",
    recipients: Text = "",
    retention: Text = "",
    legal_basis: Text = "",
) -> Response:
    form = {
        "purpose": purpose,
        "data_kinds": data_kinds,
        "recipients": recipients,
        "retention": retention,
        "legal_basis": legal_basis,
    }
    return _save(request, actor, db, form, None)


@router.post("/privacy/register/{activity_id}", response_class=HTMLResponse)
def change_activity(
    request: Request,
    activity_id: PathId,
    actor: CurrentActor,
    db: Db,
    purpose: Text = "",
    data_kinds: Text = "",
    recipients: Text = "",
    retention: Text = "",
    legal_basis: Text = "",
) -> Response:
    form = {
        "purpose": purpose,
        "data_kinds": data_kinds,
        "recipients": recipients,
        "retention": retention,
        "legal_basis": legal_basis,
    }
    return _save(request, actor, db, form, activity_id)


@router.get("/privacy/register.xlsx")
def register_xlsx(db: Db) -> Response:
    language = "en" if current_language().code == "en" else "zh"
    data = db.read(lambda s: register.register_workbook(session=s, language=language))
    return download(data, XLSX, "processing-register.xlsx")


# ---------------------------------------------------------------------- the staff report


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip()) if value.strip() else None
    except ValueError:
        return None


@router.get("/privacy/report", response_class=HTMLResponse)
def report_page(
    request: Request,
    actor: CurrentActor,
    db: Db,
    since: Annotated[str, Query(max_length=20)] = "",
    until: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """Reveals and exports of personal data per staff member, from the audit log; days in
    the shop's zone, both included."""
    zone = get_settings().zone
    first, last = _day(since), _day(until)
    start = datetime.combine(first, time(0), zone) if first else None
    end = datetime.combine(last + timedelta(days=1), time(0), zone) if last else None
    rows = db.read(lambda s: register.reveals_by_staff(session=s, since=start, until=end))
    context = {
        "actor": actor,
        "rows": rows,
        "since": first.isoformat() if first else "",
        "until": last.isoformat() if last else "",
    }
    return TEMPLATES.TemplateResponse(request, "privacy/report.html", context)


# --------------------------------------------------------------- the public privacy notice


@router.get("/privacy-notice/{store_code}", response_class=HTMLResponse)
def privacy_notice(request: Request, store_code: str, db: Db) -> Response:
    """Open to anyone, no sign-in: what the shop processes and why, for how long, shared
    with whom, and how to ask for a copy, a correction or erasure."""
    store = db.read(lambda s: catalog.get_store_by_code(session=s, code=store_code[:32]))
    if store is None:
        context: dict[str, Any] = {"actor": None, "store": None}
        return TEMPLATES.TemplateResponse(request, "privacy/notice.html", context, status_code=404)
    context = {
        "actor": None,
        "store": store,
        "activities": db.read(lambda s: register.list_activities(session=s)),
        "working_days": get_settings().privacy_request_working_days,
    }
    return TEMPLATES.TemplateResponse(request, "privacy/notice.html", context)
