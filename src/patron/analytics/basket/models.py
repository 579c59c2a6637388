"""Association rules kept in the operational database by each analytics run, for "bought
together" and the basket page to read without mining again."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.models import Base, BigId, IdPk


class BasketRule(Base):
    """A rule antecedent ⇒ consequent mined over one scope (all stores when ``store_id`` is
    None) and item level (``sku`` or ``category``) in a run; measures as in basket/mining.py."""

    __tablename__ = "basket_rule"
    __table_args__ = (
        Index("ix_basket_rule_lookup", "run_id", "level", "store_id", "antecedent_key"),
        Index("ix_basket_rule_consequent", "run_id", "level", "store_id", "consequent"),
    )

    id: Mapped[IdPk]
    run_id: Mapped[int] = mapped_column(BigId, ForeignKey("analytics_run.id"))
    as_of: Mapped[date] = mapped_column(Date)
    store_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("store.id"))
    level: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[date] = mapped_column(Date)
    baskets: Mapped[int] = mapped_column(Integer)
    # Sorted items; the key is their JSON text, so one antecedent has one key.
    antecedent: Mapped[list[Any]] = mapped_column(JSON, default=list)
    antecedent_key: Mapped[str] = mapped_column(String(1000))
    consequent: Mapped[str] = mapped_column(String(255))
    items: Mapped[int] = mapped_column(SmallInteger)
    rule_count: Mapped[int] = mapped_column(Integer)
    antecedent_count: Mapped[int] = mapped_column(Integer)
    consequent_count: Mapped[int] = mapped_column(Integer)
    support: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    lift: Mapped[float] = mapped_column(Float)
    leverage: Mapped[float] = mapped_column(Float)
    # None when the confidence is 1 (conviction is infinite).
    conviction: Mapped[float | None] = mapped_column(Float)
