"""The campaigns console: the list and a new campaign, a campaign's page (its state, the
actions its state and the reader's role allow, and its results with the uplift chart), and
the message templates with a masked preview and a test send (docs/campaigns.md)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from patron.audiences import service as audience_service
from patron.campaigns import results, service, templates
from patron.campaigns.schemas import CampaignIn, TemplateIn, TrialSendIn
from patron.core.actor import Actor
from patron.core.db import Database
from patron.core.errors import PatronError
from patron.staff.roles import Permission as P
from patron.web.deps import Db, PathId
from patron.web.forms import FormError, error_field, field_errors, local_time, parse_fen
from patron.web.i18n import N_, gettext
from patron.web.messages import message_for
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

STATUS_TITLES = {
    "draft": N_("Draft"),
    "awaiting_approval": N_("Awaiting approval"),
    "scheduled": N_("Approved, to be sent"),
    "paused": N_("Paused"),
    "sent": N_("Sent"),
}
CHANNEL_TITLES = {"email": N_("E-mail"), "sms": N_("SMS"), "wechat": N_("WeChat")}
DELIVERY_TITLES = {
    "queued": N_("Queued"),
    "sending": N_("Sending"),
    "sent": N_("Sent"),
    "delivered": N_("Delivered"),
    "failed": N_("Failed"),
    "bounced": N_("Bounced"),
    "skipped": N_("Skipped (consent, caps, too late)"),
    "held": N_("Held (campaign paused)"),
    "written": N_("Messages written"),
}
OFFER_TITLES = {"none": N_("No offer"), "coupon": N_("Coupon"), "points": N_("Points")}
VERDICT_TITLES = {
    "positive": N_("The campaign raised conversion"),
    "negative": N_("The campaign lowered conversion"),
    "no_measurable_effect": N_("No measurable effect"),
    "too_small": N_("Not measurable yet: a group is empty"),
}
_CHART_LABELS = {
    "treated": N_("Treated"),
    "holdout": N_("Holdout"),
    "rate": N_("Conversion rate, per cent"),
    "sales": N_("Net sales per customer (yuan)"),
}


def _safe_json(data: Any) -> str:
    """JSON for a <script type="application/json"> block: no "<" can close the element."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


def _list_page(
    request: Request,
    actor: Actor,
    db: Database,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    def read(s: Session) -> dict[str, Any]:
        return {
            "campaigns": service.list_campaigns(session=s),
            "audiences": audience_service.list_audiences(session=s),
            "templates": templates.list_templates(session=s),
        }

    context = {
        **db.read(read),
        "actor": actor,
        "may_write": actor.can(P.CAMPAIGNS_WRITE),
        "statuses": STATUS_TITLES,
        "channels": CHANNEL_TITLES,
        "offers": OFFER_TITLES,
        "errors": errors or {},
        "form": form or {"holdout_percent": "10", "conversion_days": "14", "offer": "none"},
    }
    return TEMPLATES.TemplateResponse(request, "campaigns/list.html", context, status_code=status)


@router.get("/campaigns", response_class=HTMLResponse)
def campaigns_page(request: Request, actor: CurrentActor, db: Db) -> Response:
    return _list_page(request, actor, db)


CAMPAIGN_FIELDS = {f"templates.{c}": f"template_{c}" for c in CHANNEL_TITLES}


def campaign_from_form(form: dict[str, str]) -> CampaignIn:
    chosen = {c: form.get(f"template_{c}", "") for c in CHANNEL_TITLES}
    return CampaignIn.model_validate(
        {
            "name": form.get("name", "").strip(),
            "audience_id": form.get("audience_id") or None,
            "templates": {c: int(t) for c, t in chosen.items() if t.isdigit()},
            "language": form.get("language") or "zh",
            "offer": form.get("offer") or "none",
            "coupon_template_code": form.get("coupon_template_code", "").strip() or None,
            "offer_points": form.get("offer_points", "").strip() or None,
            "send_at": local_time(form.get("send_at", "")),
            "recurrence": form.get("recurrence", "").strip() or None,
            "holdout_percent": form.get("holdout_percent", "").strip() or "10",
            "priority": form.get("priority", "").strip() or "0",
            "conversion_days": form.get("conversion_days", "").strip() or "14",
            "cost_per_message_fen": parse_fen(form.get("cost_per_message", ""), "cost_per_message")
            or 0,
        }
    )


@router.post("/campaigns", response_class=HTMLResponse)
async def create_campaign(request: Request, actor: CurrentActor, db: Db) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items() if k != "csrf_token"}
    try:
        campaign_in = campaign_from_form(form)
        created = db.write(
            lambda s: service.create_campaign(session=s, campaign_in=campaign_in, actor=actor)
        )
    except ValidationError as exc:
        errors = field_errors(exc, CAMPAIGN_FIELDS)
        return _list_page(request, actor, db, errors=errors, form=form, status=422)
    except (FormError, PatronError) as exc:
        field = CAMPAIGN_FIELDS.get(error_field(exc), error_field(exc))
        return _list_page(
            request, actor, db, errors={field: message_for(exc)}, form=form, status=422
        )
    return RedirectResponse(f"/campaigns/{created.id}", status_code=303)


def _campaign_page(
    request: Request, actor: Actor, db: Database, campaign_id: int, *, error: str | None = None
) -> Response:
    def read(s: Session) -> dict[str, Any]:
        campaign = service.get_campaign_or_raise(session=s, campaign_id=campaign_id)
        found = results.campaign_results(
            session=s, campaign_id=campaign_id, store_ids=actor.store_ids
        )
        audience = audience_service.get_audience(session=s, audience_id=campaign.audience_id)
        names = {t.id: t.name for t in templates.list_templates(session=s)}
        occurrences = service.list_occurrences(session=s, series_id=campaign_id)
        return {
            "campaign": campaign,
            "results": found,
            "audience": audience,
            "names": names,
            "occurrences": occurrences,
        }

    context = db.read(read)
    found = context["results"]
    chart = None
    if found.treated and found.holdout and found.conversion_uplift:
        chart = {
            "labels": {k: gettext(v) for k, v in _CHART_LABELS.items()},
            "rates": [round(found.treated.rate * 100, 2), round(found.holdout.rate * 100, 2)],
            "sales": [
                round(found.treated.sales_per_customer_fen / 100, 2),
                round(found.holdout.sales_per_customer_fen / 100, 2),
            ],
            "uplift": [
                round(found.conversion_uplift.low * 100, 2),
                round(found.conversion_uplift.estimate * 100, 2),
                round(found.conversion_uplift.high * 100, 2),
            ],
        }
    context.update(
        actor=actor,
        statuses=STATUS_TITLES,
        channels=CHANNEL_TITLES,
        offers=OFFER_TITLES,
        verdicts=VERDICT_TITLES,
        deliveries=DELIVERY_TITLES,
        chart_json=_safe_json(chart) if chart else None,
        may_write=actor.can(P.CAMPAIGNS_WRITE),
        may_approve=actor.can(P.CAMPAIGNS_APPROVE),
        error=error,
    )
    return TEMPLATES.TemplateResponse(
        request, "campaigns/campaign.html", context, status_code=422 if error else 200
    )


@router.get("/campaigns/templates", response_class=HTMLResponse)
def templates_page(request: Request, actor: CurrentActor, db: Db) -> Response:
    return _templates_page(request, actor, db)


def _templates_page(
    request: Request,
    actor: Actor,
    db: Database,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    context = {
        "templates": db.read(lambda s: templates.list_templates(session=s)),
        "actor": actor,
        "may_write": actor.can(P.CAMPAIGNS_WRITE),
        "channels": CHANNEL_TITLES,
        "variables": templates.VARIABLES,
        "errors": errors or {},
        "form": form or {"channel": "sms"},
    }
    return TEMPLATES.TemplateResponse(
        request, "campaigns/templates.html", context, status_code=status
    )


@router.post("/campaigns/templates", response_class=HTMLResponse)
async def create_template(request: Request, actor: CurrentActor, db: Db) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items() if k != "csrf_token"}
    try:
        providers = {}
        if form.get("provider_template", "").strip():
            key = "wechat" if form.get("channel") == "wechat" else "aliyun"
            providers[key] = form["provider_template"].strip()
        template_in = TemplateIn.model_validate(
            {
                "name": form.get("name", "").strip(),
                "channel": form.get("channel", ""),
                "subject_zh": form.get("subject_zh", "").strip() or None,
                "text_zh": form.get("text_zh", "").strip(),
                "subject_en": form.get("subject_en", "").strip() or None,
                "text_en": form.get("text_en", "").strip() or None,
                "provider_templates": providers,
            }
        )
        created = db.write(
            lambda s: templates.create_template(session=s, template_in=template_in, actor=actor)
        )
    except ValidationError as exc:
        return _templates_page(request, actor, db, errors=field_errors(exc), form=form, status=422)
    except PatronError as exc:
        return _templates_page(
            request, actor, db, errors={error_field(exc): message_for(exc)}, form=form, status=422
        )
    return RedirectResponse(f"/campaigns/templates/{created.id}", status_code=303)


@router.get("/campaigns/templates/{template_id}", response_class=HTMLResponse)
def template_page(
    request: Request,
    template_id: PathId,
    actor: CurrentActor,
    db: Db,
    customer_id: str = "",
    language: str = "zh",
    sent: str = "",
) -> Response:
    language = "en" if language == "en" else "zh"
    error = None
    chosen = int(customer_id) if customer_id.isdigit() and len(customer_id) < 19 else None

    def read(s: Session) -> dict[str, Any]:
        template = templates.get_template_or_raise(session=s, template_id=template_id)
        preview = templates.preview_template(
            session=s,
            template_id=template_id,
            customer_id=chosen,
            language=language,
            store_ids=actor.store_ids,
        )
        return {"template": template, "preview": preview}

    try:
        context = db.read(read)
    except PatronError as exc:
        error = message_for(exc)
        chosen = None
        context = db.read(read)
    context.update(
        actor=actor,
        channels=CHANNEL_TITLES,
        customer_id=chosen or "",
        language=language,
        error=error,
        sent=sent[:32],
        may_write=actor.can(P.CAMPAIGNS_WRITE),
    )
    return TEMPLATES.TemplateResponse(request, "campaigns/template.html", context)


@router.post("/campaigns/templates/{template_id}/test-send")
def trial_send(
    template_id: PathId,
    actor: CurrentActor,
    db: Db,
    to: Annotated[str, Form(min_length=3, max_length=200)],
    language: Annotated[str, Form(max_length=2)] = "zh",
) -> Response:
    send_in = TrialSendIn(to=to.strip(), language="en" if language == "en" else "zh")
    outcome = db.write(
        lambda s: templates.send_test_message(
            session=s, template_id=template_id, send_in=send_in, actor=actor
        )
    )
    return RedirectResponse(f"/campaigns/templates/{template_id}?sent={outcome}", status_code=303)


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(request: Request, campaign_id: PathId, actor: CurrentActor, db: Db) -> Response:
    return _campaign_page(request, actor, db, campaign_id)


def _act(request: Request, actor: Actor, db: Database, campaign_id: int, action: Any) -> Response:
    try:
        db.write(lambda s: action(session=s, campaign_id=campaign_id, actor=actor))
    except PatronError as exc:
        return _campaign_page(request, actor, db, campaign_id, error=message_for(exc))
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/{campaign_id}/submit", response_class=HTMLResponse)
def submit(request: Request, campaign_id: PathId, actor: CurrentActor, db: Db) -> Response:
    return _act(request, actor, db, campaign_id, service.submit_campaign)


@router.post("/campaigns/{campaign_id}/approve", response_class=HTMLResponse)
def approve(request: Request, campaign_id: PathId, actor: CurrentActor, db: Db) -> Response:
    return _act(request, actor, db, campaign_id, service.approve_campaign)


@router.post("/campaigns/{campaign_id}/pause", response_class=HTMLResponse)
def pause(request: Request, campaign_id: PathId, actor: CurrentActor, db: Db) -> Response:
    return _act(request, actor, db, campaign_id, service.pause_campaign)


@router.post("/campaigns/{campaign_id}/resume", response_class=HTMLResponse)
def resume(request: Request, campaign_id: PathId, actor: CurrentActor, db: Db) -> Response:
    return _act(request, actor, db, campaign_id, service.resume_campaign)


@router.post("/campaigns/{campaign_id}/send", response_class=HTMLResponse)
def send(request: Request, campaign_id: PathId, actor: CurrentActor, db: Db) -> Response:
    return _act(request, actor, db, campaign_id, service.send_campaign)
