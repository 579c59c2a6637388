"""Console pages for loyalty: the programme and its report, coupon templates and issuing,
promotions, lotteries, and the loyalty section of the customer 360 page (with points
adjustments and referral codes).

The section is registered with the page's section registry (patron.web.sections) by
:func:`register_sections`, which the application calls at start-up; its forms post here and
the answer is the section again, swapped in place by HTMX.

Wherever a customer is named (issuing a coupon, adjusting points, a referral code, the draws
of a lottery) a store-bound role is kept to its own stores: another store's customer is
reported exactly like one that does not exist.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import Conflict, InvalidInput, NotFound
from patron.core.money import fen_to_yuan
from patron.core.settings import get_settings
from patron.customers import service as customers
from patron.customers.exceptions import CustomerNotFound, OutOfScope
from patron.customers.masking import mask_tail
from patron.loyalty import lottery, promotions, referrals, reports, rules, service
from patron.loyalty import programme as programme_terms
from patron.loyalty.exceptions import CouponLimitReached, InsufficientPoints
from patron.loyalty.rules import BP
from patron.loyalty.schemas import (
    AdjustmentIn,
    BulkIssueRead,
    CouponIssue,
    CouponRead,
    CouponTemplateCreate,
    LotteryCreate,
    ProgrammeRead,
    ProgrammeTerms,
    ProgrammeUpdate,
    PromotionCreate,
    PromotionRead,
)
from patron.staff.roles import Permission as P
from patron.web.deps import Db, PathId
from patron.web.forms import field_errors, reason_text
from patron.web.i18n import N_, _
from patron.web.sections import SectionContext, register_customer_section
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)
Code = Annotated[str, Path(max_length=64)]

ENTRIES_SHOWN = 10
DRAWS_SHOWN = 50
PRIZE_ROWS = 5  # empty prize rows a new lottery's form offers
MAX_AUDIENCE = 100_000  # customer ids pasted for one bulk issue

# Ledger entry and lot kinds as the page names them (English msgids, translated when shown).
KIND_TITLES = {
    "earn": N_("Earned"),
    "redeem": N_("Redeemed"),
    "expire": N_("Expired"),
    "adjust": N_("Adjustment"),
    "reverse_earn": N_("Taken back by a refund"),
    "return_redeemed": N_("Given back by a refund"),
    "referral": N_("Referral"),
    "prize": N_("Prize"),
}
COUPON_KINDS = {
    rules.CouponKind.AMOUNT_OFF: N_("Amount off (满减)"),
    rules.CouponKind.PERCENT_OFF: N_("Percent off, with a cap"),
    rules.CouponKind.GIFT_ITEM: N_("Gift"),
    rules.CouponKind.FREE_DELIVERY: N_("Free delivery"),
}
PROMOTION_KINDS = {
    rules.PromotionKind.BONUS_POINTS: N_("Bonus points"),
    rules.PromotionKind.THRESHOLD_GIFT: N_("Gift for spending (满额赠礼)"),
}
PRIZE_KINDS = {"points": N_("Points"), "coupon": N_("Coupon"), "gift": N_("Gift")}
REFERRAL_STATUSES = {
    "pending": N_("waiting for the first purchase"),
    "rewarded": N_("rewarded"),
    "reversed": N_("reversed by a refund"),
    "refused": N_("refused"),
}
WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
# The default programme's tier names (rules.DEFAULT_TIERS), so that they are translated.
TIER_NAMES = (N_("Member"), N_("Silver"), N_("Gold"), N_("Platinum"))

# The schemas' own rule messages, so that they are shown translated.
RULE_MESSAGES = (
    N_("give the amount off"),
    N_("give the percentage off"),
    N_("at most 2 decimals"),
    N_("give the gift's SKU"),
    N_("give either valid_to (fixed) or valid_days (relative)"),
    N_("must be after valid_from"),
    N_("must be after starts_at"),
    N_("must not be 0"),
    N_("a bonus-points offer multiplies by more than ×1"),
    N_("a gift needs a spend threshold above 0"),
    N_("a gift promotion names the gift's SKU"),
    N_("a points prize needs points > 0"),
    N_("a coupon prize needs a coupon template"),
    N_("a gift prize needs the gift's SKU"),
    N_("prize codes must be unique"),
    N_("the chances add up to more than 1,000,000 ppm (100%)"),
    N_("two tiers have this code"),
    N_("two tiers have this rank"),
    N_("the lowest tier is every member's starting tier: it needs no spend and no points"),
    N_("a higher tier needs more than the one below"),
)


class FormError(Exception):
    """One form field's problem, found while reading the form."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# ------------------------------------------------------------------------- form helpers


def _split(text: str) -> list[str]:
    """Codes typed as "A01, A02" (commas, spaces, 、 or new lines between them)."""
    return [c for c in re.split(r"[\s,，、;；]+", text.strip()) if c]


def _fen(text: str, field: str, *, required: bool = False) -> int | None:
    """Yuan as typed ("20", "12.50", "¥1,000") → fen; empty → None."""
    clean = text.strip().replace(",", "").replace("，", "").lstrip("¥￥")
    if not clean:
        if required:
            raise FormError(field, _("required"))
        return None
    try:
        value = Decimal(clean)
    except InvalidOperation:
        raise FormError(field, _("not an amount in yuan, like 20 or 12.50")) from None
    if not value.is_finite() or value < 0 or value * 100 % 1:
        raise FormError(field, _("not an amount in yuan, like 20 or 12.50"))
    return int(value * 100)


def _int(text: str, field: str) -> int | None:
    clean = text.strip().replace(",", "")
    if not clean:
        return None
    if not re.fullmatch(r"[+-]?\d{1,15}", clean):
        raise FormError(field, _("not a whole number"))
    return int(clean)


def _decimal(text: str, field: str) -> Decimal | None:
    clean = text.strip()
    if not clean:
        return None
    try:
        value = Decimal(clean)
    except InvalidOperation:
        raise FormError(field, _("not a number")) from None
    if not value.is_finite():
        raise FormError(field, _("not a number"))
    return value


def _when(text: str) -> str | None:
    """A datetime-local box's value (shop time); the schema reads it in the shop's zone."""
    return text.strip() or None


def _customer_ids(text: str) -> list[int]:
    """Customer ids pasted one a line (or separated by commas or spaces)."""
    ids = []
    for n, token in enumerate(_split(text), start=1):
        if not token.isdigit() or not 0 < int(token) < 2**63:
            raise FormError(
                "customer_ids", _("item %(n)s is not a customer id (a whole number)", n=n)
            )
        ids.append(int(token))
    if not ids:
        raise FormError("customer_ids", _("paste at least one customer id"))
    if len(ids) > MAX_AUDIENCE:
        raise FormError("customer_ids", _("at most 100,000 customers at a time"))
    return ids


def _error_of(exc: InvalidInput) -> tuple[str, str]:
    return exc.field, reason_text(exc.message.split(": ", 1)[-1])


def _in_scope(session: Session, actor: Actor, customer_id: int) -> None:
    """The customer exists and this actor's stores may see them; else "no such customer"."""
    try:
        customers.check_customer_in_scope(
            session=session, customer_id=customer_id, store_ids=actor.store_ids
        )
    except OutOfScope:
        raise CustomerNotFound(f"no customer {customer_id}", customer_id=customer_id) from None


def _safe_json(data: Any) -> str:
    # Inside <script type="application/json">: no "</script>" can close the block early.
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


# ------------------------------------------------------------------ the 360 page section


def _member_context(session: Session, actor: Actor, customer_id: int) -> dict[str, Any]:
    lots = service.list_lots(session=session, customer_id=customer_id)
    return {
        "actor": actor,
        "customer_id": customer_id,
        "balance": service.get_balance(session=session, customer_id=customer_id),
        "tier": service.get_tier(session=session, customer_id=customer_id),
        "lots": [lot for lot in lots if lot.remaining > 0],
        "entries": service.list_entries(
            session=session, customer_id=customer_id, limit=ENTRIES_SHOWN
        ),
        "coupons": [
            (coupon, mask_tail(coupon.code))
            for coupon in service.list_customer_coupons(session=session, customer_id=customer_id)
        ],
        "kinds": KIND_TITLES,
        "referral_code": service.find_referral_code(session=session, customer_id=customer_id),
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
            raise FormError("points", _("required"))
        adjustment = AdjustmentIn(
            points=_int(points, "points") or 0,
            reason=reason.strip(),
            staff=staff.strip() or actor.name,
        )
    except FormError as exc:
        errors[exc.field] = exc.message
    except ValidationError as exc:
        errors = field_errors(exc)
    if adjustment is not None:
        chosen = adjustment

        def write(s: Session) -> None:
            _in_scope(s, actor, customer_id)
            service.adjust_points(
                session=s, customer_id=customer_id, adjustment_in=chosen, actor=actor
            )

        try:
            db.write(write)
        except InsufficientPoints as exc:
            errors["points"] = _(
                "only %(available)s points can be taken away",
                available=exc.facts.get("available", 0),
            )
        except InvalidInput as exc:
            field, message = _error_of(exc)
            errors[field] = message

    def read(s: Session) -> str:
        _in_scope(s, actor, customer_id)
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
        _in_scope(s, actor, customer_id)
        referrals.get_referral_code(session=s, customer_id=customer_id)
        return _render_member(_member_context(s, actor, customer_id))

    return _section_response(db.write(work))


# ------------------------------------------------------------------------ the programme


def _tier_json(tiers: list[Any]) -> str:
    return _safe_json(
        {
            "names": [_(t.tier_name) for t in tiers],
            "values": [t.members for t in tiers],
            "label": _("Members"),
        }
    )


PROGRAMME_FIELDS = {
    "max_redeem_share_bp": "max_redeem_share",
    "member_day_multiplier_bp": "member_day_multiplier",
    "referral_min_order_fen": "referral_min_order",
    "category_multipliers_bp": "category_multipliers",
    "sku_multipliers_bp": "sku_multipliers",
}
TIER_LABELS = {  # a tier's terms as the form's columns name them
    "code": N_("Code"),
    "name": N_("Name"),
    "rank": N_("Rank"),
    "min_spend_fen": N_("Spend to reach"),
    "min_points_earned": N_("Or points earned"),
    "discount_bp": N_("Discount"),
    "points_multiplier_bp": N_("Points multiplier"),
    "birthday_points": N_("Birthday points"),
}
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
TERM_LABELS = {  # the programme's terms as the page names them, for its list of changes
    "earn_points_per_yuan": N_("Points per yuan paid"),
    "return_window_days": N_("Return window"),
    "expiry_days": N_("Expiry"),
    "redeem_points_per_yuan": N_("Points worth ¥1"),
    "max_redeem_share_bp": N_("Redemption cap"),
    "sku_multipliers_bp": N_("Points multipliers"),
    "category_multipliers_bp": N_("Points multipliers"),
    "excluded_skus": N_("No points for"),
    "excluded_categories": N_("No points for"),
    "wallet_skus": N_("Stored value and gift cards"),
    "wallet_categories": N_("Stored value and gift cards"),
    "discount_skus": N_("Discount lines"),
    "member_weekdays": N_("Member days"),
    "member_day_multiplier_bp": N_("Member days"),
    "max_points_per_order": N_("Points per order"),
    "tier_basis": N_("Tiers judged on"),
    "tier_window_days": N_("Tiers judged on"),
    "tier_grace_days": N_("Tiers judged on"),
    "referral_min_order_fen": N_("Referrals"),
    "referrer_reward_points": N_("Referrals"),
    "referee_reward_points": N_("Referrals"),
}


def change_labels(changed: list[str]) -> list[str]:
    """A saved change's terms (``expiry_days``, ``tiers.gold.discount_bp``, ``tiers.vip
    (added)``) as the page names them, each once."""
    out: list[str] = []
    for name in changed:
        tier = re.match(r"^tiers\.([^. ]+)(?:\.(\w+)| \((added|removed)\))$", name)
        if tier:
            code, term, how = tier.groups()
            if how:
                label = (
                    _("tier %(code)s added", code=code)
                    if how == "added"
                    else _("tier %(code)s removed", code=code)
                )
            else:
                label = f"{code} · {_(TIER_LABELS.get(term, term))}"
        else:
            label = _(TERM_LABELS[name]) if name in TERM_LABELS else name
        if label not in out:
            out.append(label)
    return out


TIER_COLUMNS = ("code", "name", "min_spend", "min_points", "discount", "multiplier", "birthday")


def _percent(value_bp: int) -> str:
    return f"{value_bp / 100:g}"


def _times(value_bp: int) -> str:
    return f"{value_bp / BP:g}"


def _yuan(fen: int) -> str:
    return str(fen_to_yuan(fen)).removesuffix(".00")


def _multipliers_text(multipliers: dict[str, int]) -> str:
    return "\n".join(f"{key} = {_times(bp)}" for key, bp in sorted(multipliers.items()))


def programme_form(terms: ProgrammeRead) -> dict[str, Any]:
    """The change form's boxes, filled with the terms in force (as a person types them:
    yuan, percent, ×) and the version they are edited from."""
    return {
        "earn_points_per_yuan": str(terms.earn_points_per_yuan),
        "return_window_days": str(terms.return_window_days),
        "expiry_days": str(terms.expiry_days),
        "redeem_points_per_yuan": str(terms.redeem_points_per_yuan),
        "max_redeem_share": _percent(terms.max_redeem_share_bp),
        "max_points_per_order": str(terms.max_points_per_order or ""),
        "member_weekdays": [str(d) for d in terms.member_weekdays],
        "member_day_multiplier": _times(terms.member_day_multiplier_bp),
        "excluded_categories": ", ".join(terms.excluded_categories),
        "excluded_skus": ", ".join(terms.excluded_skus),
        "category_multipliers": _multipliers_text(terms.category_multipliers_bp),
        "sku_multipliers": _multipliers_text(terms.sku_multipliers_bp),
        "tier_basis": terms.tier_basis.value,
        "tier_window_days": str(terms.tier_window_days),
        "tier_grace_days": str(terms.tier_grace_days),
        "referral_min_order": _yuan(terms.referral_min_order_fen),
        "referrer_reward_points": str(terms.referrer_reward_points),
        "referee_reward_points": str(terms.referee_reward_points),
        "tiers": [
            {
                "code": t.code,
                "name": t.name,
                "min_spend": _yuan(t.min_spend_fen),
                "min_points": str(t.min_points_earned),
                "discount": _percent(t.discount_bp),
                "multiplier": _times(t.points_multiplier_bp),
                "birthday": str(t.birthday_points),
                "remove": False,
            }
            for t in terms.tiers
        ]
        + [dict.fromkeys(TIER_COLUMNS, "") | {"remove": False}],  # a row for a new tier
        "reason": "",
        "expected_version": str(terms.version),
    }


def _names(text: str) -> list[str]:
    """Categories or SKUs typed as "生鲜/水果, Fresh Food" (commas, 、, semicolons or new
    lines between them; a name may hold spaces)."""
    return [n.strip() for n in re.split(r"[,，、;；\n]+", text) if n.strip()]


def _required_int(text: str, field: str) -> int:
    value = _int(text, field)
    if value is None:
        raise FormError(field, _("required"))
    return value


_DECIMALS = {100: N_("at most 2 decimals"), BP: N_("at most 4 decimals")}


def _scaled(text: str, field: str, per_unit: int) -> int | None:
    """A number as typed ("1.5", "×2", "12.5%") in whole ``per_unit``ths: basis points of a
    multiplier (per_unit BP) or of a percentage (100), millionths of a chance typed in
    percent (BP); empty → None."""
    value = _decimal(text.strip().lstrip("×xX").rstrip("%"), field)
    if value is None:
        return None
    scaled = value * per_unit
    if scaled % 1:
        raise FormError(field, _(_DECIMALS[per_unit]))
    return int(scaled)


def _multipliers(text: str, field: str) -> dict[str, int]:
    """Lines of "生鲜/水果 = 1.5" → {"生鲜/水果": 15000}."""
    out: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.rpartition("=")
        if not sep or not key.strip():
            raise FormError(field, _('line %(n)s: write it as "code = 1.5"', n=n))
        bp = _scaled(value, field, BP)
        if bp is None:
            raise FormError(field, _('line %(n)s: write it as "code = 1.5"', n=n))
        out[key.strip()] = bp
    return out


def programme_from_form(form: dict[str, Any], current: ProgrammeTerms) -> ProgrammeUpdate:
    """The new terms a change form describes; what the form does not show (stored-value
    and discount SKUs) stays as it is. Tier rows are ranked in their order on the form;
    each one kept gets ``index`` (its row), where errors named ``tiers.<n>`` are shown."""
    tiers: list[dict[str, Any]] = []
    for i, row in enumerate(form["tiers"]):
        if row["remove"] or not any(str(row[k]).strip() for k in TIER_COLUMNS):
            continue
        field = f"tiers.{len(tiers)}"
        row["index"] = i
        times = _scaled(row["multiplier"], f"{field}.points_multiplier_bp", BP)
        tiers.append(
            {
                "code": row["code"].strip(),
                "name": row["name"].strip(),
                "rank": len(tiers),
                "min_spend_fen": _fen(row["min_spend"], f"{field}.min_spend_fen") or 0,
                "min_points_earned": _int(row["min_points"], f"{field}.min_points_earned") or 0,
                "discount_bp": _scaled(row["discount"], f"{field}.discount_bp", 100) or 0,
                "points_multiplier_bp": BP if times is None else times,
                "birthday_points": _int(row["birthday"], f"{field}.birthday_points") or 0,
            }
        )
    share = _scaled(form["max_redeem_share"], "max_redeem_share", 100)
    day = _scaled(form["member_day_multiplier"], "member_day_multiplier", BP)
    for name, value in (("max_redeem_share", share), ("member_day_multiplier", day)):
        if value is None:
            raise FormError(name, _("required"))
    weekdays = [int(d) for d in form["member_weekdays"] if d.isdigit() and int(d) < 7]
    return ProgrammeUpdate.model_validate(
        {
            **current.model_dump(include={"wallet_skus", "wallet_categories", "discount_skus"}),
            "earn_points_per_yuan": _required_int(
                form["earn_points_per_yuan"], "earn_points_per_yuan"
            ),
            "return_window_days": _required_int(form["return_window_days"], "return_window_days"),
            "expiry_days": _required_int(form["expiry_days"], "expiry_days"),
            "redeem_points_per_yuan": _required_int(
                form["redeem_points_per_yuan"], "redeem_points_per_yuan"
            ),
            "max_redeem_share_bp": share,
            "max_points_per_order": _int(form["max_points_per_order"], "max_points_per_order"),
            "member_weekdays": sorted(set(weekdays)),
            "member_day_multiplier_bp": day,
            "excluded_categories": _names(form["excluded_categories"]),
            "excluded_skus": _names(form["excluded_skus"]),
            "category_multipliers_bp": _multipliers(
                form["category_multipliers"], "category_multipliers"
            ),
            "sku_multipliers_bp": _multipliers(form["sku_multipliers"], "sku_multipliers"),
            "tiers": tiers,
            "tier_basis": form["tier_basis"],
            "tier_window_days": _required_int(form["tier_window_days"], "tier_window_days"),
            "tier_grace_days": _required_int(form["tier_grace_days"], "tier_grace_days"),
            "referral_min_order_fen": _fen(form["referral_min_order"], "referral_min_order") or 0,
            "referrer_reward_points": _required_int(
                form["referrer_reward_points"], "referrer_reward_points"
            ),
            "referee_reward_points": _required_int(
                form["referee_reward_points"], "referee_reward_points"
            ),
            "reason": form["reason"].strip(),
            "expected_version": _int(form["expected_version"], "expected_version"),
        }
    )


def _programme_page(
    request: Request,
    actor: Actor,
    db: Database,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    saved: bool = False,
    status: int = 200,
) -> Response:
    def read(s: Session) -> dict[str, Any]:
        terms = programme_terms.read(s)
        programme = terms.to_rules(get_settings().zone)
        context: dict[str, Any] = {
            "terms": terms,
            "programme": programme,
            "tiers": sorted(programme.tiers, key=lambda t: t.rank),
            "points_step": rules.points_step(programme),
            "history": [
                (change, change_labels(change.changed))
                for change in programme_terms.history(s, limit=10)
            ],
            "report": None,
        }
        if actor.can(P.ANALYTICS_READ):
            report = reports.programme_report(session=s, now=utcnow(), programme=programme)
            context.update(
                report=report,
                tier_json=_tier_json(report.tiers),
                expiring_fen=rules.points_value_fen(
                    programme, report.liability.expiring_30d_points
                ),
            )
        return context

    context = db.read(read)
    may_manage = actor.can(P.LOYALTY_MANAGE)
    context.update(
        actor=actor,
        weekdays=WEEKDAYS,
        may_manage=may_manage,
        errors=errors or {},
        form=form or (programme_form(context["terms"]) if may_manage else {}),
        saved=saved,
    )
    return TEMPLATES.TemplateResponse(
        request, "loyalty/programme.html", context, status_code=status
    )


@router.get("/loyalty", response_class=HTMLResponse)
def programme_page(
    request: Request, actor: CurrentActor, db: Db, saved: str | None = None
) -> Response:
    """The programme's terms and tiers, the form to change them (loyalty.manage) and the
    last changes; its report for roles with analytics.read."""
    return _programme_page(request, actor, db, saved=saved == "1")


@router.post("/loyalty/programme", response_class=HTMLResponse)
def change_programme(
    request: Request,
    actor: CurrentActor,
    db: Db,
    earn_points_per_yuan: Annotated[str, Form(max_length=10)] = "",
    return_window_days: Annotated[str, Form(max_length=10)] = "",
    expiry_days: Annotated[str, Form(max_length=10)] = "",
    redeem_points_per_yuan: Annotated[str, Form(max_length=10)] = "",
    max_redeem_share: Annotated[str, Form(max_length=10)] = "",
    max_points_per_order: Annotated[str, Form(max_length=15)] = "",
    member_weekdays: Annotated[list[str] | None, Form()] = None,
    member_day_multiplier: Annotated[str, Form(max_length=10)] = "",
    excluded_categories: Annotated[str, Form(max_length=20_000)] = "",
    excluded_skus: Annotated[str, Form(max_length=20_000)] = "",
    category_multipliers: Annotated[str, Form(max_length=20_000)] = "",
    sku_multipliers: Annotated[str, Form(max_length=20_000)] = "",
    tier_basis: Annotated[str, Form(max_length=10)] = "spend",
    tier_window_days: Annotated[str, Form(max_length=10)] = "",
    tier_grace_days: Annotated[str, Form(max_length=10)] = "",
    referral_min_order: Annotated[str, Form(max_length=20)] = "",
    referrer_reward_points: Annotated[str, Form(max_length=10)] = "",
    referee_reward_points: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=255)] = "",
    expected_version: Annotated[str, Form(max_length=20)] = "",
    tier_code: Annotated[list[str] | None, Form()] = None,
    tier_name: Annotated[list[str] | None, Form()] = None,
    tier_min_spend: Annotated[list[str] | None, Form()] = None,
    tier_min_points: Annotated[list[str] | None, Form()] = None,
    tier_discount: Annotated[list[str] | None, Form()] = None,
    tier_multiplier: Annotated[list[str] | None, Form()] = None,
    tier_birthday: Annotated[list[str] | None, Form()] = None,
    tier_remove: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """New programme terms from the change form, with the reason (kept and audited)."""
    columns = {
        "code": tier_code, "name": tier_name, "min_spend": tier_min_spend,
        "min_points": tier_min_points, "discount": tier_discount,
        "multiplier": tier_multiplier, "birthday": tier_birthday,
    }  # fmt: skip
    count = min(max((len(v or []) for v in columns.values()), default=0), 21)
    removed = set(tier_remove or [])
    rows: list[dict[str, Any]] = [
        {k: str((v or [])[i])[:60] if i < len(v or []) else "" for k, v in columns.items()}
        | {"remove": str(i) in removed}
        for i in range(count)
    ]
    form: dict[str, Any] = {
        "earn_points_per_yuan": earn_points_per_yuan, "return_window_days": return_window_days,
        "expiry_days": expiry_days, "redeem_points_per_yuan": redeem_points_per_yuan,
        "max_redeem_share": max_redeem_share, "max_points_per_order": max_points_per_order,
        "member_weekdays": [str(d)[:1] for d in (member_weekdays or [])[:7]],
        "member_day_multiplier": member_day_multiplier,
        "excluded_categories": excluded_categories, "excluded_skus": excluded_skus,
        "category_multipliers": category_multipliers, "sku_multipliers": sku_multipliers,
        "tier_basis": tier_basis if tier_basis in ("spend", "points") else "spend",
        "tier_window_days": tier_window_days, "tier_grace_days": tier_grace_days,
        "referral_min_order": referral_min_order,
        "referrer_reward_points": referrer_reward_points,
        "referee_reward_points": referee_reward_points, "reason": reason, "tiers": rows,
        "expected_version": expected_version,
    }  # fmt: skip
    errors: dict[str, str] = {}
    try:

        def save(s: Session) -> None:
            update_in = programme_from_form(form, programme_terms.read(s))
            programme_terms.update(session=s, update_in=update_in, actor=actor)

        db.write(save)
    except FormError as exc:
        errors[exc.field] = exc.message
    except ValidationError as exc:
        errors = {}
        for field, message in field_errors(exc, PROGRAMME_FIELDS, keep_index=True).items():
            # A tier's error stays with its row; one item of a box's list, at the box.
            box = field if field.startswith("tiers.") else field.split(".", 1)[0]
            errors.setdefault(box, message)
    except Conflict as exc:
        errors["form"] = _(
            "Someone saved other terms (version %(version)s) while you were editing: nothing "
            "was saved. Reload the page and make your change again.",
            version=exc.facts.get("version", ""),
        )
    except InvalidInput as exc:
        if exc.field == "tiers" and "tier" in exc.facts:
            errors["tiers"] = _(
                "tier %(tier)s is held by members: keep it (its name and terms may change)",
                tier=exc.facts["tier"],
            )
        else:
            field, message = _error_of(exc)
            errors[field] = message
    if errors:
        errors = _rows_errors(errors, rows, items="tiers", key="tier", labels=TIER_LABELS)
        for row in rows:
            row.pop("index", None)
        return _programme_page(request, actor, db, errors=errors, form=form, status=422)
    return RedirectResponse("/loyalty?saved=1", 303)


# --------------------------------------------------------------------- coupon templates

TEMPLATE_FIELDS = {
    "threshold_fen": "threshold",
    "amount_off_fen": "amount_off",
    "cap_fen": "cap",
    "scope.store_codes": "store_codes",
    "scope.category_prefixes": "categories",
    "scope.channels": "channels",
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
        for t in service.list_coupon_templates(session=s):
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
            "threshold_fen": _fen(form["threshold"], "threshold") or 0,
            "amount_off_fen": (_fen(form["amount_off"], "amount_off") or 0)
            if kind == "amount_off"
            else 0,
            "percent_off": _decimal(form["percent_off"], "percent_off")
            if kind == "percent_off"
            else None,
            "cap_fen": _fen(form["cap"], "cap") if kind == "percent_off" else None,
            "gift_sku": (form["gift_sku"].strip() or None) if kind == "gift_item" else None,
            "valid_from": _when(form["valid_from"]),
            "valid_to": _when(form["valid_to"]) if fixed else None,
            "valid_days": _int(form["valid_days"], "valid_days") if not fixed else None,
            "scope": {
                "store_codes": _split(form["store_codes"]),
                "category_prefixes": _split(form["categories"]),
                "channels": _split(form["channels"]),
            },
            "per_customer_limit": _int(form["per_customer_limit"], "per_customer_limit"),
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
        "categories": categories, "channels": channels,
        "per_customer_limit": per_customer_limit, "stackable": stackable == "on",
    }  # fmt: skip
    errors: dict[str, str] = {}
    try:
        template_in = template_from_form(form)
        db.write(lambda s: service.create_coupon_template(session=s, template_in=template_in))
    except FormError as exc:
        errors[exc.field] = exc.message
    except ValidationError as exc:
        errors = field_errors(exc, TEMPLATE_FIELDS)
    except InvalidInput as exc:
        field, message = _error_of(exc)
        errors[field] = message
    if errors:
        return _templates_page(request, actor, db, errors=errors, form=form, status=422)
    return RedirectResponse(f"/loyalty/coupon-templates?created={template_in.code}", 303)


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
        wanted = _int(customer_id, "customer_id")
        if wanted is None or wanted < 1:
            raise FormError("customer_id", _("give the customer's id"))
        issue_in = CouponIssue(template_code=template_code.strip(), customer_id=wanted)
        issued = db.write(lambda s: issue_to_member(session=s, actor=actor, issue_in=issue_in))
    except FormError as exc:
        errors[exc.field] = exc.message
    except ValidationError as exc:
        errors = field_errors(exc)
    except CustomerNotFound:
        errors["customer_id"] = _("No such customer, or not a customer of your stores.")
    except CouponLimitReached as exc:
        errors["customer_id"] = _(
            "this member already holds as many as the template allows (%(limit)s)",
            limit=exc.facts.get("limit", ""),
        )
    except InvalidInput as exc:
        field, message = _error_of(exc)
        errors[field] = message
    except NotFound:
        errors["template_code"] = _("no such coupon template")
    status = 422 if errors else 200
    return _templates_page(
        request, actor, db, issue_errors=errors, issue_form=issue_form, issued=issued,
        status=status,
    )  # fmt: skip


def issue_to_member(*, session: Session, actor: Actor, issue_in: CouponIssue) -> CouponRead:
    """Issue one coupon, once it is known this actor's stores may see the member."""
    _in_scope(session, actor, issue_in.customer_id)
    return service.issue_coupon(session=session, issue_in=issue_in)


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
            raise FormError("template_code", _("choose a coupon template"))
        ids = _customer_ids(customer_ids)
        bulk = db.write(
            lambda s: service.issue_coupons(
                session=s,
                template_code=code,
                customer_ids=ids,
                actor=actor,
                audience="list",
                store_ids=actor.store_ids,
            )
        )
    except FormError as exc:
        errors[exc.field] = exc.message
    except InvalidInput as exc:
        field, message = _error_of(exc)
        errors[field] = message
    except NotFound:
        errors["template_code"] = _("no such coupon template")
    if errors:
        return _templates_page(
            request, actor, db, issue_errors=errors, issue_form=issue_form, status=422
        )
    return _templates_page(request, actor, db, bulk=bulk)


# --------------------------------------------------------------------------- promotions


def promotion_state(promotion: PromotionRead, now: datetime) -> str:
    if promotion.active and promotion.starts_at <= now < promotion.ends_at:
        return "running"
    if promotion.active and now < promotion.starts_at:
        return "scheduled"
    return "ended"


PROMOTION_STATES = {
    "running": N_("Running"),
    "scheduled": N_("Scheduled"),
    "ended": N_("Ended"),
}
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
    value = _scaled(text, "multiplier", BP)
    return BP if value is None else value


def promotion_from_form(form: dict[str, Any]) -> PromotionCreate:
    kind = form["kind"]
    gift = kind == "threshold_gift"
    return PromotionCreate.model_validate(
        {
            "code": form["code"].strip(),
            "name": form["name"].strip(),
            "kind": kind,
            "starts_at": _when(form["starts_at"]),
            "ends_at": _when(form["ends_at"]),
            "weekdays": form["weekdays"],
            "store_codes": _split(form["store_codes"]),
            "channels": _split(form["channels"]),
            "categories": _split(form["categories"]),
            "skus": _split(form["skus"]),
            "multiplier_bp": 10_000 if gift else _multiplier_bp(form["multiplier"]),
            "threshold_fen": (_fen(form["threshold"], "threshold") or 0) if gift else 0,
            "gift_sku": (form["gift_sku"].strip() or None) if gift else None,
            "gift_name": (form["gift_name"].strip() or None) if gift else None,
            "stock": _int(form["stock"], "stock") if gift else None,
            "per_customer_limit": _int(form["per_customer_limit"], "per_customer_limit")
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
    except FormError as exc:
        errors[exc.field] = exc.message
    except ValidationError as exc:
        errors = field_errors(exc, PROMOTION_FIELDS)
    except Conflict:
        errors["code"] = _("this code is taken")
    if errors:
        return _promotions_page(request, actor, db, errors=errors, form=form, status=422)
    return RedirectResponse("/loyalty/promotions?done=created", 303)


@router.post("/loyalty/promotions/{code}/end", response_class=HTMLResponse)
def end_promotion(code: Code, actor: CurrentActor, db: Db) -> Response:
    """Switch a promotion off now (audited); it stays on record."""
    db.write(lambda s: promotions.end_promotion(session=s, code=code, actor=actor))
    return RedirectResponse("/loyalty/promotions?done=ended", 303)


# ---------------------------------------------------------------------------- lotteries

LOTTERY_FIELDS = {"cost_points": "cost_points"}


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
        "templates": db.read(lambda s: service.list_coupon_templates(session=s)),
    }
    return TEMPLATES.TemplateResponse(
        request, "loyalty/lotteries.html", context, status_code=status
    )


@router.get("/loyalty/lotteries", response_class=HTMLResponse)
def lotteries_page(request: Request, actor: CurrentActor, db: Db) -> Response:
    return _lotteries_page(request, actor, db)


def _chance_ppm(text: str, field: str) -> int | None:
    """A chance typed in percent ("0.5" is one draw in 200) → millionths."""
    return _scaled(text, field, 10_000)


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
                "points": (_int(row["points"], f"{field}.points") or 0) if kind == "points" else 0,
                "coupon_template_code": (row["coupon"].strip() or None)
                if kind == "coupon"
                else None,
                "gift_sku": (row["gift"].strip() or None) if kind == "gift" else None,
                "chance_ppm": _chance_ppm(row["chance"], f"{field}.chance_ppm"),
                "stock": _int(row["stock"], f"{field}.stock"),
            }
        )
    return LotteryCreate.model_validate(
        {
            "code": form["code"].strip(),
            "name": form["name"].strip(),
            "starts_at": _when(form["starts_at"]),
            "ends_at": _when(form["ends_at"]),
            "cost_points": _int(form["cost_points"], "cost_points") or 0,
            "daily_draws_per_customer": _int(form["daily_draws"], "daily_draws_per_customer"),
            "prizes": prizes,
        }
    )


def _rows_errors(
    errors: dict[str, str],
    rows: list[dict[str, Any]],
    *,
    items: str,
    key: str,
    labels: dict[str, str] | None = None,
) -> dict[str, str]:
    """Errors named ``<items>.<n>.<field>`` (n counting the filled rows, those given an
    ``index``) moved to their form row, as ``<key>-<row>``: "<field's label>: <message>"."""
    filled = [i for i, r in enumerate(rows) if "index" in r]
    out: dict[str, str] = {}
    for field, message in errors.items():
        match = re.match(rf"^{items}\.(\d+)\.(\w+)", field)
        if match and int(match.group(1)) < len(filled):
            name = match.group(2)
            label = _(labels[name]) if labels and name in labels else name
            out.setdefault(f"{key}-{filled[int(match.group(1))]}", f"{label}: {message}")
        else:
            out.setdefault(field, message)
    return out


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
    except FormError as exc:
        errors[exc.field] = exc.message
    except ValidationError as exc:
        errors = field_errors(exc, {"daily_draws_per_customer": "daily_draws"}, keep_index=True)
    except InvalidInput as exc:
        field, message = _error_of(exc)
        errors[field] = message
    except Conflict:
        errors["code"] = _("this code is taken")
    if errors:
        errors = _rows_errors(errors, rows, items="prizes", key="prize", labels=PRIZE_LABELS)
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
