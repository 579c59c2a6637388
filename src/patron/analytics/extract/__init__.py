"""Copy the operational database into the analytics store, moving only what changed.

The store's tables are those of ``engine/schema.py``; beside them the extract keeps its own
(``_state`` with the watermarks, ``_customers_all`` with merged profiles too, ``_products``,
``_store_zone``, ``_refund_lines``), all in the same DuckDB file.

How a re-run finds what changed:
- orders, their lines, refunds and refund lines are only ever added: rows above the highest
  id seen. The last ``ID_OVERLAP`` ids are read again and only the missing ones kept, so a
  row whose transaction committed after a later id was extracted is not lost;
- customers and products change in place: rows whose ``updated_at`` is at or after the last
  one seen, less ``TIME_OVERLAP`` for the same reason, plus every profile in a merge made or
  undone since; only rows that differ from the store count as moved;
- a refund re-computes the refunded and net figures of its order and lines;
- a merge or unmerge re-reads the owner of every order of the profiles involved (the
  operational database moves them), and any order still naming a merged profile is pointed
  at the profile it was merged into, following chains of merges;
- orders are kept clustered by customer (``schema.ORDERS_CLUSTER_KEY``): new orders are
  appended in id order, and once more than ``UNCLUSTERED_SHARE`` of the table came in since
  the last rewrite, the table is rewritten in customer order (a few seconds for millions of
  orders, every few weeks for a chain; a full extract always ends with one).

Everything is read in one snapshot of the operational database, in chunks, and written in
one DuckDB transaction, so a failed extract leaves the store as it was.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from patron.analytics.engine.schema import cluster_orders
from patron.analytics.extract.common import (
    _DDL,
    BATCH_ROWS,
    ID_OVERLAP,
    SCHEMA_VERSION,
    TIME_OVERLAP,
    ExtractResult,
    _count,
    _local_date,
    _quote,
    _reset,
    _set_state,
    _state,
)
from patron.analytics.extract.people import _customers, _repoint_orders, _resolve_merged_owners
from patron.analytics.extract.places import _products, _stores
from patron.analytics.extract.sales import _orders, _refresh_refunded, _refunds, _returns
from patron.analytics.service_extract import load_service_signals
from patron.core.db import Database

__all__ = [
    "BATCH_ROWS",
    "ID_OVERLAP",
    "SCHEMA_VERSION",
    "TIME_OVERLAP",
    "UNCLUSTERED_SHARE",
    "ExtractResult",
    "extract",
]

UNCLUSTERED_SHARE = 0.1

# ------------------------------------------------------------------------------ the extract


def extract(*, db: Database, duck: Any, timezone: str, full: bool = False) -> ExtractResult:
    """Bring the store up to date with ``db``; ``full`` rebuilds it from nothing.

    ``duck`` is an open DuckDB connection to the store (the caller holds the run lock);
    ``timezone`` is the retailer's zone for sign-up and refund days. A change of zone since
    the last extract rebuilds the store, since every date would move.
    """
    started = time.perf_counter()
    for ddl in _DDL:
        duck.execute(ddl)
    state = _state(duck)
    if state.get("schema_version") != SCHEMA_VERSION or state.get("timezone") != timezone:
        full = True
    result = ExtractResult(full=full)
    duck.execute("BEGIN TRANSACTION")
    try:
        if full:
            _reset(duck)
            state = {}
        dialect = db.engine.dialect.name
        # One snapshot: on PostgreSQL a repeatable-read transaction, on SQLite (WAL) a read
        # transaction, so orders never name a customer the extract has not seen.
        options: dict[str, Any] = {}
        if dialect == "postgresql":
            options["isolation_level"] = "REPEATABLE READ"
        with db.engine.connect().execution_options(**options) as source:
            new_state = _run(source, duck, dialect, state, timezone, result)
        new_state.update({"schema_version": SCHEMA_VERSION, "timezone": timezone})
        new_state["extracted_at"] = datetime.now(UTC).isoformat()
        _set_state(duck, new_state)
        for name in ("customers", "orders", "order_lines", "refunds", "stores", "returns"):
            result.totals[name] = _count(duck, f"SELECT count(*) FROM {name}")
        duck.execute("COMMIT")
    except BaseException:
        duck.execute("ROLLBACK")
        raise
    result.seconds = time.perf_counter() - started
    return result


def _run(
    source: Connection,
    duck: Any,
    dialect: str,
    state: dict[str, str],
    timezone: str,
    result: ExtractResult,
) -> dict[str, str]:
    zone = _quote(timezone)
    new_state: dict[str, str] = {}
    changed_zone_stores = _stores(source, duck, result)
    new_state.update(_products(source, duck, dialect, state, result))
    new_orders_low = int(state.get("order_id", "0"))
    new_state.update(_orders(source, duck, dialect, state, zone, result))
    new_refund_low = int(state.get("refund_id", "0"))
    new_state.update(_refunds(source, duck, dialect, state, zone, result))
    # Customers after orders: every order read names a customer this read will see.
    customer_state, repoint = _customers(source, duck, dialect, state, zone, result)
    new_state.update(customer_state)

    if changed_zone_stores:
        result.add(
            "orders",
            _count(
                duck,
                "WITH u AS (UPDATE orders SET order_date = "
                + _local_date("orders.ordered_at", "z.timezone")
                + " FROM _store_zone z WHERE z.store_id = orders.store_id AND "
                "orders.store_id IN (SELECT unnest(?)) RETURNING 1) SELECT count(*) FROM u",
                [sorted(changed_zone_stores)],
            ),
        )
    _repoint_orders(source, duck, repoint, result)
    _resolve_merged_owners(duck, result)
    _refresh_refunded(
        duck,
        low_order_id=max(0, new_orders_low - ID_OVERLAP),
        low_refund_id=max(0, new_refund_low - ID_OVERLAP),
        result=result,
    )
    _returns(source, duck, dialect, zone, result)
    for name, rows in load_service_signals(source, duck, timezone).items():
        result.add(name, rows)
    new_state.update(_keep_clustered(duck, state, result))
    return new_state


def _keep_clustered(duck: Any, state: dict[str, str], result: ExtractResult) -> dict[str, str]:
    """Rewrite orders in customer order once too many arrived since the last rewrite."""
    total = _count(duck, "SELECT count(*) FROM orders")
    clustered = int(state.get("orders_clustered", "0"))
    if total - clustered > UNCLUSTERED_SHARE * total:
        cluster_orders(duck)
        result.clustered, clustered = True, total
    return {"orders_clustered": str(min(clustered, total))}
