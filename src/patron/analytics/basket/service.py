"""Basket rules for the shop: mined by the nightly run over the last weeks' baskets, for the
whole chain and for each store, kept in ``basket_rule`` and read by product ("bought
together"). Services take a Session and never commit.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow.compute as pc
from pydantic import BaseModel
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from patron.analytics.basket.definitions import LEVELS, BasketScope, Level, basket_items
from patron.analytics.basket.mining import Baskets, mine_rules
from patron.analytics.basket.models import BasketRule
from patron.analytics.engine import Tables
from patron.core.errors import InvalidInput

_WRITE_CHUNK = 5000


@dataclass(frozen=True)
class BasketRunParams:
    """What the nightly run mines: the last ``days`` days, at each level in ``levels``, for
    the chain and each store; rules of ``min_items`` to ``max_items`` items whose support
    and confidence reach the minimums, and whose itemset is in at least ``min_count``
    baskets (the support is raised to it in a small store, so two coincidences are not a
    rule)."""

    days: int = 90
    levels: tuple[Level, ...] = LEVELS
    min_support: float = 0.001
    min_count: int = 10
    min_confidence: float = 0.1
    min_items: int = 2
    max_items: int = 3

    def __post_init__(self) -> None:
        if self.days < 1:
            raise InvalidInput("days", "must be at least 1", value=self.days)
        if not self.levels or any(level not in LEVELS for level in self.levels):
            raise InvalidInput("levels", f"must be some of {', '.join(LEVELS)}")
        if self.min_count < 1:
            raise InvalidInput("min_count", "must be at least 1", value=self.min_count)


@dataclass(frozen=True, eq=False)
class BasketResult:
    as_of: date
    period_start: date
    rows: list[dict[str, Any]]
    report: dict[str, Any] = field(default_factory=dict)


def mine_shop_rules(
    tables: Tables,
    *,
    as_of: date,
    store_ids: list[int],
    params: BasketRunParams | None = None,
) -> BasketResult:
    """Rules for the chain (store None) and each of ``store_ids``, at each level."""
    p = params or BasketRunParams()
    started = time.perf_counter()
    start = as_of - timedelta(days=p.days - 1)
    rows: list[dict[str, Any]] = []
    scopes: list[dict[str, Any]] = []
    for level in p.levels:
        scope = BasketScope(start=start, end=as_of, level=level)
        # Repeats left in: Baskets drop them in their sort (DuckDB's distinct cost more).
        pairs = basket_items(tables, scope, with_store=True, distinct=False).to_pyarrow()
        order_ids = pairs.column("order_id").to_numpy()
        stores = pairs.column("store_id").to_numpy()
        # Items as codes into their sorted texts, straight from an Arrow dictionary: no
        # Python object per pair.
        encoded = pc.dictionary_encode(pairs.column("item").combine_chunks())
        texts = np.asarray(encoded.dictionary.to_pylist(), dtype=object).astype(str)
        order = np.argsort(texts, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        items = rank[encoded.indices.to_numpy(zero_copy_only=False)]
        labels = [str(t) for t in texts[order]]
        del pairs, encoded
        # Pairs by order then item, then grouped by store keeping that order: every scope's
        # baskets come sorted, so none is sorted again.
        order = np.lexsort((items, order_ids))
        order_ids, stores, items = order_ids[order], stores[order], items[order]
        by_store = np.argsort(stores, kind="stable")
        store_of = stores[by_store]
        for store_id in [None, *store_ids]:
            if store_id is None:
                baskets = Baskets.from_codes(order_ids, items, labels)
            else:
                lo = int(np.searchsorted(store_of, store_id, "left"))
                hi = int(np.searchsorted(store_of, store_id, "right"))
                if hi == lo:
                    continue
                picked = by_store[lo:hi]
                baskets = Baskets.from_codes(order_ids[picked], items[picked], labels)
            support = max(p.min_support, p.min_count / max(baskets.count, 1))
            if support > 1:
                continue
            rules = mine_rules(
                baskets,
                min_support=support,
                min_confidence=p.min_confidence,
                min_items=p.min_items,
                max_items=p.max_items,
            )
            scopes.append(
                {
                    "level": level,
                    "store_id": store_id,
                    "baskets": baskets.count,
                    "min_support": support,
                    "rules": len(rules),
                }
            )
            for rule in rules.rows():
                rows.append(
                    {
                        "as_of": as_of,
                        "store_id": store_id,
                        "level": level,
                        "period_start": start,
                        "baskets": baskets.count,
                        "antecedent": rule["antecedent"],
                        "antecedent_key": antecedent_key(rule["antecedent"]),
                        "consequent": rule["consequent"],
                        "items": rule["items"],
                        "rule_count": rule["rule_count"],
                        "antecedent_count": rule["antecedent_count"],
                        "consequent_count": rule["consequent_count"],
                        "support": rule["support"],
                        "confidence": rule["confidence"],
                        "lift": rule["lift"],
                        "leverage": rule["leverage"],
                        "conviction": (
                            rule["conviction"] if np.isfinite(rule["conviction"]) else None
                        ),
                    }
                )
    report = {
        "period": [start.isoformat(), as_of.isoformat()],
        "scopes": scopes,
        "rules": len(rows),
        "seconds": round(time.perf_counter() - started, 3),
    }
    return BasketResult(as_of=as_of, period_start=start, rows=rows, report=report)


def antecedent_key(items: list[str]) -> str:
    """One text per antecedent (its sorted items as JSON), for lookups."""
    return json.dumps(sorted(items), ensure_ascii=False, separators=(",", ":"))


def record_rules(*, session: Session, run_id: int, result: BasketResult) -> int:
    rows = [{"run_id": run_id, **row} for row in result.rows]
    for start in range(0, len(rows), _WRITE_CHUNK):
        session.execute(insert(BasketRule), rows[start : start + _WRITE_CHUNK])
    return len(rows)


class BoughtTogether(BaseModel):
    """A rule {item} ⇒ {consequent} as "bought together" shows it."""

    run_id: int
    as_of: date
    item: str
    consequent: str
    baskets: int
    support: float
    confidence: float
    lift: float


def bought_together(
    *,
    session: Session,
    item: str,
    level: str = "sku",
    store_id: int | None = None,
    limit: int = 10,
    run_id: int | None = None,
) -> list[BoughtTogether]:
    """What is bought with ``item``: the single-item rules from it in the latest run that
    mined rules (or ``run_id``), for one store or the chain (None), by lift then
    confidence."""
    if level not in LEVELS:
        raise InvalidInput("level", f"must be one of {', '.join(LEVELS)}", value=level)
    if not 1 <= limit <= 100:
        raise InvalidInput("limit", "must be between 1 and 100", value=limit)
    run = run_id
    if run is None:
        run = session.scalar(select(func.max(BasketRule.run_id)))
        if run is None:
            return []
    scope = BasketRule.store_id.is_(None) if store_id is None else BasketRule.store_id == store_id
    rules = session.scalars(
        select(BasketRule)
        .where(
            BasketRule.run_id == run,
            BasketRule.level == level,
            scope,
            BasketRule.antecedent_key == antecedent_key([item]),
        )
        .order_by(BasketRule.lift.desc(), BasketRule.confidence.desc(), BasketRule.consequent)
        .limit(limit)
    )
    return [
        BoughtTogether(
            run_id=r.run_id,
            as_of=r.as_of,
            item=item,
            consequent=r.consequent,
            baskets=r.rule_count,
            support=r.support,
            confidence=r.confidence,
            lift=r.lift,
        )
        for r in rules
    ]


class RuleRow(BaseModel):
    """A rule as the basket page lists it (``antecedent`` ⇒ ``consequent``)."""

    antecedent: list[str]
    consequent: str
    baskets: int
    support: float
    confidence: float
    lift: float
    leverage: float
    conviction: float | None


class RuleFilters(BaseModel):
    """What the basket page asks for: a level, a store (None: the chain), a category prefix
    (the consequent's category path, or the category item itself), minimum measures."""

    level: str = "sku"
    store_id: int | None = None
    category: str | None = None
    min_support: float = 0.0
    min_confidence: float = 0.0
    min_lift: float = 0.0
    limit: int = 50


class RuleList(BaseModel):
    run_id: int | None
    as_of: date | None
    period_start: date | None
    baskets: int | None
    total: int
    rules: list[RuleRow]


def top_rules(*, session: Session, filters: RuleFilters) -> RuleList:
    """The latest run's rules for one store or the chain that pass ``filters``, best lift
    first (the total counts every rule that passes)."""
    from patron.catalog import service as catalog

    f = filters
    if f.level not in LEVELS:
        raise InvalidInput("level", f"must be one of {', '.join(LEVELS)}", value=f.level)
    if not 1 <= f.limit <= 500:
        raise InvalidInput("limit", "must be between 1 and 500", value=f.limit)
    run = session.scalar(select(func.max(BasketRule.run_id)))
    if run is None:
        return RuleList(run_id=None, as_of=None, period_start=None, baskets=None, total=0, rules=[])
    wanted = [
        BasketRule.run_id == run,
        BasketRule.level == f.level,
        BasketRule.store_id.is_(None) if f.store_id is None else BasketRule.store_id == f.store_id,
        BasketRule.support >= f.min_support,
        BasketRule.confidence >= f.min_confidence,
        BasketRule.lift >= f.min_lift,
    ]
    if f.category:
        prefix = f.category.strip("/")
        if f.level == "sku":
            wanted.append(BasketRule.consequent.in_(catalog.skus_in_category(prefix)))
        else:
            wanted.append(
                (BasketRule.consequent == prefix) | BasketRule.consequent.startswith(prefix + "/")
            )
    total = session.scalar(select(func.count()).select_from(BasketRule).where(*wanted)) or 0
    rows = session.scalars(
        select(BasketRule)
        .where(*wanted)
        .order_by(BasketRule.lift.desc(), BasketRule.confidence.desc(), BasketRule.id)
        .limit(f.limit)
    ).all()
    first = rows[0] if rows else None
    return RuleList(
        run_id=run,
        as_of=first.as_of if first else None,
        period_start=first.period_start if first else None,
        baskets=first.baskets if first else None,
        total=total,
        rules=[
            RuleRow(
                antecedent=list(r.antecedent),
                consequent=r.consequent,
                baskets=r.rule_count,
                support=r.support,
                confidence=r.confidence,
                lift=r.lift,
                leverage=r.leverage,
                conviction=r.conviction,
            )
            for r in rows
        ],
    )
