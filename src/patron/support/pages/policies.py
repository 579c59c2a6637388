"""The SLA policies: the list and a form that adds one or replaces the one for the same type,
priority and tier, through the same service as ``POST /api/v1/sla-policies`` (audited
there). Targets are typed in working hours and kept in working minutes (docs/support.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from patron.core.actor import Actor
from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.core.schemas import MAX_ID
from patron.support import sla
from patron.support.pages.titles import PRIORITY_TITLES, TYPE_TITLES
from patron.support.tickets.schemas import SlaPolicyIn, SlaPolicyRead
from patron.web.deps import Db
from patron.web.forms import FormError, error_field, field_errors, parse_decimal, parse_int
from patron.web.i18n import N_
from patron.web.messages import message_for
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

# the form's boxes by the schema's fields (hours typed, minutes kept)
RENAME = {
    "first_reply_minutes": "first_reply_hours",
    "resolve_minutes": "resolve_hours",
    "chain_after_minutes": "chain_after_hours",
}
LABELS = {
    "first_reply_hours": N_("First reply within (working hours)"),
    "resolve_hours": N_("Resolved within (working hours)"),
    "chain_after_hours": N_("Escalate to the chain after (working hours)"),
    "warn_percent": N_("Warn at (percent of the target)"),
}


def hours(minutes: int) -> str:
    """Working minutes as hours, without needless decimals (90 → "1.5")."""
    text = f"{Decimal(minutes) / 60:.2f}"
    return text.rstrip("0").rstrip(".")


def _minutes(text: str, field: str, *, required: bool = False) -> int | None:
    """Hours as typed ("8", "1.5") → whole minutes; empty → None."""
    value = parse_decimal(text, field)
    if value is None:
        if required:
            raise FormError(field, "required")
        return None
    if value < 0:
        raise FormError(field, "not_number")
    return int((value * 60).to_integral_value())


def _form_of(policy: SlaPolicyRead | None) -> dict[str, str]:
    if policy is None:
        return {"name": "", "ticket_type": "", "priority": "", "tier_code": "",
                "first_reply_hours": "", "resolve_hours": "", "warn_percent": "80",
                "chain_after_hours": "4"}  # fmt: skip
    return {
        "name": policy.name,
        "ticket_type": policy.ticket_type or "",
        "priority": policy.priority or "",
        "tier_code": policy.tier_code or "",
        "first_reply_hours": hours(policy.first_reply_minutes),
        "resolve_hours": hours(policy.resolve_minutes),
        "warn_percent": str(policy.warn_percent),
        "chain_after_hours": hours(policy.chain_after_minutes),
    }


def _policies_page(
    request: Request,
    actor: Actor,
    db: Database,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    edit: int | None = None,
) -> Response:
    found = db.read(lambda s: sla.list_policies(session=s))
    if form is None:
        form = _form_of(next((p for p in found if p.id == edit), None))
    context: dict[str, Any] = {
        "actor": actor,
        "policies": found,
        "form": form,
        "errors": errors or {},
        "types": TYPE_TITLES,
        "priorities": PRIORITY_TITLES,
        "hours": hours,
    }
    return TEMPLATES.TemplateResponse(
        request, "support/sla_policies.html", context, status_code=status
    )


@router.get("/service/sla/policies", response_class=HTMLResponse)
def policies_page(
    request: Request,
    actor: CurrentActor,
    db: Db,
    edit: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    """The policies; ``edit`` fills the form with one of them to change it."""
    return _policies_page(request, actor, db, edit=edit)


def policy_from_form(form: dict[str, str]) -> SlaPolicyIn:
    return SlaPolicyIn.model_validate(
        {
            "name": form["name"].strip(),
            "ticket_type": form["ticket_type"] or None,
            "priority": form["priority"] or None,
            "tier_code": form["tier_code"].strip() or None,
            "first_reply_minutes": _minutes(
                form["first_reply_hours"], "first_reply_minutes", required=True
            ),
            "resolve_minutes": _minutes(form["resolve_hours"], "resolve_minutes", required=True),
            "warn_percent": parse_int(form["warn_percent"], "warn_percent") or 80,
            "chain_after_minutes": _minutes(form["chain_after_hours"], "chain_after_minutes")
            or 240,
        }
    )


@router.post("/service/sla/policies", response_class=HTMLResponse)
def save_policy(
    request: Request,
    actor: CurrentActor,
    db: Db,
    name: Annotated[str, Form(max_length=200)] = "",
    ticket_type: Annotated[str, Form(max_length=20)] = "",
    priority: Annotated[str, Form(max_length=20)] = "",
    tier_code: Annotated[str, Form(max_length=64)] = "",
    first_reply_hours: Annotated[str, Form(max_length=20)] = "",
    resolve_hours: Annotated[str, Form(max_length=20)] = "",
    warn_percent: Annotated[str, Form(max_length=10)] = "",
    chain_after_hours: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    form = {
        "name": name, "ticket_type": ticket_type if ticket_type in TYPE_TITLES else "",
        "priority": priority if priority in PRIORITY_TITLES else "", "tier_code": tier_code,
        "first_reply_hours": first_reply_hours, "resolve_hours": resolve_hours,
        "warn_percent": warn_percent, "chain_after_hours": chain_after_hours,
    }  # fmt: skip
    errors: dict[str, str] = {}
    try:
        policy_in = policy_from_form(form)
        db.write(lambda s: sla.save_policy(session=s, policy_in=policy_in, actor=actor))
    except ValidationError as exc:
        errors = field_errors(exc, RENAME)
    except InvalidInput as exc:
        field = error_field(exc, "name")
        errors[RENAME.get(field, field)] = message_for(exc)
    if errors:
        return _policies_page(request, actor, db, form=form, errors=errors, status=422)
    return RedirectResponse("/service/sla/policies", 303)
