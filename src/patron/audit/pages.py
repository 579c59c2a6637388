"""Console page for the audit log: filter by actor, action, target and date; newest first."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from patron.audit import service
from patron.core.errors import InvalidInput
from patron.core.settings import get_settings
from patron.web.deps import Db
from patron.web.i18n import _
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

PAGE = 50
Text64 = Annotated[str, Query(max_length=64)]


def _day(value: str, field: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(field, _("is not a date like 2026-10-31")) from None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), get_settings().zone)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    actor: CurrentActor,
    db: Db,
    actor_name: Annotated[str, Query(max_length=120)] = "",
    action: Text64 = "",
    target_kind: Annotated[str, Query(max_length=32)] = "",
    target_id: Text64 = "",
    since: Annotated[str, Query(max_length=20)] = "",
    until: Annotated[str, Query(max_length=20)] = "",
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """``since`` and ``until`` are days in the shop's zone, both included."""
    filters = {
        "actor_name": actor_name.strip(),
        "action": action.strip(),
        "target_kind": target_kind.strip(),
        "target_id": target_id.strip(),
        "since": since.strip(),
        "until": until.strip(),
    }
    context: dict[str, Any] = {"actor": actor, "filters": filters, "error": None, "page": None}
    try:
        first, last = _day(since, "since"), _day(until, "until")
        page = db.read(
            lambda s: service.list_audit(
                session=s,
                action=filters["action"] or None,
                actor_name=filters["actor_name"] or None,
                target_kind=filters["target_kind"] or None,
                target_id=filters["target_id"] or None,
                since=_start_of(first) if first else None,
                until=_start_of(last + timedelta(days=1)) if last else None,
                limit=PAGE,
                cursor=cursor,
            )
        )
    except InvalidInput as exc:
        context["error"] = exc.message
        return TEMPLATES.TemplateResponse(request, "audit.html", context, status_code=422)
    context["page"] = page
    if page.next_cursor:
        query = {k: v for k, v in filters.items() if v}
        context["next_url"] = "/audit?" + urlencode({**query, "cursor": page.next_cursor})
    context["actions"] = ACTIONS
    return TEMPLATES.TemplateResponse(request, "audit.html", context)


# What the filter offers (the audit service's list of actions in use).
ACTIONS = (
    "sign_in",
    "sign_in_failed",
    "sign_out",
    "password_change",
    "staff.create",
    "staff.update",
    "api_key.create",
    "api_key.revoke",
    "customer.reveal",
    "customer.merge",
    "customer.unmerge",
    "customer.export",
    "customer.erase",
    "keys.rotate",
)
