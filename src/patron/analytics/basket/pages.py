"""The basket page: the latest nightly run's association rules, filtered by level, store,
category and minimum support, confidence and lift, with a chart of support against
confidence (sized by lift) and "bought together" for one SKU; and, for a rule over SKUs, a
bundle offer made in one step: an audience of the antecedent's buyers, a coupon on the
consequent and a draft campaign to that audience with a holdout, measured on the
consequent's sales (docs/campaigns.md, "Bundle offers from basket rules").

A store-bound role sees its own stores' rules only (its first store by default); the
chain's rules are for roles that see every store (docs/architecture.md, "Permissions").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from patron import campaigns
from patron.analytics import serving
from patron.analytics.basket.service import RuleFilters, RuleList, top_rules
from patron.analytics.schemas import BoughtTogetherRead
from patron.catalog import service as catalog
from patron.catalog.schemas import StoreRead
from patron.core.actor import Actor
from patron.core.db import Database
from patron.core.errors import Forbidden, PatronError
from patron.staff.roles import Permission as P
from patron.web.deps import Db
from patron.web.forms import FormError, error_line, parse_decimal, parse_fen, parse_int
from patron.web.i18n import N_, _
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

SHOWN_RULES = 50
CHART_RULES = 200
LEVEL_TITLES = {"sku": N_("Products"), "category": N_("Categories")}
LABELS = {
    "store": N_("Store"),
    "level": N_("Items"),
    "category": N_("Category"),
    "min_support": N_("Minimum support"),
    "min_confidence": N_("Minimum confidence"),
    "min_lift": N_("Minimum lift"),
    "sku": N_("SKU"),
    "rule": N_("Rule"),
    "template_id": N_("Message template"),
    "amount_off": N_("Amount off (yuan)"),
    "holdout_percent": N_("Holdout"),
}
BUNDLE_PERMISSIONS = (P.CAMPAIGNS_WRITE, P.AUDIENCES_MANAGE)


@dataclass(frozen=True, slots=True)
class BasketView:
    stores: list[StoreRead]  # the stores this actor may pick
    store: StoreRead | None  # None: the chain
    rules: RuleList
    chart: RuleList
    together: BoughtTogetherRead | None
    together_error: str | None


def _percent(text: str, field: str) -> float:
    value = parse_decimal(text, field)
    if value is None:
        return 0.0
    if not Decimal(0) <= value <= Decimal(100):
        raise FormError(field, "percent_range")
    return float(value) / 100


def _lift(text: str) -> float:
    value = parse_decimal(text, "min_lift")
    if value is None:
        return 0.0
    if value < 0:
        raise FormError("min_lift", "not_negative")
    return float(value)


def _stores(session: Session, actor: Actor) -> list[StoreRead]:
    stores = catalog.list_stores(session=session)
    if actor.store_ids is None:
        return stores
    return [s for s in stores if s.id in actor.store_ids]


def _chosen(stores: list[StoreRead], code: str, actor: Actor) -> StoreRead | None:
    """The store whose rules to show: the one picked, else the chain (or, for a
    store-bound role, its first store)."""
    if code:
        found = next((s for s in stores if s.code == code), None)
        if found is None:
            raise FormError("store", "store_code_unknown", code=code)
        return found
    if actor.store_ids is None:
        return None
    if not stores:
        raise serving.OtherStoresRules("the rules of every store are not for your role")
    return stores[0]


def load_baskets(
    *, session: Session, actor: Actor, form: dict[str, str], filters: RuleFilters
) -> BasketView:
    stores = _stores(session, actor)
    store = _chosen(stores, form["store"], actor)
    picked = filters.model_copy(update={"store_id": store.id if store else None})
    rules = top_rules(session=session, filters=picked)
    chart = top_rules(session=session, filters=picked.model_copy(update={"limit": CHART_RULES}))
    together, together_error = None, None
    if form["sku"]:
        try:
            together = serving.product_bought_together(
                session=session,
                sku=form["sku"],
                store_code=store.code if store else None,
                store_ids=actor.store_ids,
                limit=20,
            )
        except PatronError as exc:
            together_error = error_line(exc, LABELS)
    return BasketView(stores, store, rules, chart, together, together_error)


def _rule_text(rule: Any) -> str:
    return " + ".join(rule.antecedent) + " ⇒ " + rule.consequent


def _rule_json(rule: Any) -> str:
    return json.dumps({"antecedent": list(rule.antecedent), "consequent": rule.consequent})


def _chart_json(rules: RuleList) -> str:
    data = {
        "points": [
            [round(r.support * 100, 4), round(r.confidence * 100, 2), round(r.lift, 3)]
            for r in rules.rules
        ],
        "names": [_rule_text(r) for r in rules.rules],
        "labels": {
            "support": _("Support (%)"),
            "confidence": _("Confidence (%)"),
            "lift": _("Lift"),
        },
    }
    # Inside <script type="application/json">: no "</script>" can close the block early.
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


def _rule_of(text: str) -> tuple[list[str], str]:
    """The rule a row's button carries: {"antecedent": [SKU, …], "consequent": SKU}."""
    try:
        data = json.loads(text)
        antecedent = [str(x) for x in data["antecedent"]]
        consequent = str(data["consequent"])
    except (ValueError, KeyError, TypeError):
        raise FormError("rule", "required") from None
    if not antecedent or not consequent or consequent in antecedent:
        raise FormError("rule", "required")
    return antecedent, consequent


@router.post("/analytics/baskets/offer", response_class=HTMLResponse)
async def bundle_offer(request: Request, actor: CurrentActor, db: Db) -> Response:
    """Make a rule's bundle offer, then go to its draft campaign."""
    form = {k: str(v) for k, v in (await request.form()).items() if k != "csrf_token"}
    try:
        antecedent, consequent = _rule_of(form.get("rule", ""))
        if not all(actor.can(p) for p in BUNDLE_PERMISSIONS):
            raise Forbidden("making a bundle offer needs campaigns.write and audiences.manage")
        template_id = parse_int(form.get("template_id", ""), "template_id")
        if template_id is None:
            raise FormError("template_id", "required")
        amount = parse_fen(form.get("amount_off", ""), "amount_off", required=True) or 0
        holdout = _percent(form.get("holdout_percent", "") or "10", "holdout_percent") * 100
        if not 0 < holdout <= 50:
            raise FormError("holdout_percent", "percent_range")

        def make(s: Session) -> campaigns.BundleOffer:
            chosen = next(
                (t for t in campaigns.list_templates(session=s) if t.id == template_id), None
            )
            if chosen is None:
                raise FormError("template_id", "required")
            rule = " + ".join(antecedent) + " ⇒ " + consequent
            return campaigns.make_bundle_offer(
                session=s,
                actor=actor,
                title=f"{_('Bundle')}: {rule}",
                description=_("Buyers of %(items)s, for a bundle offer on %(sku)s")
                % {"items": " + ".join(antecedent), "sku": consequent},
                coupon_name=f"{_('Bundle')}: {consequent}",
                antecedent=antecedent,
                consequent=consequent,
                template_id=chosen.id,
                channel=chosen.channel,
                amount_off_fen=amount,
                holdout_percent=holdout,
            )

        offer = db.write(make)
    except Forbidden:
        raise
    except PatronError as exc:
        return _render(
            request, actor, db, {"store": form.get("store", "")}, error_line(exc, LABELS)
        )
    return RedirectResponse(f"/campaigns/{offer.campaign_id}", status_code=303)


@router.get("/analytics/baskets", response_class=HTMLResponse)
def baskets_page(
    request: Request,
    actor: CurrentActor,
    db: Db,
    store: Annotated[str, Query(max_length=32)] = "",
    level: Annotated[str, Query(max_length=16)] = "sku",
    category: Annotated[str, Query(max_length=255)] = "",
    min_support: Annotated[str, Query(max_length=20)] = "",
    min_confidence: Annotated[str, Query(max_length=20)] = "",
    min_lift: Annotated[str, Query(max_length=20)] = "",
    sku: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """Top rules of the latest run, filtered; "bought together" for one SKU."""
    form = {
        "store": store.strip(),
        "level": level if level in LEVEL_TITLES else "sku",
        "category": category.strip(),
        "min_support": min_support.strip(),
        "min_confidence": min_confidence.strip(),
        "min_lift": min_lift.strip(),
        "sku": sku.strip(),
    }
    return _render(request, actor, db, form)


def _render(
    request: Request,
    actor: Actor,
    db: Database,
    given: dict[str, str],
    offer_error: str | None = None,
) -> Response:
    form = {k: "" for k in LABELS} | {"level": "sku"} | given
    offers = all(actor.can(p) for p in BUNDLE_PERMISSIONS) and form["level"] == "sku"
    context: dict[str, Any] = {
        "actor": actor,
        "form": form,
        "levels": [(code, _(title)) for code, title in LEVEL_TITLES.items()],
        "rule_text": _rule_text,
        "view": None,
        "error": None,
        "offer_error": offer_error,
        "message_templates": db.read(lambda s: campaigns.list_templates(session=s))
        if offers
        else [],
        "offers": offers,
        "rule_json": _rule_json,
    }
    try:
        filters = RuleFilters(
            level=form["level"],
            category=form["category"] or None,
            min_support=_percent(form["min_support"], "min_support"),
            min_confidence=_percent(form["min_confidence"], "min_confidence"),
            min_lift=_lift(form["min_lift"]),
            limit=SHOWN_RULES,
        )
        view = db.read(lambda s: load_baskets(session=s, actor=actor, form=form, filters=filters))
    except FormError as exc:
        context["error"] = error_line(exc, LABELS)
        stores = db.read(lambda s: _stores(s, actor))
        context["stores"] = stores
        return TEMPLATES.TemplateResponse(request, "analytics/baskets.html", context, 422)
    context.update(view=view, stores=view.stores, chart_json=_chart_json(view.chart))
    status = 422 if offer_error else 200
    return TEMPLATES.TemplateResponse(request, "analytics/baskets.html", context, status)
