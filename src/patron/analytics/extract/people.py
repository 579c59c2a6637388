"""The extract of customers: profiles changed since the last run, merged profiles, and the
owner of every order a merge or unmerge moved.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, or_, select

from patron.analytics.extract.common import (
    ExtractResult,
    _chunks,
    _count,
    _instant,
    _latest,
    _local_date,
    _since,
    _stream,
)
from patron.customers.models import Customer, CustomerMerge
from patron.orders.models import Order


def _customers(
    source: Connection,
    duck: Any,
    dialect: str,
    state: dict[str, str],
    zone: str,
    result: ExtractResult,
) -> tuple[dict[str, str], set[int]]:
    """Upsert changed profiles; returns the new watermark and the profiles whose orders may
    have changed hands (merged, unmerged, and the profiles they were merged into)."""
    c = Customer.__table__
    statement = select(
        c.c.id,
        _instant(c.c.signed_up_at, dialect),
        c.c.home_store_id,
        c.c.signup_channel,
        c.c.status,
        c.c.merged_into_id,
        _instant(c.c.updated_at, dialect),
    )
    since = _since(state, "customers_updated_at")
    if since is not None:
        m = CustomerMerge.__table__
        merged_lately = or_(m.c.merged_at >= since, m.c.unmerged_at >= since)
        statement = statement.where(
            or_(
                c.c.updated_at >= since,
                c.c.id.in_(select(m.c.merged_id).where(merged_lately)),
                c.c.id.in_(select(m.c.survivor_id).where(merged_lately)),
            )
        )
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _in_customers AS "
        "SELECT *, CAST(NULL AS TIMESTAMP) AS updated_at FROM _customers_all LIMIT 0"
    )
    _stream(
        source,
        statement,
        duck,
        "_in_customers",
        ["id", "signed_up_at", "home_store_id", "channel", "status", "merged_into_id", "upd"],
        "SELECT id, CAST(signed_up_at AS TIMESTAMP), "
        + _local_date("CAST(signed_up_at AS TIMESTAMP)", zone)
        + ", home_store_id, channel, status, merged_into_id, CAST(upd AS TIMESTAMP) FROM _batch",
    )
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _changed_customers AS SELECT * FROM "
        "(SELECT * EXCLUDE (updated_at) FROM _in_customers EXCEPT SELECT * FROM _customers_all)"
    )
    repoint: set[int] = set()
    for cid, old_status, old_into, status, into in duck.execute(
        "SELECT n.customer_id, o.status, o.merged_into_id, n.status, n.merged_into_id "
        "FROM _changed_customers n LEFT JOIN _customers_all o USING (customer_id)"
    ).fetchall():
        if old_status is None and status == "active":
            continue  # a new profile: its orders arrive with it
        if old_status != status or old_into != into:
            repoint.update(x for x in (cid, old_into, into) if x is not None)
    changed = _count(duck, "SELECT count(*) FROM _changed_customers")
    result.add("customers", changed)
    if changed:
        duck.execute(
            "DELETE FROM _customers_all WHERE customer_id IN "
            "(SELECT customer_id FROM _changed_customers)"
        )
        duck.execute("INSERT INTO _customers_all SELECT * FROM _changed_customers")
        duck.execute(
            "DELETE FROM customers WHERE customer_id IN "
            "(SELECT customer_id FROM _changed_customers)"
        )
        duck.execute(
            "INSERT INTO customers SELECT customer_id, signed_up_at, signup_date, home_store_id, "
            "signup_channel FROM _changed_customers WHERE status = 'active'"
        )
    top = _latest(duck, "_in_customers")
    if top is not None:
        return {"customers_updated_at": top}, repoint
    kept = {k: v for k, v in state.items() if k == "customers_updated_at"}
    return kept, repoint


def _repoint_orders(
    source: Connection, duck: Any, customer_ids: set[int], result: ExtractResult
) -> None:
    """Take the current owner of every order of these profiles from the operational side."""
    if not customer_ids:
        return
    o = Order.__table__
    duck.execute("CREATE OR REPLACE TEMP TABLE _owners (order_id BIGINT, customer_id BIGINT)")
    for chunk in _chunks(customer_ids):
        _stream(
            source,
            select(o.c.id, o.c.customer_id).where(o.c.customer_id.in_(chunk)),
            duck,
            "_owners",
            ["order_id", "customer_id"],
            "SELECT * FROM _batch",
        )
    result.add(
        "orders",
        _count(
            duck,
            "WITH u AS (UPDATE orders SET customer_id = w.customer_id FROM _owners w "
            "WHERE orders.order_id = w.order_id AND orders.customer_id IS DISTINCT FROM "
            "w.customer_id RETURNING 1) SELECT count(*) FROM u",
        ),
    )


def _resolve_merged_owners(duck: Any, result: ExtractResult) -> None:
    """Orders still naming a merged profile go to the live profile at the end of its chain."""
    duck.execute(
        """
        CREATE OR REPLACE TEMP TABLE _roots AS
        WITH RECURSIVE chain(customer_id, target, depth) AS (
            SELECT customer_id, merged_into_id, 1 FROM _customers_all
            WHERE status = 'merged' AND merged_into_id IS NOT NULL
            UNION ALL
            SELECT chain.customer_id, a.merged_into_id, chain.depth + 1
            FROM chain JOIN _customers_all a ON a.customer_id = chain.target
            WHERE a.status = 'merged' AND a.merged_into_id IS NOT NULL AND chain.depth < 50
        )
        SELECT customer_id, arg_max(target, depth) AS root FROM chain GROUP BY 1
        """
    )
    result.add(
        "orders",
        _count(
            duck,
            "WITH u AS (UPDATE orders SET customer_id = r.root FROM _roots r "
            "WHERE orders.customer_id = r.customer_id RETURNING 1) SELECT count(*) FROM u",
        ),
    )
