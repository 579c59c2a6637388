"""The lucky draws screens: the list and a new draw with its prizes, one draw with its results,
and the check of every draw against the published seed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import Conflict, InvalidInput
from patron.loyalty import coupons, lottery
from patron.loyalty.pages.titles import (
    PRIZE_KINDS,
)
from patron.loyalty.schemas import (
    LotteryCreate,
)
from patron.staff.roles import Permission as P
from patron.web.deps import Db
from patron.web.forms import (
    error_field,
    field_errors,
    local_time,
    parse_int,
    parse_scaled,
    rows_errors,
)
from patron.web.i18n import N_
from patron.web.messages import message_for
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)
Code = Annotated[str, Path(max_length=64)]

DRAWS_SHOWN = 50


PRIZE_ROWS = 5  # empty prize rows a new lottery's form offers


PRIZE_LABELS = {  # a prize's fields as the lottery form's columns name them
    "code": N_("Prize code"),
    "name": N_("Title"),
    "kind": N_("Kind"),
    "points": N_("Points"),
    "coupon_template_code": N_("Coupon template"),
    "gift_sku": N_("Gift SKU"),
    "chance_ppm": N_("Chance, in percent"),
    "stock": N_("Stock"),
}


LOTTERY_FIELDS = {"cost_points": "cost_points"}


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _lotteries_page(
    request: Request,
    actor: Actor,
    db: Database,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    now = utcnow()
    found = db.read(lambda s: lottery.list_lotteries(session=s, now=now))
    blank = {"code": "", "name": "", "kind": "points", "points": "", "coupon": "",
             "gift": "", "chance": "", "stock": ""}  # fmt: skip
    prizes = list((form or {}).get("prizes", []))
    prizes += [dict(blank) for _ in range(max(PRIZE_ROWS - len(prizes), 0))]
    context: dict[str, Any] = {
        "actor": actor,
        "lotteries": found,
        "now": now,
        "may_manage": actor.can(P.LOYALTY_MANAGE),
        "prize_kinds": PRIZE_KINDS,
        "errors": errors or {},
        "form": form or {},
        "prizes": prizes,
        "templates": db.read(lambda s: coupons.list_coupon_templates(session=s)),
    }
    return TEMPLATES.TemplateResponse(
        request, "loyalty/lotteries.html", context, status_code=status
    )


@router.get("/loyalty/lotteries", response_class=HTMLResponse)
def lotteries_page(request: Request, actor: CurrentActor, db: Db) -> Response:
    return _lotteries_page(request, actor, db)


def _chance_ppm(text: str, field: str) -> int | None:
    """A chance typed in percent ("0.5" is one draw in 200) → millionths."""
    return parse_scaled(text, field, 10_000)


def lottery_from_form(form: dict[str, Any]) -> LotteryCreate:
    prizes: list[dict[str, Any]] = []
    for i, row in enumerate(form["prizes"]):
        if not any(str(v).strip() for k, v in row.items() if k != "kind"):
            continue  # an empty row
        field = f"prizes.{len(prizes)}"
        row["index"] = i  # a filled row: errors named prizes.<n> are shown here
        kind = row["kind"]
        prizes.append(
            {
                "code": row["code"].strip(),
                "name": row["name"].strip(),
                "kind": kind,
                "points": (parse_int(row["points"], f"{field}.points") or 0)
                if kind == "points"
                else 0,
                "coupon_template_code": (row["coupon"].strip() or None)
                if kind == "coupon"
                else None,
                "gift_sku": (row["gift"].strip() or None) if kind == "gift" else None,
                "chance_ppm": _chance_ppm(row["chance"], f"{field}.chance_ppm"),
                "stock": parse_int(row["stock"], f"{field}.stock"),
            }
        )
    return LotteryCreate.model_validate(
        {
            "code": form["code"].strip(),
            "name": form["name"].strip(),
            "starts_at": local_time(form["starts_at"]),
            "ends_at": local_time(form["ends_at"]),
            "cost_points": parse_int(form["cost_points"], "cost_points") or 0,
            "daily_draws_per_customer": parse_int(form["daily_draws"], "daily_draws_per_customer"),
            "prizes": prizes,
        }
    )


@router.post("/loyalty/lotteries", response_class=HTMLResponse)
def create_lottery(
    request: Request,
    actor: CurrentActor,
    db: Db,
    code: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    starts_at: Annotated[str, Form(max_length=30)] = "",
    ends_at: Annotated[str, Form(max_length=30)] = "",
    cost_points: Annotated[str, Form(max_length=15)] = "",
    daily_draws: Annotated[str, Form(max_length=10)] = "",
    prize_code: Annotated[list[str] | None, Form()] = None,
    prize_name: Annotated[list[str] | None, Form()] = None,
    prize_kind: Annotated[list[str] | None, Form()] = None,
    prize_points: Annotated[list[str] | None, Form()] = None,
    prize_coupon: Annotated[list[str] | None, Form()] = None,
    prize_gift: Annotated[list[str] | None, Form()] = None,
    prize_chance: Annotated[list[str] | None, Form()] = None,
    prize_stock: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """A lucky draw with its prizes; the seed's hash is published at once (audited)."""
    columns = {
        "code": prize_code, "name": prize_name, "kind": prize_kind, "points": prize_points,
        "coupon": prize_coupon, "gift": prize_gift, "chance": prize_chance,
        "stock": prize_stock,
    }  # fmt: skip
    count = min(max((len(v or []) for v in columns.values()), default=0), 50)
    rows = [
        {k: str((v or [])[i])[:120] if i < len(v or []) else "" for k, v in columns.items()}
        for i in range(count)
    ]
    for row in rows:
        row["kind"] = row["kind"] if row["kind"] in PRIZE_KINDS else "points"
    form: dict[str, Any] = {
        "code": code, "name": name, "starts_at": starts_at, "ends_at": ends_at,
        "cost_points": cost_points, "daily_draws": daily_draws, "prizes": rows,
    }  # fmt: skip
    errors: dict[str, str] = {}
    try:
        lottery_in = lottery_from_form(form)
        db.write(
            lambda s: lottery.create_lottery(
                session=s, lottery_in=lottery_in, actor=actor, now=utcnow()
            )
        )
    except ValidationError as exc:
        errors = field_errors(exc, {"daily_draws_per_customer": "daily_draws"}, keep_index=True)
    except (InvalidInput, Conflict) as exc:  # a box the form could not read, a code in use
        errors[error_field(exc, "code")] = message_for(exc)
    if errors:
        errors = rows_errors(errors, rows, items="prizes", key="prize", labels=PRIZE_LABELS)
        for row in rows:
            row.pop("index", None)
        return _lotteries_page(request, actor, db, errors=errors, form=form, status=422)
    return RedirectResponse(f"/loyalty/lotteries/{lottery_in.code}", 303)


@router.get("/loyalty/lotteries/{code}", response_class=HTMLResponse)
def lottery_page(request: Request, code: Code, actor: CurrentActor, db: Db) -> Response:
    now = utcnow()

    def read(s: Session) -> tuple[Any, list[Any]]:
        found = lottery.get_lottery(session=s, code=code, now=now)
        draws = lottery.list_draws(
            session=s, lottery_code=code, limit=DRAWS_SHOWN, store_ids=actor.store_ids
        )
        return found, draws

    found, draws = db.read(read)
    context = {
        "actor": actor,
        "lottery": found,
        "draws": draws,
        "now": now,
        "prize_kinds": PRIZE_KINDS,
        "may_check": actor.can(P.LOYALTY_MANAGE),
        "scoped": actor.store_ids is not None,
    }
    return TEMPLATES.TemplateResponse(request, "loyalty/lottery.html", context)


@router.get("/loyalty/lotteries/{code}/check", response_class=HTMLResponse)
def check_lottery(request: Request, code: Code, actor: CurrentActor, db: Db) -> Response:
    """Recompute every draw from the seed; the answer replaces the button's result box."""
    result = db.read(lambda s: lottery.check_draws(session=s, lottery_code=code))
    template = "loyalty/_check.html" if _is_htmx(request) else "loyalty/check.html"
    return TEMPLATES.TemplateResponse(request, template, {"actor": actor, "check": result})
