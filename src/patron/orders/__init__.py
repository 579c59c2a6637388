"""Orders, refunds and returns. Other domains call ``patron.orders.service`` (and ``returns``,
``sales``); the codes beside the tables (sales channels, payment methods) are exported here,
so no other domain imports orders' tables."""

from __future__ import annotations

from patron.orders.models import Channel, PaymentMethod

__all__ = ["Channel", "PaymentMethod"]
