"""The audit log: append-only, one row per thing someone did that must be answerable for."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.clock import utcnow
from patron.core.crypto import EncryptedJSON
from patron.core.models import Base, BigId, IdPk, UTCDateTime


class AuditEntry(Base):
    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_at", "at"),
        Index("ix_audit_entry_action_at", "action", "at"),
        Index("ix_audit_entry_target", "target_kind", "target_id"),
        Index("ix_audit_entry_actor", "actor_kind", "actor_id"),
    )

    id: Mapped[IdPk]
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # staff, api_key or system; the name is kept as it was, in case the actor is renamed
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(BigId)
    actor_name: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64))
    target_kind: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(64))
    # never personal data: ids, counts, field names
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What a changed record held before (a profile's fields), encrypted like the profile:
    # personal data never goes into ``details``.
    before_image: Mapped[dict[str, Any] | None] = mapped_column(
        EncryptedJSON("audit_entry.before_image")
    )
