"""The gifts-for-points screen (积分换礼): the catalogue with its stock, a new gift, taking a
gift for a member at the console, the latest redemptions (cancel one) and the month's
figures. A store-bound role sees its own stores' stock and redemptions.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import PatronError
from patron.loyalty import gifts
from patron.loyalty.reward_schemas import RedeemIn, RewardCreate
from patron.staff.roles import Permission as P
from patron.web.deps import Db, PathId
from patron.web.forms import (
    error_field,
    field_errors,
    local_time,
    parse_fen,
    parse_int,
    split_codes,
)
from patron.web.i18n import N_
from patron.web.messages import message_for
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)
Code = Annotated[str, Path(max_length=64)]

REWARD_KINDS = {"product": N_("Goods"), "coupon": N_("Coupon"), "service": N_("Service")}
FULFILMENT = {"pickup": N_("Pick-up in store"), "delivery": N_("Delivery")}
REDEMPTION_STATES = {"redeemed": N_("redeemed"), "cancelled": N_("cancelled")}
GIFT_FIELDS = {"cash_fen": "cash", "store_stock": "store_stock", "points": "points"}
DONE = ("created", "ended", "redeemed", "cancelled")


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

    def read(s: Any) -> dict[str, Any]:
        return {
            "rewards": gifts.list_rewards(session=s, store_ids=actor.store_ids),
            "redemptions": gifts.list_redemptions(session=s, store_ids=actor.store_ids, limit=50),
            "report": gifts.reward_report(
                session=s, start=now - timedelta(days=30), end=now, store_ids=actor.store_ids
            ),
        }

    context: dict[str, Any] = {
        "actor": actor,
        **db.read(read),
        "kinds": REWARD_KINDS,
        "fulfilment": FULFILMENT,
        "states": REDEMPTION_STATES,
        "may_manage": actor.can(P.LOYALTY_MANAGE),
        "may_redeem": actor.can(P.LOYALTY_WRITE),
        "errors": errors or {},
        "form": form or {"kind": "service", "fulfilment": ["pickup"]},
        "done": done,
        "redeem_key": secrets.token_hex(12),  # one redemption per form shown
    }
    return TEMPLATES.TemplateResponse(request, "loyalty/gifts.html", context, status_code=status)


@router.get("/loyalty/gifts", response_class=HTMLResponse)
def gifts_page(request: Request, actor: CurrentActor, db: Db, done: str | None = None) -> Response:
    return _page(request, actor, db, done=done if done in DONE else None)


def _store_stock(text: str) -> list[dict[str, Any]]:
    """ "SH01:10, SH02:5" → per-store stock."""
    out = []
    for item in split_codes(text):
        code, _, stock = item.partition(":")
        out.append({"store_code": code, "stock": parse_int(stock, "store_stock") or 0})
    return out


def reward_from_form(form: dict[str, Any]) -> RewardCreate:
    return RewardCreate.model_validate(
        {
            "code": form["code"].strip(),
            "name": form["name"].strip(),
            "kind": form["kind"],
            "points": parse_int(form["points"], "points"),
            "cash_fen": parse_fen(form["cash"], "cash") or 0,
            "sku": form["sku"].strip() or None,
            "coupon_template_code": form["coupon_template_code"].strip() or None,
            "tiers": split_codes(form["tiers"]),
            "fulfilment": form["fulfilment"] or ["pickup"],
            "per_member_limit": parse_int(form["per_member_limit"], "per_member_limit"),
            "limit_period": form["limit_period"] or "ever",
            "starts_at": local_time(form["starts_at"]),
            "ends_at": local_time(form["ends_at"]),
            "image_url": form["image_url"].strip() or None,
            "stock": parse_int(form["stock"], "stock"),
            "store_stock": _store_stock(form["store_stock"]),
        }
    )


@router.post("/loyalty/gifts", response_class=HTMLResponse)
def create_gift(
    request: Request,
    actor: CurrentActor,
    db: Db,
    code: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=16)] = "service",
    points: Annotated[str, Form(max_length=14)] = "",
    cash: Annotated[str, Form(max_length=20)] = "",
    sku: Annotated[str, Form(max_length=64)] = "",
    coupon_template_code: Annotated[str, Form(max_length=64)] = "",
    tiers: Annotated[str, Form(max_length=400)] = "",
    fulfilment: Annotated[list[str] | None, Form()] = None,
    per_member_limit: Annotated[str, Form(max_length=10)] = "",
    limit_period: Annotated[str, Form(max_length=8)] = "ever",
    starts_at: Annotated[str, Form(max_length=30)] = "",
    ends_at: Annotated[str, Form(max_length=30)] = "",
    image_url: Annotated[str, Form(max_length=500)] = "",
    stock: Annotated[str, Form(max_length=12)] = "",
    store_stock: Annotated[str, Form(max_length=20000)] = "",
) -> Response:
    """A new gift in the points catalogue (audited)."""
    form: dict[str, Any] = {
        "code": code, "name": name, "kind": kind, "points": points, "cash": cash, "sku": sku,
        "coupon_template_code": coupon_template_code, "tiers": tiers,
        "fulfilment": fulfilment or [], "per_member_limit": per_member_limit,
        "limit_period": limit_period, "starts_at": starts_at, "ends_at": ends_at,
        "image_url": image_url, "stock": stock, "store_stock": store_stock,
    }  # fmt: skip
    errors: dict[str, str] = {}
    try:
        reward_in = reward_from_form(form)
        db.write(lambda s: gifts.create_reward(session=s, reward_in=reward_in, actor=actor))
    except ValidationError as exc:
        errors = field_errors(exc, GIFT_FIELDS)
    except PatronError as exc:
        errors[error_field(exc, "code").split(".")[0]] = message_for(exc)
    if errors:
        return _page(request, actor, db, errors=errors, form=form, status=422)
    return RedirectResponse("/loyalty/gifts?done=created", 303)


@router.post("/loyalty/gifts/{code}/end", response_class=HTMLResponse)
def end_gift(code: Code, actor: CurrentActor, db: Db) -> Response:
    db.write(lambda s: gifts.end_reward(session=s, code=code, actor=actor))
    return RedirectResponse("/loyalty/gifts?done=ended", 303)


@router.post("/loyalty/gifts/redeem", response_class=HTMLResponse)
def redeem_gift(
    request: Request,
    actor: CurrentActor,
    db: Db,
    customer_id: Annotated[str, Form(max_length=20)] = "",
    reward_code: Annotated[str, Form(max_length=64)] = "",
    store_code: Annotated[str, Form(max_length=64)] = "",
    fulfilment: Annotated[str, Form(max_length=16)] = "pickup",
    idempotency_key: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Take a gift for a member at the console, for points (once per form shown)."""
    form = {"customer_id": customer_id, "reward_code": reward_code, "store_code": store_code,
            "fulfilment": fulfilment}  # fmt: skip
    errors: dict[str, str] = {}
    try:
        redeem_in = RedeemIn.model_validate(
            {
                "customer_id": parse_int(customer_id, "customer_id"),
                "reward_code": reward_code.strip(),
                "store_code": store_code.strip() or None,
                "fulfilment": fulfilment,
                "channel": "console",
                "idempotency_key": idempotency_key or secrets.token_hex(12),
            }
        )
        db.write(
            lambda s: gifts.redeem_reward(
                session=s, redeem_in=redeem_in, store_ids=actor.store_ids, staff=actor.name
            )
        )
    except ValidationError as exc:
        errors = {f"redeem_{k}": v for k, v in field_errors(exc).items()}
    except PatronError as exc:
        errors[f"redeem_{error_field(exc, 'reward_code')}"] = message_for(exc)
    if errors:
        return _page(request, actor, db, errors=errors, form=form, status=422)
    return RedirectResponse("/loyalty/gifts?done=redeemed", 303)


@router.post("/loyalty/gifts/redemptions/{redemption_id}/cancel", response_class=HTMLResponse)
def cancel_redemption(redemption_id: PathId, actor: CurrentActor, db: Db) -> Response:
    """Undo a redemption whole: points back to the lots that paid, the unit back to stock."""
    db.write(lambda s: gifts.cancel_redemption(session=s, redemption_id=redemption_id, actor=actor))
    return RedirectResponse("/loyalty/gifts?done=cancelled", 303)
