"""What the nightly run computed, served to tills, the mini-program and campaign templates:
a member's next-basket list and what is bought together with a product.

Each read is one indexed statement over the run's rows (``customer_recommendation`` by
customer and run, ``basket_rule`` by run, level, store and antecedent), with the product
names from the catalogue as a correlated subquery; the store scope is checked first, the way
every customer read checks it (docs/architecture.md, "Permissions"). Services take a Session
and never commit.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.analytics.basket.models import BasketRule
from patron.analytics.basket.service import antecedent_key
from patron.analytics.recommend.models import CustomerRecommendation
from patron.analytics.schemas import (
    BoughtTogetherItem,
    BoughtTogetherRead,
    CustomerRecommendations,
    RecommendedItem,
)
from patron.catalog import service as catalog
from patron.core.clock import utcnow
from patron.core.errors import Forbidden, InvalidInput
from patron.customers import service as customers

MAX_ITEMS = 100


class OtherStoresRules(Forbidden):
    """A store-bound role asked for the rules of a store not theirs, or of the whole chain."""

    code = "other_stores_rules"


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_ITEMS:
        raise InvalidInput("limit", f"must be between 1 and {MAX_ITEMS}", value=limit)


def reason_of(source: str, due_on: date | None, *, today: date) -> str:
    """A repeat item whose due day has come is ``due``; any other keeps its source."""
    if source == "repeat" and due_on is not None and due_on <= today:
        return "due"
    return source


def customer_recommendations(
    *,
    session: Session,
    customer_id: int,
    store_ids: frozenset[int] | None = None,
    limit: int = 10,
    today: date | None = None,
) -> CustomerRecommendations:
    """The member's best ``limit`` items from the latest run that recommended to them.

    Raises CustomerNotFound for an unknown id, OutOfScope for a customer of other stores
    (``store_ids``: the reader's stores, None for every store). ``today`` (default: the
    later of the run's next day and today, UTC) decides which repeat items are due."""
    _check_limit(limit)
    customers.check_customer_in_scope(session=session, customer_id=customer_id, store_ids=store_ids)
    rec = CustomerRecommendation
    latest = select(func.max(rec.run_id)).where(rec.customer_id == customer_id).scalar_subquery()
    rows = session.execute(
        select(
            rec.run_id,
            rec.as_of,
            rec.rank,
            rec.sku,
            rec.score,
            rec.source,
            rec.due_on,
            catalog.product_name_of(rec.sku),
        )
        .where(rec.customer_id == customer_id, rec.run_id == latest)
        .order_by(rec.rank)
        .limit(limit)
    ).all()
    if not rows:
        return CustomerRecommendations(customer_id=customer_id, run_id=None, as_of=None, items=[])
    as_of = rows[0].as_of
    now = today or max(as_of + timedelta(days=1), utcnow().date())
    return CustomerRecommendations(
        customer_id=customer_id,
        run_id=rows[0].run_id,
        as_of=as_of,
        items=[
            RecommendedItem(
                rank=r.rank,
                sku=r.sku,
                name=r[7],
                score=r.score,
                reason=reason_of(r.source, r.due_on, today=now),
                due_on=r.due_on,
            )
            for r in rows
        ],
    )


def _rules_store(
    session: Session, store_code: str | None, store_ids: frozenset[int] | None
) -> tuple[int | None, str | None]:
    """(store id, code) whose rules to read: the one named, else the chain's (None); a
    store-bound role reads its own store's (its only store when it names none)."""
    if store_code is None:
        if store_ids is None:
            return None, None
        if len(store_ids) != 1:
            raise InvalidInput("store", "name one of your stores", message_code="store_required")
        store = catalog.get_store(session=session, store_id=next(iter(store_ids)))
        if store is None:  # a key bound to a store since deleted
            raise OtherStoresRules("the rules of every store are not for your role")
        return store.id, store.code
    store = catalog.get_store_by_code_or_raise(session=session, code=store_code)
    if store_ids is not None and store.id not in store_ids:
        raise OtherStoresRules(f"store {store_code!r} is not one of yours", store=store_code)
    return store.id, store.code


def product_bought_together(
    *,
    session: Session,
    sku: str,
    store_code: str | None = None,
    store_ids: frozenset[int] | None = None,
    limit: int = 10,
) -> BoughtTogetherRead:
    """The consequents of the single-item rules {sku} ⇒ {y} in the latest run that mined
    rules, for one store (``store_code``) or the chain, best lift first.

    Raises ProductNotFound for a SKU the catalogue does not know, StoreNotFound for an
    unknown store, OtherStoresRules when a store-bound role asks for another store's or the
    chain's rules."""
    _check_limit(limit)
    product = catalog.get_product_by_sku_or_raise(session=session, sku=sku)
    store_id, code = _rules_store(session, store_code, store_ids)
    rule = BasketRule
    scope: Any = rule.store_id.is_(None) if store_id is None else rule.store_id == store_id
    latest = select(func.max(rule.run_id)).scalar_subquery()
    rows = session.execute(
        select(
            rule.run_id,
            rule.as_of,
            rule.consequent,
            rule.rule_count,
            rule.support,
            rule.confidence,
            rule.lift,
            catalog.product_name_of(rule.consequent),
        )
        .where(
            rule.run_id == latest,
            rule.level == "sku",
            scope,
            rule.antecedent_key == antecedent_key([sku]),
        )
        .order_by(rule.lift.desc(), rule.confidence.desc(), rule.consequent)
        .limit(limit)
    ).all()
    return BoughtTogetherRead(
        sku=product.sku,
        name=product.name,
        store_code=code,
        run_id=rows[0].run_id if rows else None,
        as_of=rows[0].as_of if rows else None,
        items=[
            BoughtTogetherItem(
                sku=r.consequent,
                name=r[7],
                baskets=r.rule_count,
                support=r.support,
                confidence=r.confidence,
                lift=r.lift,
            )
            for r in rows
        ],
    )
