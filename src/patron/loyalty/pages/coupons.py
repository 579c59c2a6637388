"""The coupon templates screen: the templates with their issue and redemption figures, a new
template, and issuing coupons to one member or a pasted list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import InvalidInput, NotFound
from patron.customers.masking import mask_tail
from patron.loyalty import coupons, reports
from patron.loyalty.exceptions import CouponLimitReached
from patron.loyalty.pages.scope import check_member_in_scope
from patron.loyalty.pages.titles import (
    COUPON_KINDS,
)
from patron.loyalty.schemas import (
    BulkIssueRead,
    CouponIssue,
    CouponRead,
    CouponTemplateCreate,
)
from patron.staff.roles import Permission as P
from patron.web.deps import Db
from patron.web.forms import (
    FormError,
    error_field,
    field_errors,
    local_time,
    parse_decimal,
    parse_fen,
    parse_int,
    split_codes,
)
from patron.web.messages import message_for
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

MAX_AUDIENCE = 100_000  # customer ids pasted for one bulk issue


def _customer_ids(text: str) -> list[int]:
    """Customer ids pasted one a line (or separated by commas or spaces)."""
    ids = []
    for n, token in enumerate(split_codes(text), start=1):
        if not token.isdigit() or not 0 < int(token) < 2**63:
            raise FormError("customer_ids", "not_customer_id_item", n=n)
        ids.append(int(token))
    if not ids:
        raise FormError("customer_ids", "no_customer_ids")
    if len(ids) > MAX_AUDIENCE:
        raise FormError("customer_ids", "too_many_customer_ids")
    return ids


TEMPLATE_FIELDS = {
    "threshold_fen": "threshold",
    "amount_off_fen": "amount_off",
    "cap_fen": "cap",
    "scope.store_codes": "store_codes",
    "scope.category_prefixes": "categories",
    "scope.channels": "channels",
    "scope.skus": "skus",
}


@dataclass(frozen=True, slots=True)
class TemplateRow:
    template: Any  # CouponTemplateRead
    issued: int
    redeemed: int
    expired_unused: int
    redemption_rate: float


def _templates_page(
    request: Request,
    actor: Actor,
    db: Database,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    issue_errors: dict[str, str] | None = None,
    issue_form: dict[str, str] | None = None,
    issued: CouponRead | None = None,
    bulk: BulkIssueRead | None = None,
    created: str | None = None,
    status: int = 200,
) -> Response:
    def read(s: Session) -> list[TemplateRow]:
        stats = {c.template_code: c for c in reports.coupon_stats(session=s, now=utcnow())}
        rows = []
        for t in coupons.list_coupon_templates(session=s):
            c = stats.get(t.code)
            rows.append(
                TemplateRow(
                    t,
                    c.issued if c else 0,
                    c.redeemed if c else 0,
                    c.expired_unused if c else 0,
                    c.redemption_rate if c else 0.0,
                )
            )
        return rows

    context: dict[str, Any] = {
        "actor": actor,
        "rows": db.read(read),
        "kinds": COUPON_KINDS,
        "may_manage": actor.can(P.LOYALTY_MANAGE),
        "errors": errors or {},
        "form": form or {"kind": "amount_off", "validity": "relative", "valid_days": "30"},
        "issue_errors": issue_errors or {},
        "issue_form": issue_form or {},
        "issued": issued,
        "issued_code": mask_tail(issued.code) if issued else None,
        "bulk": bulk,
        "created": created,
    }
    return TEMPLATES.TemplateResponse(
        request, "loyalty/coupon_templates.html", context, status_code=status
    )


@router.get("/loyalty/coupon-templates", response_class=HTMLResponse)
def coupon_templates_page(
    request: Request, actor: CurrentActor, db: Db, created: str | None = None
) -> Response:
    return _templates_page(request, actor, db, created=created[:64] if created else None)


def template_from_form(form: dict[str, Any]) -> CouponTemplateCreate:
    """The coupon template a create form describes (FormError or ValidationError if not)."""
    kind = form["kind"]
    fixed = form["validity"] == "fixed"
    return CouponTemplateCreate.model_validate(
        {
            "code": form["code"].strip(),
            "name": form["name"].strip(),
            "kind": kind,
            "threshold_fen": parse_fen(form["threshold"], "threshold") or 0,
            "amount_off_fen": (parse_fen(form["amount_off"], "amount_off") or 0)
            if kind == "amount_off"
            else 0,
            "percent_off": parse_decimal(form["percent_off"], "percent_off")
            if kind == "percent_off"
            else None,
            "cap_fen": parse_fen(form["cap"], "cap") if kind == "percent_off" else None,
            "gift_sku": (form["gift_sku"].strip() or None) if kind == "gift_item" else None,
            "valid_from": local_time(form["valid_from"]),
            "valid_to": local_time(form["valid_to"]) if fixed else None,
            "valid_days": parse_int(form["valid_days"], "valid_days") if not fixed else None,
            "scope": {
                "store_codes": split_codes(form["store_codes"]),
                "category_prefixes": split_codes(form["categories"]),
                "channels": split_codes(form["channels"]),
                "skus": split_codes(form.get("skus") or ""),
            },
            "per_customer_limit": parse_int(form["per_customer_limit"], "per_customer_limit"),
            "stackable": bool(form["stackable"]),
        }
    )


@router.post("/loyalty/coupon-templates", response_class=HTMLResponse)
def create_coupon_template(
    request: Request,
    actor: CurrentActor,
    db: Db,
    code: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=20)] = "amount_off",
    threshold: Annotated[str, Form(max_length=20)] = "",
    amount_off: Annotated[str, Form(max_length=20)] = "",
    percent_off: Annotated[str, Form(max_length=20)] = "",
    cap: Annotated[str, Form(max_length=20)] = "",
    gift_sku: Annotated[str, Form(max_length=64)] = "",
    validity: Annotated[str, Form(max_length=10)] = "relative",
    valid_from: Annotated[str, Form(max_length=30)] = "",
    valid_to: Annotated[str, Form(max_length=30)] = "",
    valid_days: Annotated[str, Form(max_length=10)] = "",
    store_codes: Annotated[str, Form(max_length=4000)] = "",
    categories: Annotated[str, Form(max_length=4000)] = "",
    skus: Annotated[str, Form(max_length=20000)] = "",
    channels: Annotated[str, Form(max_length=400)] = "",
    per_customer_limit: Annotated[str, Form(max_length=10)] = "",
    stackable: Annotated[str | None, Form(max_length=8)] = None,
) -> Response:
    """A new coupon template: 满减, percent off with a cap, a gift or free delivery."""
    form: dict[str, Any] = {
        "code": code, "name": name, "kind": kind, "threshold": threshold,
        "amount_off": amount_off, "percent_off": percent_off, "cap": cap, "gift_sku": gift_sku,
        "validity": "fixed" if validity == "fixed" else "relative", "valid_from": valid_from,
        "valid_to": valid_to, "valid_days": valid_days, "store_codes": store_codes,
        "categories": categories, "skus": skus, "channels": channels,
        "per_customer_limit": per_customer_limit, "stackable": stackable == "on",
    }  # fmt: skip
    errors: dict[str, str] = {}
    try:
        template_in = template_from_form(form)
        db.write(lambda s: coupons.create_coupon_template(session=s, template_in=template_in))
    except ValidationError as exc:
        errors = field_errors(exc, TEMPLATE_FIELDS)
    except InvalidInput as exc:  # a box the form could not read, or a code in use
        errors[error_field(exc)] = message_for(exc)
    if errors:
        return _templates_page(request, actor, db, errors=errors, form=form, status=422)
    return RedirectResponse(f"/loyalty/coupon-templates?created={template_in.code}", 303)


# Where an issuing form shows a refusal that names no field.
_ISSUE_FIELDS = {"customer_not_found": "customer_id", "coupon_limit_reached": "customer_id"}


@router.post("/loyalty/coupons", response_class=HTMLResponse)
def issue_coupon(
    request: Request,
    actor: CurrentActor,
    db: Db,
    template_code: Annotated[str, Form(max_length=64)] = "",
    customer_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """One coupon of a template to one member, by customer id."""
    issue_form = {"template_code": template_code, "customer_id": customer_id, "to": "one"}
    errors: dict[str, str] = {}
    issued: CouponRead | None = None
    try:
        wanted = parse_int(customer_id, "customer_id")
        if wanted is None or wanted < 1:
            raise FormError("customer_id", "no_customer_id")
        issue_in = CouponIssue(template_code=template_code.strip(), customer_id=wanted)
        issued = db.write(lambda s: issue_to_member(session=s, actor=actor, issue_in=issue_in))
    except ValidationError as exc:
        errors = field_errors(exc)
    except (InvalidInput, CouponLimitReached, NotFound) as exc:
        errors[error_field(exc, _ISSUE_FIELDS.get(exc.code, "template_code"))] = message_for(exc)
    status = 422 if errors else 200
    return _templates_page(
        request, actor, db, issue_errors=errors, issue_form=issue_form, issued=issued,
        status=status,
    )  # fmt: skip


def issue_to_member(*, session: Session, actor: Actor, issue_in: CouponIssue) -> CouponRead:
    """Issue one coupon, once it is known this actor's stores may see the member."""
    check_member_in_scope(session, actor, issue_in.customer_id)
    return coupons.issue_coupon(session=session, issue_in=issue_in)


@router.post("/loyalty/coupons/bulk", response_class=HTMLResponse)
def issue_coupons(
    request: Request,
    actor: CurrentActor,
    db: Db,
    template_code: Annotated[str, Form(max_length=64)] = "",
    customer_ids: Annotated[str, Form(max_length=2_000_000)] = "",
) -> Response:
    """One coupon each to a list of members (audited once, with the counts)."""
    issue_form = {"template_code": template_code, "customer_ids": customer_ids, "to": "many"}
    errors: dict[str, str] = {}
    bulk: BulkIssueRead | None = None
    try:
        code = template_code.strip()
        if not code:
            raise FormError("template_code", "no_template_code")
        ids = _customer_ids(customer_ids)
        bulk = db.write(
            lambda s: coupons.issue_coupons(
                session=s,
                template_code=code,
                customer_ids=ids,
                actor=actor,
                audience="list",
                store_ids=actor.store_ids,
            )
        )
    except (InvalidInput, NotFound) as exc:
        errors[error_field(exc, "template_code")] = message_for(exc)
    if errors:
        return _templates_page(
            request, actor, db, issue_errors=errors, issue_form=issue_form, status=422
        )
    return _templates_page(request, actor, db, bulk=bulk)
