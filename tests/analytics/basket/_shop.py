"""A small analytics store with SKUs and categories on each line, for the basket tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import ibis
import pyarrow as pa

from patron.analytics.engine import Tables
from patron.analytics.engine.schema import TABLES


@dataclass
class Shop:
    orders: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)

    def order(
        self,
        items: list[tuple[str, str]] | list[str],
        *,
        on: date = date(2026, 10, 1),
        store_id: int = 1,
        channel: str = "pos",
        customer_id: int | None = 1,
        refunded_skus: tuple[str, ...] = (),
    ) -> int:
        """An order of (sku, category) lines, 1,000 fen each; ``refunded_skus`` refunded in full."""
        order_id = len(self.orders) + 1
        pairs = [(i, "食品") if isinstance(i, str) else i for i in items]
        refunded = 0
        for sku, category in pairs:
            back = 1000 if sku in refunded_skus else 0
            refunded += back
            self.lines.append(
                {
                    "line_id": len(self.lines) + 1,
                    "order_id": order_id,
                    "sku": sku,
                    "category": category,
                    "quantity_milli": 1000,
                    "amount_fen": 1000,
                    "refunded_fen": back,
                    "net_fen": 1000 - back,
                }
            )
        paid = 1000 * len(pairs)
        self.orders.append(
            {
                "order_id": order_id,
                "customer_id": customer_id,
                "store_id": store_id,
                "channel": channel,
                "ordered_at": datetime.combine(on, time(4)),
                "order_date": on,
                "gross_fen": paid,
                "paid_fen": paid,
                "refunded_fen": refunded,
                "net_fen": paid - refunded,
            }
        )
        return order_id

    def arrow(self) -> dict[str, pa.Table]:
        rows = {
            "customers": [
                {
                    "customer_id": 1,
                    "signed_up_at": datetime(2024, 1, 1, 2),
                    "signup_date": date(2024, 1, 1),
                    "home_store_id": 1,
                    "signup_channel": "pos",
                }
            ],
            "orders": self.orders,
            "order_lines": self.lines,
            "refunds": [],
            "stores": [
                {"store_id": 1, "code": "S01", "name": "一号店", "city": "上海", "kind": "store"},
                {"store_id": 2, "code": "S02", "name": "二号店", "city": "杭州", "kind": "store"},
            ],
        }
        return {
            name: pa.Table.from_pylist(rows[name], schema=schema.to_pyarrow())
            for name, schema in TABLES.items()
        }

    def tables(self) -> Tables:
        return Tables(**{name: ibis.memtable(t) for name, t in self.arrow().items()})


DAY = timedelta(days=1)
START, END = date(2026, 10, 1), date(2026, 10, 31)
