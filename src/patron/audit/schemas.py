"""Audit entries out of the API and the console."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from patron.core.schemas import Schema


class AuditEntryRead(Schema):
    id: int
    at: datetime
    actor_kind: str
    actor_id: int | None
    actor_name: str
    action: str
    target_kind: str | None
    target_id: str | None
    reason: str | None
    ip: str | None
    details: dict[str, Any]


class AuditPage(Schema):
    items: list[AuditEntryRead]
    next_cursor: str | None = None
