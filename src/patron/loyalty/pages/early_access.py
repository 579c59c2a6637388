"""The member rights screen: early access (优先购买权) to goods, categories and offers by
tier, and each tier's birthday coupon."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from patron.core.actor import Actor
from patron.core.db import Database
from patron.core.errors import PatronError
from patron.loyalty import birthdays, early_access
from patron.loyalty.reward_schemas import BirthdayCouponIn, EarlyAccessCreate
from patron.staff.roles import Permission as P
from patron.web.deps import Db
from patron.web.forms import (
    FormError,
    error_field,
    field_errors,
    local_time,
    parse_int,
    split_codes,
)
from patron.web.i18n import N_
from patron.web.messages import message_for
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

TARGET_KINDS = {"sku": N_("SKU"), "category": N_("Category"), "offer": N_("Member offer")}


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
    context: dict[str, Any] = {
        "actor": actor,
        "rules": db.read(lambda s: early_access.list_early_access(session=s)),
        "birthday_coupons": db.read(lambda s: birthdays.list_birthday_coupons(session=s)),
        "target_kinds": TARGET_KINDS,
        "may_manage": actor.can(P.LOYALTY_MANAGE),
        "errors": errors or {},
        "form": form or {"target_kind": "sku", "tier_days": "gold:0", "everyone_day": "3"},
        "done": done,
    }
    return TEMPLATES.TemplateResponse(
        request, "loyalty/early_access.html", context, status_code=status
    )


@router.get("/loyalty/early-access", response_class=HTMLResponse)
def early_access_page(
    request: Request, actor: CurrentActor, db: Db, done: str | None = None
) -> Response:
    return _page(request, actor, db, done=done if done in ("saved", "birthday") else None)


def _tier_days(text: str) -> dict[str, int]:
    """ "gold:0, silver:1" → tier → day."""
    out = {}
    for item in split_codes(text):
        tier, sep, day = item.partition(":")
        if not sep:
            raise FormError("tier_days", "int_parsing")
        out[tier] = parse_int(day, "tier_days") or 0
    return out


@router.post("/loyalty/early-access", response_class=HTMLResponse)
def set_early_access(
    request: Request,
    actor: CurrentActor,
    db: Db,
    target_kind: Annotated[str, Form(max_length=16)] = "sku",
    target: Annotated[str, Form(max_length=255)] = "",
    opens_at: Annotated[str, Form(max_length=30)] = "",
    tier_days: Annotated[str, Form(max_length=400)] = "",
    everyone_day: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    """Who may buy first, and from which day after the opening (audited)."""
    form = {"target_kind": target_kind, "target": target, "opens_at": opens_at,
            "tier_days": tier_days, "everyone_day": everyone_day}  # fmt: skip
    errors: dict[str, str] = {}
    try:
        access_in = EarlyAccessCreate.model_validate(
            {
                "target_kind": target_kind,
                "target": target.strip(),
                "opens_at": local_time(opens_at),
                "tier_days": _tier_days(tier_days),
                "everyone_day": parse_int(everyone_day, "everyone_day") or 0,
            }
        )
        db.write(
            lambda s: early_access.set_early_access(session=s, access_in=access_in, actor=actor)
        )
    except ValidationError as exc:
        errors = field_errors(exc)
    except PatronError as exc:
        errors[error_field(exc, "target")] = message_for(exc)
    if errors:
        return _page(request, actor, db, errors=errors, form=form, status=422)
    return RedirectResponse("/loyalty/early-access?done=saved", 303)


@router.post("/loyalty/birthday-coupons", response_class=HTMLResponse)
def set_birthday_coupon(
    request: Request,
    actor: CurrentActor,
    db: Db,
    tier_code: Annotated[str, Form(max_length=64)] = "",
    template_code: Annotated[str, Form(max_length=64)] = "",
    valid_days: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    """A tier's birthday coupon (audited)."""
    errors: dict[str, str] = {}
    try:
        rule_in = BirthdayCouponIn.model_validate(
            {
                "tier_code": tier_code.strip(),
                "template_code": template_code.strip(),
                "valid_days": parse_int(valid_days, "valid_days") or 7,
            }
        )
        db.write(lambda s: birthdays.set_birthday_coupon(session=s, rule_in=rule_in, actor=actor))
    except ValidationError as exc:
        errors = field_errors(exc)
    except PatronError as exc:
        errors[error_field(exc, "template_code")] = message_for(exc)
    if errors:
        return _page(request, actor, db, errors=errors, status=422)
    return RedirectResponse("/loyalty/early-access?done=birthday", 303)
