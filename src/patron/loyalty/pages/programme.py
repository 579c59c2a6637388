"""The programme screen: its terms and tiers, the change form (yuan, percent and × as people
type them) and the last changes; its report for roles with analytics.read.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import Conflict, InvalidInput
from patron.core.money import fen_to_yuan
from patron.core.settings import get_settings
from patron.loyalty import programme as programme_terms
from patron.loyalty import (
    reports,
    rules,
)
from patron.loyalty.pages.titles import (
    WEEKDAYS,
)
from patron.loyalty.rules import BP
from patron.loyalty.terms import ProgrammeRead, ProgrammeTerms, ProgrammeUpdate
from patron.staff.roles import Permission as P
from patron.web.deps import Db
from patron.web.forms import (
    FormError,
    error_field,
    field_errors,
    parse_fen,
    parse_int,
    parse_required_int,
    parse_scaled,
    rows_errors,
    split_names,
)
from patron.web.i18n import N_, _
from patron.web.messages import message_for
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)


def _tier_json(tiers: list[Any]) -> str:
    return _safe_json(
        {
            "names": [_(t.tier_name) for t in tiers],
            "values": [t.members for t in tiers],
            "label": _("Members"),
        }
    )


def _safe_json(data: Any) -> str:
    # Inside <script type="application/json">: no "</script>" can close the block early.
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


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


def _multipliers(text: str, field: str) -> dict[str, int]:
    """Lines of "生鲜/水果 = 1.5" → {"生鲜/水果": 15000}."""
    out: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.rpartition("=")
        if not sep or not key.strip():
            raise FormError(field, "multiplier_line", n=n)
        bp = parse_scaled(value, field, BP)
        if bp is None:
            raise FormError(field, "multiplier_line", n=n)
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
        times = parse_scaled(row["multiplier"], f"{field}.points_multiplier_bp", BP)
        tiers.append(
            {
                "code": row["code"].strip(),
                "name": row["name"].strip(),
                "rank": len(tiers),
                "min_spend_fen": parse_fen(row["min_spend"], f"{field}.min_spend_fen") or 0,
                "min_points_earned": parse_int(row["min_points"], f"{field}.min_points_earned")
                or 0,
                "discount_bp": parse_scaled(row["discount"], f"{field}.discount_bp", 100) or 0,
                "points_multiplier_bp": BP if times is None else times,
                "birthday_points": parse_int(row["birthday"], f"{field}.birthday_points") or 0,
            }
        )
    share = parse_scaled(form["max_redeem_share"], "max_redeem_share", 100)
    day = parse_scaled(form["member_day_multiplier"], "member_day_multiplier", BP)
    for name, value in (("max_redeem_share", share), ("member_day_multiplier", day)):
        if value is None:
            raise FormError(name, "required")
    weekdays = [int(d) for d in form["member_weekdays"] if d.isdigit() and int(d) < 7]
    return ProgrammeUpdate.model_validate(
        {
            **current.model_dump(include={"wallet_skus", "wallet_categories", "discount_skus"}),
            "earn_points_per_yuan": parse_required_int(
                form["earn_points_per_yuan"], "earn_points_per_yuan"
            ),
            "return_window_days": parse_required_int(
                form["return_window_days"], "return_window_days"
            ),
            "expiry_days": parse_required_int(form["expiry_days"], "expiry_days"),
            "redeem_points_per_yuan": parse_required_int(
                form["redeem_points_per_yuan"], "redeem_points_per_yuan"
            ),
            "max_redeem_share_bp": share,
            "max_points_per_order": parse_int(form["max_points_per_order"], "max_points_per_order"),
            "member_weekdays": sorted(set(weekdays)),
            "member_day_multiplier_bp": day,
            "excluded_categories": split_names(form["excluded_categories"]),
            "excluded_skus": split_names(form["excluded_skus"]),
            "category_multipliers_bp": _multipliers(
                form["category_multipliers"], "category_multipliers"
            ),
            "sku_multipliers_bp": _multipliers(form["sku_multipliers"], "sku_multipliers"),
            "tiers": tiers,
            "tier_basis": form["tier_basis"],
            "tier_window_days": parse_required_int(form["tier_window_days"], "tier_window_days"),
            "tier_grace_days": parse_required_int(form["tier_grace_days"], "tier_grace_days"),
            "referral_min_order_fen": parse_fen(form["referral_min_order"], "referral_min_order")
            or 0,
            "referrer_reward_points": parse_required_int(
                form["referrer_reward_points"], "referrer_reward_points"
            ),
            "referee_reward_points": parse_required_int(
                form["referee_reward_points"], "referee_reward_points"
            ),
            "reason": form["reason"].strip(),
            "expected_version": parse_int(form["expected_version"], "expected_version"),
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
    except ValidationError as exc:
        errors = {}
        for field, message in field_errors(exc, PROGRAMME_FIELDS, keep_index=True).items():
            # A tier's error stays with its row; one item of a box's list, at the box.
            box = field if field.startswith("tiers.") else field.split(".", 1)[0]
            errors.setdefault(box, message)
    except (InvalidInput, Conflict) as exc:  # a box the form could not read, or a refusal
        errors[error_field(exc)] = message_for(exc)
    if errors:
        errors = rows_errors(errors, rows, items="tiers", key="tier", labels=TIER_LABELS)
        for row in rows:
            row.pop("index", None)
        return _programme_page(request, actor, db, errors=errors, form=form, status=422)
    return RedirectResponse("/loyalty?saved=1", 303)
