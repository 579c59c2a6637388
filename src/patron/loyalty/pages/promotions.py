"""The promotions screen: bonus-points offers and spend-threshold gifts (满额赠礼), new ones
and ending one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import Conflict, InvalidInput
from patron.loyalty import promotions
from patron.loyalty.pages.titles import (
    PROMOTION_KINDS,
    PROMOTION_STATES,
    WEEKDAYS,
)
from patron.loyalty.rules import BP
from patron.loyalty.schemas import (
    PromotionCreate,
    PromotionRead,
)
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
)
from patron.web.messages import message_for
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)
Code = Annotated[str, Path(max_length=64)]


def promotion_state(promotion: PromotionRead, now: datetime) -> str:
    if promotion.active and promotion.starts_at <= now < promotion.ends_at:
        return "running"
    if promotion.active and now < promotion.starts_at:
        return "scheduled"
    return "ended"


PROMOTION_FIELDS = {"threshold_fen": "threshold", "multiplier_bp": "multiplier"}


def _promotions_page(
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
    found = db.read(lambda s: promotions.list_promotions(session=s))
    rows = [(p, promotion_state(p, now)) for p in found]
    context: dict[str, Any] = {
        "actor": actor,
        "current": [(p, st) for p, st in rows if st != "ended"],
        "ended": [(p, st) for p, st in rows if st == "ended"],
        "kinds": PROMOTION_KINDS,
        "states": PROMOTION_STATES,
        "weekdays": WEEKDAYS,
        "may_manage": actor.can(P.LOYALTY_MANAGE),
        "errors": errors or {},
        "form": form or {"kind": "bonus_points", "multiplier": "2", "weekdays": []},
        "done": done,
    }
    return TEMPLATES.TemplateResponse(
        request, "loyalty/promotions.html", context, status_code=status
    )


@router.get("/loyalty/promotions", response_class=HTMLResponse)
def promotions_page(
    request: Request, actor: CurrentActor, db: Db, done: str | None = None
) -> Response:
    return _promotions_page(request, actor, db, done=done if done in ("created", "ended") else None)


def _multiplier_bp(text: str) -> int:
    value = parse_scaled(text, "multiplier", BP)
    return BP if value is None else value


def promotion_from_form(form: dict[str, Any]) -> PromotionCreate:
    kind = form["kind"]
    gift = kind == "threshold_gift"
    return PromotionCreate.model_validate(
        {
            "code": form["code"].strip(),
            "name": form["name"].strip(),
            "kind": kind,
            "starts_at": local_time(form["starts_at"]),
            "ends_at": local_time(form["ends_at"]),
            "weekdays": form["weekdays"],
            "store_codes": split_codes(form["store_codes"]),
            "channels": split_codes(form["channels"]),
            "categories": split_codes(form["categories"]),
            "skus": split_codes(form["skus"]),
            "multiplier_bp": 10_000 if gift else _multiplier_bp(form["multiplier"]),
            "threshold_fen": (parse_fen(form["threshold"], "threshold") or 0) if gift else 0,
            "gift_sku": (form["gift_sku"].strip() or None) if gift else None,
            "gift_name": (form["gift_name"].strip() or None) if gift else None,
            "stock": parse_int(form["stock"], "stock") if gift else None,
            "per_customer_limit": parse_int(form["per_customer_limit"], "per_customer_limit")
            if gift
            else None,
        }
    )


@router.post("/loyalty/promotions", response_class=HTMLResponse)
def create_promotion(
    request: Request,
    actor: CurrentActor,
    db: Db,
    code: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=20)] = "bonus_points",
    starts_at: Annotated[str, Form(max_length=30)] = "",
    ends_at: Annotated[str, Form(max_length=30)] = "",
    weekdays: Annotated[list[int] | None, Form()] = None,
    store_codes: Annotated[str, Form(max_length=4000)] = "",
    channels: Annotated[str, Form(max_length=400)] = "",
    categories: Annotated[str, Form(max_length=4000)] = "",
    skus: Annotated[str, Form(max_length=20000)] = "",
    multiplier: Annotated[str, Form(max_length=20)] = "",
    threshold: Annotated[str, Form(max_length=20)] = "",
    gift_sku: Annotated[str, Form(max_length=64)] = "",
    gift_name: Annotated[str, Form(max_length=200)] = "",
    stock: Annotated[str, Form(max_length=12)] = "",
    per_customer_limit: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """A bonus-points offer (a window, weekdays such as 会员日, some goods) or 满额赠礼."""
    form: dict[str, Any] = {
        "code": code, "name": name, "kind": kind, "starts_at": starts_at, "ends_at": ends_at,
        "weekdays": weekdays or [], "store_codes": store_codes, "channels": channels,
        "categories": categories, "skus": skus, "multiplier": multiplier,
        "threshold": threshold, "gift_sku": gift_sku, "gift_name": gift_name, "stock": stock,
        "per_customer_limit": per_customer_limit,
    }  # fmt: skip
    errors: dict[str, str] = {}
    try:
        promotion_in = promotion_from_form(form)
        db.write(
            lambda s: promotions.create_promotion(session=s, promotion_in=promotion_in, actor=actor)
        )
    except ValidationError as exc:
        errors = field_errors(exc, PROMOTION_FIELDS)
    except (InvalidInput, Conflict) as exc:  # a box the form could not read, a code in use
        errors[error_field(exc, "code")] = message_for(exc)
    if errors:
        return _promotions_page(request, actor, db, errors=errors, form=form, status=422)
    return RedirectResponse("/loyalty/promotions?done=created", 303)


@router.post("/loyalty/promotions/{code}/end", response_class=HTMLResponse)
def end_promotion(code: Code, actor: CurrentActor, db: Db) -> Response:
    """Switch a promotion off now (audited); it stays on record."""
    db.write(lambda s: promotions.end_promotion(session=s, code=code, actor=actor))
    return RedirectResponse("/loyalty/promotions?done=ended", 303)
