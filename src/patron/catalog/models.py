"""Stores and products."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.clock import utcnow
from patron.core.models import Base, IdPk, UTCDateTime


class StoreKind(StrEnum):
    PHYSICAL = "physical"
    ONLINE = "online"
    MINI_PROGRAM = "mini_program"


class Store(Base):
    __tablename__ = "store"

    id: Mapped[IdPk]
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    city: Mapped[str | None] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(20), default=StoreKind.PHYSICAL)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Product(Base):
    __tablename__ = "product"
    __table_args__ = (Index("ix_product_category_path", "category_path"),)

    id: Mapped[IdPk]
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Slash-separated from the top: 生鲜/水果/苹果. A prefix match finds a whole branch.
    category_path: Mapped[str] = mapped_column(String(255), default="")
    brand: Mapped[str | None] = mapped_column(String(120))
    list_price_fen: Mapped[int | None] = mapped_column(BigInteger)
    shelf_life_days: Mapped[int | None] = mapped_column(Integer)
    warranty_months: Mapped[int | None] = mapped_column(Integer)  # for repairs under warranty
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
