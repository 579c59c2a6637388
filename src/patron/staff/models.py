"""Staff users, their stores, sign-in sessions and API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.clock import utcnow
from patron.core.models import Base, BigId, IdPk, UTCDateTime


class StaffUser(Base):
    __tablename__ = "staff_user"

    id: Mapped[IdPk]
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StaffStore(Base):
    """A store a store-bound staff user works in."""

    __tablename__ = "staff_store"

    staff_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True
    )
    store_id: Mapped[int] = mapped_column(BigId, ForeignKey("store.id"), primary_key=True)


class StaffSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is kept."""

    __tablename__ = "staff_session"

    id: Mapped[IdPk]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiKey(Base):
    """A key for an integration (a till system, the web shop). Only its SHA-256 is kept."""

    __tablename__ = "api_key"

    id: Mapped[IdPk]
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists to tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    created_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    uses: Mapped[int] = mapped_column(BigInteger, default=0)


class ApiKeyStore(Base):
    __tablename__ = "api_key_store"

    api_key_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("api_key.id", ondelete="CASCADE"), primary_key=True
    )
    store_id: Mapped[int] = mapped_column(BigId, ForeignKey("store.id"), primary_key=True)
