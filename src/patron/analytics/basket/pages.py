"""The basket page: the latest nightly run's association rules, filtered by level, store,
category and minimum support, confidence and lift, with a chart of support against
confidence (sized by lift) and "bought together" for one SKU.

A store-bound role sees its own stores' rules only (its first store by default); the
chain's rules are for roles that see every store (docs/architecture.md, "Permissions").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from patron.analytics import serving
from patron.analytics.basket.service import RuleFilters, RuleList, top_rules
from patron.analytics.schemas import BoughtTogetherRead
from patron.catalog import service as catalog
from patron.catalog.schemas import StoreRead
from patron.core.actor import Actor
from patron.core.errors import PatronError
from patron.web.deps import Db
from patron.web.forms import FormError, error_line, parse_decimal
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
}


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
    context: dict[str, Any] = {
        "actor": actor,
        "form": form,
        "levels": [(code, _(title)) for code, title in LEVEL_TITLES.items()],
        "rule_text": _rule_text,
        "view": None,
        "error": None,
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
    return TEMPLATES.TemplateResponse(request, "analytics/baskets.html", context)
