"""The member offers screen (限时优惠): offers running, scheduled and ended, with their
quotas; a new one; ending one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import PatronError
from patron.loyalty import offers
from patron.loyalty.reward_schemas import OfferCreate
from patron.loyalty.rules import BP
from patron.staff.roles import Permission as P
from patron.web.deps import Db
from patron.web.forms import (
    error_field,
    field_errors,
    local_time,
    parse_fen,
    parse_int,
    parse_scaled,
    split_codes,
    split_names,
)
from patron.web.i18n import N_
from patron.web.messages import message_for
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)
Code = Annotated[str, Path(max_length=64)]

OFFER_STATES = {"running": N_("running"), "scheduled": N_("scheduled"), "ended": N_("ended")}
OFFER_FIELDS = {"price_fen": "price", "percent_off_bp": "percent"}


def _page(
    request: Request,
    actor: Actor,
    db: Database,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    done: str | None = None,
    status: int = 200,
) -> Response:
    now = utcnow()
    rows = []
    for o in db.read(lambda s: offers.list_offers(session=s)):
        running = o.active and o.starts_at <= now < o.ends_at
        state = "running" if running else "scheduled" if o.active and now < o.starts_at else "ended"
        rows.append((o, state))
    context: dict[str, Any] = {
        "actor": actor,
        "offers": rows,
        "states": OFFER_STATES,
        "may_manage": actor.can(P.LOYALTY_MANAGE),
        "errors": errors or {},
        "form": form or {},
        "done": done,
    }
    return TEMPLATES.TemplateResponse(request, "loyalty/offers.html", context, status_code=status)


@router.get("/loyalty/offers", response_class=HTMLResponse)
def offers_page(request: Request, actor: CurrentActor, db: Db, done: str | None = None) -> Response:
    return _page(request, actor, db, done=done if done in ("created", "ended") else None)


def offer_from_form(form: dict[str, Any]) -> OfferCreate:
    return OfferCreate.model_validate(
        {
            "code": form["code"].strip(),
            "name": form["name"].strip(),
            "price_fen": parse_fen(form["price"], "price"),
            "percent_off_bp": parse_scaled(form["percent"], "percent", BP // 100) or 0,
            "skus": split_codes(form["skus"]),
            "categories": split_names(form["categories"]),
            "tiers": split_codes(form["tiers"]),
            "store_codes": split_codes(form["store_codes"]),
            "starts_at": local_time(form["starts_at"]),
            "ends_at": local_time(form["ends_at"]),
            "quota_units": parse_int(form["quota_units"], "quota_units"),
            "quota_members": parse_int(form["quota_members"], "quota_members"),
        }
    )


@router.post("/loyalty/offers", response_class=HTMLResponse)
def create_offer(
    request: Request,
    actor: CurrentActor,
    db: Db,
    code: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    price: Annotated[str, Form(max_length=20)] = "",
    percent: Annotated[str, Form(max_length=20)] = "",
    skus: Annotated[str, Form(max_length=20000)] = "",
    categories: Annotated[str, Form(max_length=4000)] = "",
    tiers: Annotated[str, Form(max_length=400)] = "",
    store_codes: Annotated[str, Form(max_length=4000)] = "",
    starts_at: Annotated[str, Form(max_length=30)] = "",
    ends_at: Annotated[str, Form(max_length=30)] = "",
    quota_units: Annotated[str, Form(max_length=12)] = "",
    quota_members: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """A member price or percentage off, for tiers and a time, with an optional quota."""
    form: dict[str, Any] = {
        "code": code, "name": name, "price": price, "percent": percent, "skus": skus,
        "categories": categories, "tiers": tiers, "store_codes": store_codes,
        "starts_at": starts_at, "ends_at": ends_at, "quota_units": quota_units,
        "quota_members": quota_members,
    }  # fmt: skip
    errors: dict[str, str] = {}
    try:
        offer_in = offer_from_form(form)
        db.write(lambda s: offers.create_offer(session=s, offer_in=offer_in, actor=actor))
    except ValidationError as exc:
        errors = field_errors(exc, OFFER_FIELDS)
    except PatronError as exc:
        errors[error_field(exc, "code")] = message_for(exc)
    if errors:
        return _page(request, actor, db, errors=errors, form=form, status=422)
    return RedirectResponse("/loyalty/offers?done=created", 303)


@router.post("/loyalty/offers/{code}/end", response_class=HTMLResponse)
def end_offer(code: Code, actor: CurrentActor, db: Db) -> Response:
    db.write(lambda s: offers.end_offer(session=s, code=code, actor=actor))
    return RedirectResponse("/loyalty/offers?done=ended", 303)
