"""Building events the way a web shop, a mini-program or a service would."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from patron import events
from patron.core.db import Database
from tests.helpers import T0

_numbers = iter(range(1, 10**9))


def behaviour(type_: str = "product_view", **fields: Any) -> dict[str, Any]:
    """A behaviour event as a shop posts it (a fresh event id unless given)."""
    n = next(_numbers)
    properties = {
        "page_view": {"url": f"https://shop.example.cn/p/{n}"},
        "product_view": {"sku": f"SKU-{n}", "price_fen": 1990},
        "search": {"query": "有机大米"},
        "cart_add": {"sku": "RICE-5KG", "quantity": 2, "price_fen": 5990},
        "cart_remove": {"sku": "RICE-5KG", "quantity": 1},
        "checkout_started": {"total_fen": 11980, "lines": [{"sku": "RICE-5KG", "quantity": 2}]},
        "coupon_viewed": {"template_code": "NEW10"},
        "identify": {},
    }[type_]
    return {
        "event_id": f"ev-{n}",
        "type": type_,
        "occurred_at": (T0 + timedelta(seconds=n)).isoformat(),
        "properties": properties,
        **fields,
    }


def publish(db: Database, type_: str, **fields: Any) -> int:
    return db.write(lambda s: events.publish(s, type_, **fields))
