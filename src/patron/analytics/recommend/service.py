"""Next-basket recommendations for every member: computed on the analytics store by the
nightly run, kept in the operational database (``customer_recommendation``), read per
member by the till, the mini-program and campaign templates.

``recommend_members`` is the pipeline step; ``record_recommendations`` writes its rows in
the caller's transaction; ``recommendations_for`` reads a member's latest list. Services
take a Session and never commit.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.analytics.engine import Tables
from patron.analytics.recommend.models import CustomerRecommendation
from patron.core import bulk
from patron.core.errors import InvalidInput

HISTORY_DAYS = 365
_EPOCH = date(1970, 1, 1)
_WRITE_CHUNK = 10_000


def member_lines(tables: Tables, *, as_of: date, days: int = HISTORY_DAYS) -> Any:
    """(customer_id, order_date, sku) for members' counted orders (net > 0) in the ``days``
    days up to ``as_of``, lines still bought (net > 0), distinct: a member's day is one
    basket, however many orders it took."""
    orders = tables.orders
    start = as_of - timedelta(days=days - 1)
    kept = orders.filter(
        orders.customer_id.notnull()
        & (orders.net_fen > 0)
        & (orders.order_date >= start)
        & (orders.order_date <= as_of)
    ).select("order_id", "customer_id", "order_date")
    lines = tables.order_lines.filter(tables.order_lines.net_fen > 0)
    joined = lines.join(kept, "order_id")
    sku = joined.sku.strip()
    out = joined.select("customer_id", "order_date", sku=sku)
    return out.filter(out.sku.notnull() & (out.sku != "")).distinct()


@dataclass(frozen=True, eq=False)
class RecommendationResult:
    as_of: date
    rows: dict[str, np.ndarray[Any, Any]]
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.rows["customer_id"])


def recommend_members(
    tables: Tables,
    *,
    as_of: date,
    shelf_life_days: Mapping[str, int | None] | None = None,
    params: Any = None,
    history_days: int = HISTORY_DAYS,
) -> RecommendationResult:
    """Each member's top items for their next visit, from their baskets of the last
    ``history_days`` days (recommend/model.py); time in days, "now" the day after ``as_of``."""
    from patron.analytics.recommend.model import SOURCES, Histories, RecommendParams, recommend

    if history_days < 7:
        raise InvalidInput("history_days", "must be at least 7", value=history_days)
    started = time.perf_counter()
    params = params or RecommendParams()
    arrow = member_lines(tables, as_of=as_of, days=history_days).to_pyarrow()
    empty: dict[str, np.ndarray[Any, Any]] = {
        "customer_id": np.zeros(0, dtype=np.int64),
        "rank": np.zeros(0, dtype=np.int64),
        "sku": np.zeros(0, dtype=object),
        "score": np.zeros(0),
        "source": np.zeros(0, dtype=object),
        "due_on": np.zeros(0, dtype=object),
    }
    if arrow.num_rows == 0:
        return RecommendationResult(as_of=as_of, rows=empty, report={"members": 0})
    # Straight from Arrow's columns to arrays: the day as its count since 1970 (date32's
    # own value), the SKU as a dictionary's codes; no Python object per line.
    days = pc.cast(arrow.column("order_date"), pa.int32()).to_numpy().astype(np.float64)
    skus = pc.dictionary_encode(arrow.column("sku").combine_chunks())
    histories = Histories.from_rows(
        arrow.column("customer_id").to_numpy(),
        days,
        skus.indices.to_numpy(zero_copy_only=False),
        labels=skus.dictionary.to_numpy(zero_copy_only=False),
    )
    del arrow, days, skus
    shelf = None
    if shelf_life_days:
        known = {sku: float(days) for sku, days in shelf_life_days.items() if days}
        shelf = np.array([known.get(sku, np.nan) for sku in histories.labels.tolist()])
    now = float((as_of - _EPOCH).days + 1)
    found = recommend(histories, params, now=now, shelf_life=shelf)
    # Due days as dates, vectorised (NaT where an item has no due day).
    finite = np.isfinite(found.due)
    due_days = np.maximum(np.ceil(np.where(finite, found.due, 0.0)), 0).astype("timedelta64[D]")
    due_on = np.where(
        finite, np.datetime64("1970-01-01", "D") + due_days, np.datetime64("NaT", "D")
    )
    rows = {
        "customer_id": histories.members[found.member].astype(np.int64),
        "rank": found.rank,
        "sku": histories.labels[found.item].astype(object),
        "score": found.score,
        "source": np.asarray(SOURCES, dtype=object)[found.source],
        "due_on": due_on,
    }
    sources = {s: int((rows["source"] == s).sum()) for s in SOURCES}
    report = {
        "members": histories.member_count,
        "items": histories.item_count,
        "baskets": len(histories.times),
        "rows": len(found.member),
        "sources": sources,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return RecommendationResult(as_of=as_of, rows=rows, report=report)


def record_recommendations(*, session: Session, run_id: int, result: RecommendationResult) -> int:
    """Write a run's recommendation rows (COPY on PostgreSQL, core/bulk.py: a chain's
    twenty million rows as plain tuples, a block at a time); returns how many."""
    r = result.rows
    as_of = result.as_of.isoformat()
    due = r["due_on"]

    def tuples() -> Iterator[tuple[Any, ...]]:
        for start in range(0, result.count, _WRITE_CHUNK):
            end = min(start + _WRITE_CHUNK, result.count)
            due_text = [None if d is None else d.isoformat() for d in due[start:end].tolist()]
            yield from zip(
                itertools.repeat(run_id),
                r["customer_id"][start:end].tolist(),
                itertools.repeat(as_of),
                r["rank"][start:end].tolist(),
                r["sku"][start:end].tolist(),
                r["score"][start:end].tolist(),
                r["source"][start:end].tolist(),
                due_text,
                strict=False,
            )

    bulk.insert_tuples(
        session,
        CustomerRecommendation.__tablename__,
        ("run_id", "customer_id", "as_of", "rank", "sku", "score", "source", "due_on"),
        tuples(),
    )
    return result.count


class RecommendationRead(BaseModel):
    run_id: int
    as_of: date
    rank: int
    sku: str
    score: float
    source: str
    due_on: date | None


def recommendations_for(
    *, session: Session, customer_id: int, run_id: int | None = None, limit: int = 20
) -> list[RecommendationRead]:
    """The member's list from ``run_id``, or from the latest run that recommended to them,
    best first (empty when no run has)."""
    if not 1 <= limit <= 100:
        raise InvalidInput("limit", "must be between 1 and 100", value=limit)
    run = run_id
    if run is None:
        run = session.scalar(
            select(func.max(CustomerRecommendation.run_id)).where(
                CustomerRecommendation.customer_id == customer_id
            )
        )
        if run is None:
            return []
    rows = session.scalars(
        select(CustomerRecommendation)
        .where(
            CustomerRecommendation.customer_id == customer_id,
            CustomerRecommendation.run_id == run,
        )
        .order_by(CustomerRecommendation.rank)
        .limit(limit)
    )
    return [
        RecommendationRead(
            run_id=row.run_id,
            as_of=row.as_of,
            rank=row.rank,
            sku=row.sku,
            score=row.score,
            source=row.source,
            due_on=row.due_on,
        )
        for row in rows
    ]
