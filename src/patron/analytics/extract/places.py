"""The extract of stores (with their time zones) and products (with their categories)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from patron.analytics.extract.common import (
    ExtractResult,
    _count,
    _instant,
    _latest,
    _since,
    _stream,
)
from patron.catalog.models import Product, Store


def _stores(source: Connection, duck: Any, result: ExtractResult) -> set[int]:
    """Stores are few: read them all, replace what differs. Returns stores whose zone moved."""
    t = Store.__table__
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _in_stores (store_id BIGINT, code VARCHAR, name VARCHAR, "
        "city VARCHAR, kind VARCHAR, timezone VARCHAR)"
    )
    names = ["store_id", "code", "name", "city", "kind", "timezone"]
    _stream(
        source,
        select(t.c.id, t.c.code, t.c.name, t.c.city, t.c.kind, t.c.timezone),
        duck,
        "_in_stores",
        names,
        "SELECT * FROM _batch",
    )
    changed = _count(
        duck,
        "SELECT count(*) FROM (SELECT store_id, code, name, city, kind FROM _in_stores "
        "EXCEPT SELECT * FROM stores)",
    )
    zones = {
        row[0]
        for row in duck.execute(
            "SELECT i.store_id FROM _in_stores i JOIN _store_zone z USING (store_id) "
            "WHERE i.timezone <> z.timezone"
        ).fetchall()
    }
    duck.execute("DELETE FROM stores")
    duck.execute("INSERT INTO stores SELECT store_id, code, name, city, kind FROM _in_stores")
    duck.execute("DELETE FROM _store_zone")
    duck.execute("INSERT INTO _store_zone SELECT store_id, timezone FROM _in_stores")
    result.add("stores", changed)
    return zones


def _products(
    source: Connection, duck: Any, dialect: str, state: dict[str, str], result: ExtractResult
) -> dict[str, str]:
    t = Product.__table__
    statement = select(t.c.sku, t.c.category_path, _instant(t.c.updated_at, dialect))
    since = _since(state, "products_updated_at")
    if since is not None:
        statement = statement.where(t.c.updated_at >= since)
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _in_products (sku VARCHAR, category VARCHAR, "
        "updated_at TIMESTAMP)"
    )
    _stream(
        source,
        statement,
        duck,
        "_in_products",
        ["sku", "path", "updated_at"],
        "SELECT sku, split_part(ltrim(coalesce(path, ''), '/'), '/', 1), "
        "CAST(updated_at AS TIMESTAMP) FROM _batch",
    )
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _changed_skus AS SELECT sku, category FROM "
        "(SELECT sku, category FROM _in_products EXCEPT SELECT sku, category FROM _products)"
    )
    changed = _count(duck, "SELECT count(*) FROM _changed_skus")
    result.add("products", changed)
    if changed:
        duck.execute("DELETE FROM _products WHERE sku IN (SELECT sku FROM _changed_skus)")
        duck.execute("INSERT INTO _products SELECT sku, category FROM _changed_skus")
        result.add(
            "order_lines",
            _count(
                duck,
                "WITH u AS (UPDATE order_lines SET category = c.category FROM _changed_skus c "
                "WHERE order_lines.sku = c.sku AND order_lines.category <> c.category "
                "RETURNING 1) SELECT count(*) FROM u",
            ),
        )
    top = _latest(duck, "_in_products")
    if top is not None:
        return {"products_updated_at": top}
    return {k: v for k, v in state.items() if k == "products_updated_at"}
