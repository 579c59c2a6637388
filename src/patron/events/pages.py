"""The admins' console for events and webhooks: the recent events (filter by type and
customer), webhook subscriptions (create, pause, resume, rotate the secret: a secret is shown
once), and a subscription's deliveries with their attempts and redelivery
(docs/events.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from patron.core.actor import Actor
from patron.core.db import Database
from patron.core.errors import PatronError
from patron.core.schemas import MAX_ID
from patron.events import service, webhooks
from patron.events.schemas import DOMAIN_TYPES, SubscriptionCreated, SubscriptionIn
from patron.web.deps import Db, PathId
from patron.web.forms import error_line, first_error
from patron.web.i18n import N_, title_of
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

TYPE_TITLES = {
    "page_view": N_("Page viewed"),
    "product_view": N_("Product viewed"),
    "search": N_("Searched"),
    "cart_add": N_("Added to cart"),
    "cart_remove": N_("Removed from cart"),
    "checkout_started": N_("Checkout started"),
    "coupon_viewed": N_("Coupon viewed"),
    "identify": N_("Signed in"),
    "order.created": N_("Order recorded"),
    "refund.created": N_("Refund recorded"),
    "customer.created": N_("Customer created"),
    "customer.merged": N_("Customers merged"),
    "tier.changed": N_("Tier changed"),
    "points.expiring": N_("Points expiring"),
    "customer.churn_risk_high": N_("High churn risk"),
}
STATUS_TITLES = {
    "active": N_("Active"),
    "paused": N_("Paused"),
    "disabled": N_("Disabled (the endpoint said it is gone)"),
    "pending": N_("Waiting"),
    "sending": N_("Sending"),
    "delivered": N_("Delivered"),
    "failed": N_("Given up"),
}
LABELS = {
    "name": N_("Name"),
    "url": N_("Endpoint address"),
    "event_types": N_("Event types"),
}


def _titles() -> dict[str, Any]:
    return {
        "type_title": lambda code: title_of(TYPE_TITLES, code),
        "status_title": lambda code: title_of(STATUS_TITLES, code),
    }


# ------------------------------------------------------------------------------ events


@router.get("/events", response_class=HTMLResponse)
def events_page(
    request: Request,
    actor: CurrentActor,
    db: Db,
    type: Annotated[str, Query(max_length=64)] = "",
    customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    """The newest events first, 50 a page."""
    found = db.read(
        lambda s: service.list_events(
            session=s, type=type or None, customer_id=customer_id, before_id=before_id
        )
    )
    context = {
        "actor": actor,
        "events": found,
        "filters": {"type": type, "customer_id": customer_id or ""},
        "types": list(TYPE_TITLES),
        "older": found[-1].id if len(found) == 50 else None,
        **_titles(),
    }
    return TEMPLATES.TemplateResponse(request, "events/events.html", context)


# ------------------------------------------------------------------------------ webhooks


def _subscriptions(
    request: Request,
    actor: Actor,
    db: Database,
    *,
    created: SubscriptionCreated | None = None,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    code: int = 200,
) -> Response:
    context = {
        "actor": actor,
        "subscriptions": db.read(lambda s: webhooks.list_subscriptions(session=s)),
        "domain_types": DOMAIN_TYPES,
        "created": created,
        "error": error,
        "form": form or {"event_types": []},
        **_titles(),
    }
    return TEMPLATES.TemplateResponse(request, "events/webhooks.html", context, status_code=code)


@router.get("/webhooks", response_class=HTMLResponse)
def webhooks_page(request: Request, actor: CurrentActor, db: Db) -> Response:
    return _subscriptions(request, actor, db)


@router.post("/webhooks", response_class=HTMLResponse)
def create_subscription(
    request: Request,
    actor: CurrentActor,
    db: Db,
    name: Annotated[str, Form(max_length=200)] = "",
    url: Annotated[str, Form(max_length=600)] = "",
    event_types: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """A new subscription; the page shows its secret this once."""
    form = {"name": name, "url": url, "event_types": event_types or []}
    try:
        subscription_in = SubscriptionIn.model_validate(form)
        created = db.write(
            lambda s: webhooks.create_subscription(
                session=s, subscription_in=subscription_in, actor=actor
            )
        )
    except ValidationError as exc:
        return _subscriptions(
            request, actor, db, error=first_error(exc, LABELS), form=form, code=422
        )
    except PatronError as exc:
        return _subscriptions(
            request, actor, db, error=error_line(exc, LABELS), form=form, code=422
        )
    return _subscriptions(request, actor, db, created=created)


@router.post("/webhooks/{subscription_id}/pause", response_class=HTMLResponse)
def pause_subscription(subscription_id: PathId, actor: CurrentActor, db: Db) -> Response:
    db.write(
        lambda s: webhooks.set_subscription_status(
            session=s, subscription_id=subscription_id, active=False, actor=actor
        )
    )
    return RedirectResponse("/webhooks", status_code=303)


@router.post("/webhooks/{subscription_id}/resume", response_class=HTMLResponse)
def resume_subscription(subscription_id: PathId, actor: CurrentActor, db: Db) -> Response:
    db.write(
        lambda s: webhooks.set_subscription_status(
            session=s, subscription_id=subscription_id, active=True, actor=actor
        )
    )
    return RedirectResponse("/webhooks", status_code=303)


@router.post("/webhooks/{subscription_id}/rotate", response_class=HTMLResponse)
def rotate_secret(
    request: Request, subscription_id: PathId, actor: CurrentActor, db: Db
) -> Response:
    """A new secret, shown this once; the old one keeps signing for a day."""
    rotated = db.write(
        lambda s: webhooks.rotate_secret(session=s, subscription_id=subscription_id, actor=actor)
    )
    return _subscriptions(request, actor, db, created=rotated)


@router.get("/webhooks/{subscription_id}", response_class=HTMLResponse)
def deliveries_page(
    request: Request,
    subscription_id: PathId,
    actor: CurrentActor,
    db: Db,
    status: Annotated[str, Query(pattern="^(|pending|sending|delivered|failed)$")] = "",
) -> Response:
    """The subscription's newest deliveries, each with its attempts."""

    def read(session: Any) -> dict[str, Any]:
        deliveries = webhooks.list_deliveries(
            session=session, subscription_id=subscription_id, status=status or None
        )
        return {
            "subscription": webhooks.get_subscription(
                session=session, subscription_id=subscription_id
            ),
            "deliveries": deliveries,
            "attempts": webhooks.attempts_of(
                session=session, delivery_ids=[d.id for d in deliveries]
            ),
        }

    context = {"actor": actor, "status": status, **db.read(read), **_titles()}
    return TEMPLATES.TemplateResponse(request, "events/deliveries.html", context)


@router.post("/webhooks/deliveries/{delivery_id}/redeliver", response_class=HTMLResponse)
def redeliver(delivery_id: PathId, actor: CurrentActor, db: Db) -> Response:
    found = db.write(lambda s: webhooks.redeliver(session=s, delivery_id=delivery_id, actor=actor))
    return RedirectResponse(f"/webhooks/{found.subscription_id}", status_code=303)
