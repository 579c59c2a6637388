"""The loyalty section of the customer 360 page: balance, lots, entries, coupons, referrals;
points adjustments and the referral code. Its forms post here and the answer is the section
again, swapped in place by HTMX.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.errors import InvalidInput
from patron.customers.masking import mask_tail
from patron.loyalty import birthdays, coupons, referrals, tiers
from patron.loyalty import points as ledger_points
from patron.loyalty.accounts import get_programme
from patron.loyalty.exceptions import InsufficientPoints
from patron.loyalty.pages.scope import check_member_in_scope
from patron.loyalty.pages.titles import KIND_TITLES, REFERRAL_STATUSES
from patron.loyalty.schemas import AdjustmentIn
from patron.staff.roles import Permission as P
from patron.web.deps import Db, PathId
from patron.web.forms import FormError, error_field, field_errors, parse_int
from patron.web.i18n import N_
from patron.web.messages import message_for
from patron.web.sections import SectionContext, register_customer_section
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

ENTRIES_SHOWN = 10


def _member_context(session: Session, actor: Actor, customer_id: int) -> dict[str, Any]:
    lots = ledger_points.list_lots(session=session, customer_id=customer_id)
    return {
        "actor": actor,
        "customer_id": customer_id,
        "balance": ledger_points.get_balance(session=session, customer_id=customer_id),
        "tier": tiers.get_tier(session=session, customer_id=customer_id),
        "lots": [lot for lot in lots if lot.remaining > 0],
        "entries": ledger_points.list_entries(
            session=session, customer_id=customer_id, limit=ENTRIES_SHOWN
        ),
        "coupons": [
            (coupon, mask_tail(coupon.code))
            for coupon in coupons.list_customer_coupons(session=session, customer_id=customer_id)
        ],
        "kinds": KIND_TITLES,
        "birthday_coupon": birthdays.birthday_coupon_of(
            session=session,
            customer_id=customer_id,
            year=utcnow().astimezone(get_programme(session).zone).year,
        ),
        "referral_code": referrals.find_referral_code(session=session, customer_id=customer_id),
        "referrals": referrals.list_referrals(session=session, customer_id=customer_id),
        "referral_statuses": REFERRAL_STATUSES,
        "may_adjust": actor.can(P.LOYALTY_MANAGE),
        "may_refer": actor.can(P.LOYALTY_WRITE),
        "errors": {},
        "form": {},
        "done": None,
    }


def _render_member(context: dict[str, Any]) -> str:
    return TEMPLATES.get_template("sections/loyalty.html").render(context)


def render_loyalty(ctx: SectionContext) -> str:
    return _render_member(_member_context(ctx.session, ctx.actor, ctx.customer.id))


def register_sections() -> None:
    register_customer_section("loyalty", N_("Loyalty"), render_loyalty, P.LOYALTY_READ, order=10)


def _section_response(html: str, status: int = 200) -> Response:
    return HTMLResponse(html, status_code=status)


@router.post("/loyalty/members/{customer_id}/adjustments", response_class=HTMLResponse)
def adjust_points(
    customer_id: PathId,
    actor: CurrentActor,
    db: Db,
    points: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=1000)] = "",
    staff: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Add or take away points, with a reason (audited); the section comes back refreshed."""
    form = {"points": points, "reason": reason, "staff": staff}
    errors: dict[str, str] = {}
    adjustment: AdjustmentIn | None = None
    try:
        if not points.strip():
            raise FormError("points", "required")
        adjustment = AdjustmentIn(
            points=parse_int(points, "points") or 0,
            reason=reason.strip(),
            staff=staff.strip() or actor.name,
        )
    except ValidationError as exc:
        errors = field_errors(exc)
    except FormError as exc:
        errors[exc.field] = message_for(exc)
    if adjustment is not None:
        chosen = adjustment

        def write(s: Session) -> None:
            check_member_in_scope(s, actor, customer_id)
            ledger_points.adjust_points(
                session=s, customer_id=customer_id, adjustment_in=chosen, actor=actor
            )

        try:
            db.write(write)
        except (InvalidInput, InsufficientPoints) as exc:
            errors[error_field(exc, "points")] = message_for(exc)

    def read(s: Session) -> str:
        check_member_in_scope(s, actor, customer_id)
        context = _member_context(s, actor, customer_id)
        context.update(
            errors=errors,
            form=form if errors else {},
            done="adjusted" if not errors else None,
        )
        return _render_member(context)

    return _section_response(db.read(read), 422 if errors else 200)


@router.post("/loyalty/members/{customer_id}/referral-code", response_class=HTMLResponse)
def make_referral_code(customer_id: PathId, actor: CurrentActor, db: Db) -> Response:
    """The member's referral code: made now if they have none (a write, so a button)."""

    def work(s: Session) -> str:
        check_member_in_scope(s, actor, customer_id)
        referrals.get_referral_code(session=s, customer_id=customer_id)
        return _render_member(_member_context(s, actor, customer_id))

    return _section_response(db.write(work))
