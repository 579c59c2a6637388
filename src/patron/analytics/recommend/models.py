"""Next-basket recommendations kept in the operational database by each analytics run: each
member's top items, for the till, the mini-program and campaign templates to read."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Float, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.models import Base, BigId, IdPk


class CustomerRecommendation(Base):
    """One recommended SKU for a member in a run, ranked from 1; ``source`` says where it
    came from (repeat, similar, rule, popular) and ``due_on`` when a repeat item is due."""

    __tablename__ = "customer_recommendation"
    # One key serves every read (a member's latest list, by member first) and keeps the
    # rank unique within a member's list (docs/operations.md).
    __table_args__ = (UniqueConstraint("customer_id", "run_id", "rank"),)

    id: Mapped[IdPk]
    # Ids without foreign keys: a chain's run writes some ten million rows, and the
    # write-back checks them once in SQL instead of a lookup per row (docs/operations.md).
    run_id: Mapped[int] = mapped_column(BigId)
    customer_id: Mapped[int] = mapped_column(BigId)
    as_of: Mapped[date] = mapped_column(Date)
    rank: Mapped[int] = mapped_column(SmallInteger)
    sku: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16))
    due_on: Mapped[date | None] = mapped_column(Date)
