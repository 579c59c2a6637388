"""Small analytics stores built by hand: every figure in these tests is worked out on paper."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import ibis
import pyarrow as pa

from patron.analytics.engine import Tables
from patron.analytics.engine.schema import ALL_TABLES

CST_OFFSET = timedelta(hours=8)


@dataclass
class Store:
    """Rows of an analytics store, added by the methods below, turned into Tables at the end."""

    customers: list[tuple[Any, ...]] = field(default_factory=list)
    orders: list[tuple[Any, ...]] = field(default_factory=list)
    order_lines: list[tuple[Any, ...]] = field(default_factory=list)
    refunds: list[tuple[Any, ...]] = field(default_factory=list)
    returns: list[tuple[Any, ...]] = field(default_factory=list)
    order_attributes: list[tuple[Any, ...]] = field(default_factory=list)
    stores: list[tuple[Any, ...]] = field(
        default_factory=lambda: [(1, "S01", "一号店", "上海", "store")]
    )

    def customer(self, customer_id: int, signup: date = date(2024, 1, 1)) -> int:
        at = datetime.combine(signup, time(10)) - CST_OFFSET
        self.customers.append((customer_id, at, signup, None, "pos"))
        return customer_id

    def order(
        self,
        customer_id: int | None,
        on: date,
        paid: int,
        *,
        refunded: int = 0,
        store_id: int = 1,
        channel: str = "pos",
        ordered_at: datetime | None = None,
        lines: list[tuple[str, int, int]] | None = None,
    ) -> int:
        """An order on business day ``on``; ``lines`` are (category, amount, refunded) and
        default to one line carrying the whole order."""
        order_id = len(self.orders) + 1
        at = ordered_at or (datetime.combine(on, time(12)) - CST_OFFSET)
        if at.tzinfo is not None:
            at = at.astimezone(UTC).replace(tzinfo=None)
        lines = lines or [("食品", paid, refunded)]
        assert sum(a for _, a, _ in lines) == paid and sum(r for _, _, r in lines) == refunded
        net = paid - refunded
        self.orders.append(
            (order_id, customer_id, store_id, channel, at, on, paid, paid, refunded, net)
        )
        for category, amount, line_refunded in lines:
            line_id = len(self.order_lines) + 1
            self.order_lines.append(
                (line_id, order_id, f"SKU{line_id}", category, 1000, amount, line_refunded,
                 amount - line_refunded)
            )  # fmt: skip
        if refunded:
            refund_id = len(self.refunds) + 1
            self.refunds.append((refund_id, order_id, at + timedelta(days=1), on, refunded))
            first_line = len(self.order_lines) - len(lines) + 1
            for n, (category, _amount, line_refunded) in enumerate(lines):
                if line_refunded:
                    self.returns.append(
                        (len(self.returns) + 1, order_id, first_line + n, customer_id,
                         store_id, channel, at + timedelta(days=1), on, category, line_refunded)
                    )  # fmt: skip
        return order_id

    def return_without_sale(
        self,
        customer_id: int | None,
        on: date,
        amount: int,
        *,
        store_id: int = 1,
        channel: str = "pos",
        category: str = "食品",
    ) -> None:
        """Money back on ``on`` for a sale the store does not hold."""
        at = datetime.combine(on, time(15)) - CST_OFFSET
        self.returns.append(
            (-(len(self.returns) + 1), None, None, customer_id, store_id, channel, at, on,
             category, amount)
        )  # fmt: skip

    def tables(self) -> Tables:
        return Tables(
            **{
                name: ibis.memtable(
                    pa.Table.from_pylist(
                        [dict(zip(schema.names, row, strict=True)) for row in getattr(self, name)],
                        schema=schema.to_pyarrow(),
                    )
                )
                for name, schema in ALL_TABLES.items()
            }
        )


def rows(expr: ibis.Table, key: str | list[str]) -> dict[Any, dict[str, Any]]:
    """An executed table as {key: {column: value}}, with NaN/NaT as None and dates as date."""
    frame = expr.to_pyarrow().to_pylist()
    keys = [key] if isinstance(key, str) else key
    out: dict[Any, dict[str, Any]] = {}
    for row in frame:
        k = row[keys[0]] if len(keys) == 1 else tuple(row[c] for c in keys)
        assert k not in out, f"duplicate key {k}"
        out[k] = row
    return out
