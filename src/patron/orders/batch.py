"""Writing a batch of new orders (a bulk post's, an import's): their rows and their lines
go to the driver as tuples built straight from the orders (core/bulk.write_tuples), and
their ``order.created`` events in one publish. The rows stored are the ones a single post
stores (intake._insert); only the way there is shorter, with no dictionary per row and no
pass over the rows to pick the columns apart again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from patron import events
from patron.catalog.schemas import StoreRead
from patron.core.bulk import instant_writer, write_tuples
from patron.core.db import reserve_ids
from patron.orders.reads import _ORDERS
from patron.orders.schemas import OrderIn

_ORDER_COLUMNS = (
    "id",
    "source",
    "external_id",
    "store_id",
    "channel",
    "customer_id",
    "ordered_at",
    "currency",
    "gross_fen",
    "discount_fen",
    "order_discount_fen",
    "total_fen",
    "payment_method",
    "line_count",
    "request_hash",
    "import_run_id",
    "country",
    "province",
    "city",
    "cashier",
    "created_at",
)
# Columns that may be NULL in every row of a batch (core/bulk.write_tuples leaves them out).
_OPTIONAL_ORDER_COLUMNS = frozenset(
    ("customer_id", "payment_method", "import_run_id", "country", "province", "city", "cashier")
)
_LINE_COLUMNS = (
    "order_id",
    "line_no",
    "sku",
    "name",
    "quantity_milli",
    "unit_price_fen",
    "discount_fen",
    "amount_fen",
)
_OPTIONAL_LINE_COLUMNS = frozenset(("name",))


def write_orders(
    session: Session,
    orders_in: Sequence[OrderIn],
    hashes: Sequence[str],
    stores: Sequence[StoreRead],
    channels: Sequence[str],
    customer_ids: Sequence[int | None],
    *,
    import_run_id: int | None,
    currency: str,
    now: datetime,
) -> list[int]:
    """Insert ``orders_in`` (new orders, each with its hash, store, channel and customer at
    the same position) with their lines, and publish their ``order.created`` events;
    returns the new orders' ids, in order."""
    conn = session.connection()
    order_ids = reserve_ids(conn, _ORDERS, len(orders_in))
    instant = instant_writer(conn)
    created_at = instant(now)
    rows: list[tuple[Any, ...]] = []
    line_rows: list[tuple[Any, ...]] = []
    created: list[events.DomainEvent] = []
    for order_id, order_in, digest, store, channel, customer_id in zip(
        order_ids, orders_in, hashes, stores, channels, customer_ids, strict=True
    ):
        lines = order_in.lines
        # The order's sums (OrderIn.gross_fen, .paid_fen) in the one pass over its lines.
        line_discounts = gross_fen = paid_fen = 0
        for line_no, line in enumerate(lines, start=1):
            discount_fen = line.discount_fen
            amount_fen = line.amount_fen
            line_discounts += discount_fen
            gross_fen += line.gross_fen
            paid_fen += amount_fen or 0
            line_rows.append(
                (
                    order_id,
                    line_no,
                    line.sku,
                    line.name,
                    line.quantity_milli,
                    line.unit_price_fen,
                    discount_fen,
                    amount_fen,
                )
            )
        payment = order_in.payment_method
        total_fen = paid_fen - order_in.order_discount_fen
        rows.append(
            (
                order_id,
                order_in.source,
                order_in.external_id,
                store.id,
                channel,
                customer_id,
                instant(order_in.ordered_at),
                currency,
                gross_fen,
                line_discounts + order_in.order_discount_fen,
                order_in.order_discount_fen,
                total_fen,
                payment.value if payment else None,
                len(lines),
                digest,
                import_run_id,
                order_in.country,
                order_in.province,
                order_in.city,
                order_in.cashier,
                created_at,
            )
        )
        # The event intake._order_created makes of a single post's order, keys in its order.
        created.append(
            events.DomainEvent(
                "order.created",
                customer_id,
                store.id,
                {
                    "order_id": order_id,
                    "source": order_in.source,
                    "external_id": order_in.external_id,
                    "channel": channel,
                    "total_fen": total_fen,
                    "line_count": len(lines),
                },
                f"order.created:{order_id}",
                order_in.ordered_at,
            )
        )
    write_tuples(conn, "orders", _ORDER_COLUMNS, rows, optional=_OPTIONAL_ORDER_COLUMNS)
    write_tuples(conn, "order_line", _LINE_COLUMNS, line_rows, optional=_OPTIONAL_LINE_COLUMNS)
    # Their ids were just taken from the orders' sequence: no event names them yet.
    events.publish_many(session, created, new=True)
    return order_ids
