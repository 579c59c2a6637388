"""The SLA report, the survey list and a survey's results, and the service section of the
customer 360 page. Store-bound staff see their stores' figures only."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from patron.core.errors import InvalidInput
from patron.staff.roles import Permission as P
from patron.support import sla
from patron.support.api import period, results_of
from patron.support.pages.tickets import clock, titles
from patron.support.pages.titles import TYPE_TITLES
from patron.support.surveys import service as surveys
from patron.support.tickets import service as tickets
from patron.support.tickets.schemas import TicketFilter
from patron.web.deps import Db
from patron.web.forms import error_line
from patron.web.i18n import N_, _, title_of
from patron.web.sections import SectionContext, register_customer_section
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)
Day = Annotated[str, Query(max_length=20)]
_LABELS = {"since": N_("From"), "until": N_("To")}


def _day(value: str, field: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            field, "is not a date like 2026-10-31", message_code="not_a_date"
        ) from None


def _hours(minutes: float | None) -> str:
    return "—" if minutes is None else f"{minutes / 60:.1f} h"


@router.get("/service/sla", response_class=HTMLResponse)
def sla_page(
    request: Request, actor: CurrentActor, db: Db, since: Day = "", until: Day = ""
) -> Response:
    context: dict[str, Any] = {
        "actor": actor,
        "form": {"since": since, "until": until},
        "hours": _hours,
        "type_title": lambda c: title_of(TYPE_TITLES, c),
        "error": None,
        "report": None,
    }
    try:
        start, end = period(_day(since, "since"), _day(until, "until"))
    except InvalidInput as exc:
        context["error"] = error_line(exc, _LABELS)
        return TEMPLATES.TemplateResponse(request, "support/sla.html", context, status_code=422)
    context["report"] = db.read(
        lambda s: sla.sla_report(session=s, since=start, until=end, store_ids=actor.store_ids)
    )
    return TEMPLATES.TemplateResponse(request, "support/sla.html", context)


@router.get("/surveys", response_class=HTMLResponse)
def surveys_page(request: Request, actor: CurrentActor, db: Db) -> Response:
    found = db.read(lambda s: surveys.list_surveys(session=s))
    context = {"actor": actor, "surveys": found}
    return TEMPLATES.TemplateResponse(request, "support/surveys.html", context)


@router.get("/surveys/{code}", response_class=HTMLResponse)
def results_page(
    request: Request, code: str, actor: CurrentActor, db: Db, since: Day = "", until: Day = ""
) -> Response:
    context: dict[str, Any] = {"actor": actor, "code": code, "form": {"since": since,
                               "until": until}, "error": None, "r": None}  # fmt: skip
    try:
        start, end = period(_day(since, "since"), _day(until, "until"))
    except InvalidInput as exc:
        context["error"] = error_line(exc, _LABELS)
        return TEMPLATES.TemplateResponse(
            request, "support/survey_results.html", context, status_code=422
        )
    context["r"] = db.read(lambda s: results_of(s, code, start, end, actor.store_ids))
    context["type_title"] = lambda c: title_of(TYPE_TITLES, c)
    context["sentiment_title"] = lambda c: {
        "positive": _("positive"),
        "negative": _("negative"),
    }.get(c or "", "")
    return TEMPLATES.TemplateResponse(request, "support/survey_results.html", context)


def render_service_section(ctx: SectionContext) -> str:
    """The customer's tickets (those the viewer's stores may see), newest first."""
    filters = TicketFilter(customer_id=ctx.customer.id, limit=20)
    found = tickets.list_tickets(session=ctx.session, filters=filters, actor=ctx.actor)
    from patron.core.clock import utcnow

    now = utcnow()
    context = {
        "tickets": [(t, clock(t, now)) for t in sorted(found, key=lambda t: -t.id)],
        "customer_id": ctx.customer.id,
        "may_open": ctx.actor.can(P.TICKETS_WRITE),
        **titles(),
    }
    return TEMPLATES.get_template("sections/support.html").render(context)


register_customer_section(
    "support", N_("After-sales service"), render_service_section, P.TICKETS_READ, order=30
)
