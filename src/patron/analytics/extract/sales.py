"""The extract of sales: orders and their lines and attributes, refunds, returns without a
known sale, and the refunded and net figures a refund changes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, or_, select

from patron.analytics.extract.common import (
    ID_OVERLAP,
    ExtractResult,
    _count,
    _instant,
    _local_date,
    _stream,
)
from patron.orders.models import Order, OrderLine, Refund, RefundLine, SaleReturn


def _returns(source: Connection, duck: Any, dialect: str, zone: str, result: ExtractResult) -> None:
    """Money going back, line by line and dated, rebuilt whole: every refund line (from the
    tables extracted above, at the store that paid it back) and every line of a return
    without a known sale (few, read afresh, so a merge or unmerge since is in)."""
    r, s = Refund.__table__, SaleReturn.__table__
    duck.execute("CREATE OR REPLACE TEMP TABLE _refund_store (refund_id BIGINT, store_id BIGINT)")
    _stream(
        source,
        select(r.c.id, r.c.store_id).where(r.c.store_id.is_not(None)),
        duck,
        "_refund_store",
        ["refund_id", "store_id"],
        "SELECT * FROM _batch",
    )
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _sale_returns (id BIGINT, customer_id BIGINT, "
        "store_id BIGINT, channel VARCHAR, returned_at TIMESTAMP, sku VARCHAR, "
        "amount_fen BIGINT)"
    )
    _stream(
        source,
        select(
            s.c.id,
            s.c.customer_id,
            s.c.store_id,
            s.c.channel,
            _instant(s.c.returned_at, dialect),
            s.c.sku,
            s.c.amount_fen,
        ),
        duck,
        "_sale_returns",
        ["id", "customer_id", "store_id", "channel", "returned_at", "sku", "amount_fen"],
        "SELECT id, customer_id, store_id, channel, CAST(returned_at AS TIMESTAMP), sku, "
        "amount_fen FROM _batch",
    )
    before = _count(duck, "SELECT count(*) FROM returns")
    day = _local_date("{at}", f"coalesce(z.timezone, {zone})")
    duck.execute("DELETE FROM returns")
    duck.execute(
        "INSERT INTO returns "
        "SELECT rl.refund_line_id, r.order_id, rl.order_line_id, o.customer_id, "
        "coalesce(rs.store_id, o.store_id), o.channel, r.refunded_at, "
        + day.format(at="r.refunded_at")
        + ", coalesce(l.category, ''), rl.amount_fen "
        "FROM _refund_lines rl JOIN refunds r USING (refund_id) "
        "JOIN orders o ON o.order_id = r.order_id "
        "LEFT JOIN order_lines l ON l.line_id = rl.order_line_id "
        "LEFT JOIN _refund_store rs ON rs.refund_id = r.refund_id "
        "LEFT JOIN _store_zone z ON z.store_id = coalesce(rs.store_id, o.store_id) "
        "UNION ALL "
        "SELECT -s.id, NULL, NULL, coalesce(root.root, s.customer_id), s.store_id, s.channel, "
        "s.returned_at, "
        + day.format(at="s.returned_at")
        + ", coalesce(p.category, ''), s.amount_fen "
        "FROM _sale_returns s "
        "LEFT JOIN _roots root ON root.customer_id = s.customer_id "
        "LEFT JOIN _products p ON p.sku = s.sku "
        "LEFT JOIN _store_zone z ON z.store_id = s.store_id"
    )
    after = _count(duck, "SELECT count(*) FROM returns")
    result.add("returns", abs(after - before))


def _orders(
    source: Connection,
    duck: Any,
    dialect: str,
    state: dict[str, str],
    zone: str,
    result: ExtractResult,
) -> dict[str, str]:
    low = max(0, int(state.get("order_id", "0")) - ID_OVERLAP)
    o = Order.__table__
    duck.execute("CREATE OR REPLACE TEMP TABLE _in_orders AS SELECT * FROM orders LIMIT 0")
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _have AS SELECT order_id FROM orders WHERE order_id > ?",
        [low],
    )
    _stream(
        source,
        select(
            o.c.id,
            o.c.customer_id,
            o.c.store_id,
            o.c.channel,
            _instant(o.c.ordered_at, dialect),
            o.c.gross_fen,
            o.c.total_fen,
        )
        .where(o.c.id > low)
        .order_by(o.c.id),
        duck,
        "_in_orders",
        ["order_id", "customer_id", "store_id", "channel", "ordered_at", "gross_fen", "paid"],
        "SELECT b.order_id, b.customer_id, b.store_id, b.channel, "
        "CAST(b.ordered_at AS TIMESTAMP), "
        + _local_date("CAST(b.ordered_at AS TIMESTAMP)", f"coalesce(z.timezone, {zone})")
        + ", b.gross_fen, b.paid, 0, b.paid FROM _batch b "
        "LEFT JOIN _store_zone z ON z.store_id = b.store_id "
        "WHERE b.order_id NOT IN (SELECT order_id FROM _have)",
    )
    moved = _count(duck, "SELECT count(*) FROM _in_orders")
    duck.execute("INSERT INTO orders SELECT * FROM _in_orders")
    result.add("orders", moved)
    # What an export said of the order beyond its money (orders are never changed).
    duck.execute("DELETE FROM order_attributes WHERE order_id > ?", [low])
    said = or_(
        o.c.country.is_not(None),
        o.c.province.is_not(None),
        o.c.city.is_not(None),
        o.c.payment_method.is_not(None),
        o.c.cashier.is_not(None),
    )
    _stream(
        source,
        select(o.c.id, o.c.country, o.c.province, o.c.city, o.c.payment_method, o.c.cashier)
        .where(o.c.id > low, said)
        .order_by(o.c.id),
        duck,
        "order_attributes",
        ["order_id", "country", "province", "city", "payment_method", "cashier"],
        "SELECT * FROM _batch",
    )

    ln = OrderLine.__table__
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _have_lines AS SELECT line_id FROM order_lines "
        "WHERE order_id > ?",
        [low],
    )
    _stream(
        source,
        select(ln.c.id, ln.c.order_id, ln.c.sku, ln.c.quantity_milli, ln.c.amount_fen).where(
            ln.c.order_id > low
        ),
        duck,
        "order_lines",
        ["line_id", "order_id", "sku", "quantity_milli", "amount_fen"],
        "SELECT b.line_id, b.order_id, b.sku, coalesce(p.category, ''), b.quantity_milli, "
        "b.amount_fen, 0, b.amount_fen FROM _batch b LEFT JOIN _products p ON p.sku = b.sku "
        "WHERE b.line_id NOT IN (SELECT line_id FROM _have_lines)",
    )
    result.add(
        "order_lines",
        _count(duck, "SELECT count(*) FROM order_lines WHERE order_id > ?", [low])
        - _count(duck, "SELECT count(*) FROM _have_lines"),
    )
    top = _count(duck, "SELECT max(order_id) FROM orders")
    return {"order_id": str(top)}


def _refunds(
    source: Connection,
    duck: Any,
    dialect: str,
    state: dict[str, str],
    zone: str,
    result: ExtractResult,
) -> dict[str, str]:
    low = max(0, int(state.get("refund_id", "0")) - ID_OVERLAP)
    r = Refund.__table__
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _have_refunds AS SELECT refund_id FROM refunds "
        "WHERE refund_id > ?",
        [low],
    )
    before = _count(duck, "SELECT count(*) FROM refunds")
    _stream(
        source,
        select(r.c.id, r.c.order_id, _instant(r.c.refunded_at, dialect), r.c.amount_fen)
        .where(r.c.id > low)
        .order_by(r.c.id),
        duck,
        "refunds",
        ["refund_id", "order_id", "refunded_at", "amount_fen"],
        "SELECT refund_id, order_id, CAST(refunded_at AS TIMESTAMP), "
        + _local_date("CAST(refunded_at AS TIMESTAMP)", zone)
        + ", amount_fen FROM _batch WHERE refund_id NOT IN (SELECT refund_id FROM _have_refunds)",
    )
    result.add("refunds", _count(duck, "SELECT count(*) FROM refunds") - before)

    rl = RefundLine.__table__
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _have_refund_lines AS SELECT refund_line_id "
        "FROM _refund_lines WHERE refund_id > ?",
        [low],
    )
    before = _count(duck, "SELECT count(*) FROM _refund_lines")
    _stream(
        source,
        select(rl.c.id, rl.c.refund_id, rl.c.order_line_id, rl.c.amount_fen).where(
            rl.c.refund_id > low
        ),
        duck,
        "_refund_lines",
        ["refund_line_id", "refund_id", "order_line_id", "amount_fen"],
        "SELECT * FROM _batch WHERE refund_line_id NOT IN "
        "(SELECT refund_line_id FROM _have_refund_lines)",
    )
    result.add("refund_lines", _count(duck, "SELECT count(*) FROM _refund_lines") - before)
    return {"refund_id": str(_count(duck, "SELECT max(refund_id) FROM refunds"))}


def _refresh_refunded(
    duck: Any, *, low_order_id: int, low_refund_id: int, result: ExtractResult
) -> None:
    """Fold refunds into the orders and lines they touch: new orders, and orders of new
    refunds (which may have been extracted long before)."""
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _affected AS "
        "SELECT order_id FROM orders WHERE order_id > ? "
        "UNION SELECT order_id FROM refunds WHERE refund_id > ?",
        [low_order_id, low_refund_id],
    )
    result.add(
        "orders",
        _count(
            duck,
            """
            WITH sums AS (
                SELECT a.order_id, coalesce(sum(r.amount_fen), 0) AS refunded
                FROM _affected a LEFT JOIN refunds r USING (order_id) GROUP BY a.order_id
            ),
            u AS (
                UPDATE orders SET refunded_fen = sums.refunded,
                    net_fen = orders.paid_fen - sums.refunded
                FROM sums WHERE orders.order_id = sums.order_id
                    AND orders.refunded_fen <> sums.refunded
                RETURNING 1
            )
            SELECT count(*) FROM u
            """,
        ),
    )
    result.add(
        "order_lines",
        _count(
            duck,
            """
            WITH sums AS (
                SELECT rl.order_line_id, sum(rl.amount_fen) AS refunded
                FROM _refund_lines rl JOIN refunds r USING (refund_id)
                WHERE r.order_id IN (SELECT order_id FROM _affected)
                GROUP BY rl.order_line_id
            ),
            u AS (
                UPDATE order_lines SET refunded_fen = sums.refunded,
                    net_fen = order_lines.amount_fen - sums.refunded
                FROM sums WHERE order_lines.line_id = sums.order_line_id
                    AND order_lines.refunded_fen <> sums.refunded
                RETURNING 1
            )
            SELECT count(*) FROM u
            """,
        ),
    )
