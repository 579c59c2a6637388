"""Stores and products. Other domains call ``patron.catalog.service``; the codes beside the
tables (a store's kind) are exported here, so no other domain imports catalog's tables."""

from __future__ import annotations

from patron.catalog.models import StoreKind

__all__ = ["StoreKind"]
