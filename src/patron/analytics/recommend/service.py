"""Next-basket recommendations for every member: computed on the analytics store by the
nightly run, kept in the operational database (``customer_recommendation``), read per
member by the till, the mini-program and campaign templates.

``recommend_members`` is the pipeline step; ``record_recommendations`` writes its rows in
the caller's transaction; ``recommendations_for`` reads a member's latest list. Services
take a Session and never commit.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
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
from patron.analytics.models import AnalyticsRun
from patron.analytics.recommend.models import CustomerRecommendation
from patron.core import bulk
from patron.core.errors import InvalidInput

HISTORY_DAYS = 365
_EPOCH = date(1970, 1, 1)


def member_lines(
    tables: Tables, *, as_of: date, days: int = HISTORY_DAYS, distinct: bool = True
) -> Any:
    """(customer_id, order_date, sku) for members' counted orders (net > 0) in the ``days``
    days up to ``as_of``, lines still bought (net > 0), distinct: a member's day is one
    basket, however many orders it took. ``distinct=False`` leaves the repeats in, for a
    reader that drops them itself (``Histories.from_rows`` does, in the sort it makes
    anyway: DuckDB's distinct over a chain's millions of lines is most of the read)."""
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
    out = out.filter(out.sku.notnull() & (out.sku != ""))
    return out.distinct() if distinct else out


ROW_SCHEMA = pa.schema(
    [
        ("customer_id", pa.int64()),
        ("rank", pa.int16()),
        ("sku", pa.dictionary(pa.int32(), pa.string())),
        ("score", pa.float64()),
        ("source", pa.dictionary(pa.int8(), pa.string())),
        ("due_on", pa.date32()),
    ]
)


@dataclass(frozen=True, eq=False)
class RecommendationResult:
    """``rows``: an Arrow table in ``ROW_SCHEMA`` (SKU and source as dictionary codes: no
    Python object per row), a member's rows best first."""

    as_of: date
    rows: pa.Table
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return int(self.rows.num_rows)


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
    # Repeats left in: Histories.from_rows drops them (a basket's items are distinct).
    arrow = member_lines(tables, as_of=as_of, days=history_days, distinct=False).to_pyarrow()
    if arrow.num_rows == 0:
        return RecommendationResult(
            as_of=as_of, rows=ROW_SCHEMA.empty_table(), report={"members": 0}
        )
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
    # Due days as dates (days since 1970, date32's own value), null where an item has none.
    finite = np.isfinite(found.due)
    due_days = np.maximum(np.ceil(np.where(finite, found.due, 0.0)), 0).astype(np.int32)
    rows = pa.Table.from_arrays(
        [
            pa.array(np.asarray(histories.members, dtype=np.int64)[found.member]),
            pa.array(found.rank.astype(np.int16)),
            pa.DictionaryArray.from_arrays(
                pa.array(found.item.astype(np.int32)),
                pa.array(histories.labels.astype(str), pa.string()),
            ),
            pa.array(found.score),
            pa.DictionaryArray.from_arrays(
                pa.array(found.source.astype(np.int8)), pa.array(SOURCES, pa.string())
            ),
            pa.array(due_days, mask=~finite).cast(pa.date32()),
        ],
        schema=ROW_SCHEMA,
    )
    per_source = np.bincount(found.source, minlength=len(SOURCES))
    report = {
        "members": histories.member_count,
        "items": histories.item_count,
        "baskets": len(histories.times),
        "rows": len(found.member),
        "sources": {s: int(n) for s, n in zip(SOURCES, per_source, strict=True)},
        "seconds": round(time.perf_counter() - started, 3),
    }
    return RecommendationResult(as_of=as_of, rows=rows, report=report)


def record_recommendations(*, session: Session, run_id: int, result: RecommendationResult) -> int:
    """Write a run's recommendation rows from Arrow (core/bulk.py: COPY on PostgreSQL, the
    CSV written by Arrow a block at a time); returns how many. The rows carry no foreign
    keys: the run and the customers they name are checked once each, in SQL. On PostgreSQL
    a run's rows are a partition of ``customer_recommendation`` (core/bulk.py)."""
    r = result.rows
    n = r.num_rows
    table = pa.Table.from_arrays(
        [
            pa.array(np.full(n, run_id, dtype=np.int64)),
            r.column("customer_id"),
            pa.array(np.full(n, (result.as_of - _EPOCH).days, dtype=np.int32)).cast(pa.date32()),
            r.column("rank"),
            r.column("sku").cast(pa.string()),
            r.column("score"),
            r.column("source").cast(pa.string()),
            r.column("due_on"),
        ],
        names=["run_id", "customer_id", "as_of", "rank", "sku", "score", "source", "due_on"],
    )
    name = CustomerRecommendation.__tablename__
    if session.get(AnalyticsRun, run_id) is None:
        raise InvalidInput("run_id", f"no analytics run {run_id}")
    # The customers checked on their distinct ids (a tenth of the rows) before any row goes
    # in; on PostgreSQL the run's rows then fill a partition of their own (migration 0031,
    # docs/operations.md), indexed once when it is attached.
    bulk.check_values_known(session, r.column("customer_id"), "customer", table=name, run_id=run_id)
    restore = _more_index_build_memory(session)
    bulk.insert_arrow_partition(
        session,
        name,
        table,
        key="run_id",
        value=run_id,
        serial="id",
        constants={"as_of": result.as_of},
    )
    if restore is not None:
        _set_local(session, "maintenance_work_mem", restore)
    return n


# The memory a run's partition's index builds may take (docs/operations.md): a chain's 10.7
# million rows sort in memory, already in the order of both indexes, instead of in runs
# written to disk and merged back.
INDEX_BUILD_MEMORY_KB = 1024 * 1024


def _more_index_build_memory(session: Session) -> str | None:
    """On PostgreSQL, ``maintenance_work_mem`` raised to ``INDEX_BUILD_MEMORY_KB`` for the
    rest of the transaction when it is set lower; returns the value to put back after, or
    None when nothing changed (SQLite, or a server that allows as much already)."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return None
    found = conn.exec_driver_sql(
        "SELECT current_setting('maintenance_work_mem'), "
        "(SELECT setting::bigint FROM pg_settings WHERE name = 'maintenance_work_mem')"
    ).one()
    if int(found[1]) >= INDEX_BUILD_MEMORY_KB:
        return None
    _set_local(session, "maintenance_work_mem", f"{INDEX_BUILD_MEMORY_KB}kB")
    return str(found[0])


def _set_local(session: Session, name: str, value: str) -> None:
    """``name`` set to ``value`` until the transaction ends (SET LOCAL, as a parameter)."""
    session.connection().exec_driver_sql(
        "SELECT set_config(%(name)s, %(value)s, true)", {"name": name, "value": value}
    )


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
