"""Journeys' tables: a journey and its versions (the steps as they were when a customer
entered), each customer's place in a journey, what each step did, the staff tasks steps
create and the scheduler's cursors (docs/journeys.md)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.clock import utcnow
from patron.core.models import Base, BigId, IdPk, UTCDateTime


class StateStatus(StrEnum):
    ACTIVE = "active"  # runs its step at ``next_run_at`` (or waits for an event until then)
    HOLDOUT = "holdout"  # drawn into the holdout: no step runs; watched for the goal
    DONE = "done"  # walked every step
    CONVERTED = "converted"  # the goal happened (a purchase): left the journey
    EXITED = "exited"  # an exit step, a wait that timed out with nowhere to go
    MERGED = "merged"  # the profile was merged into one already in the journey


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class Journey(Base):
    __tablename__ = "journey"

    id: Mapped[IdPk]
    # Shipped journeys carry their code ("birthday"); a marketer's own have none.
    code: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)  # the version new entries get
    trigger: Mapped[dict[str, Any]] = mapped_column(JSON)
    # "once": one entry ever; "after_exit": again once the last entry has left, at least
    # ``reentry_days`` after it began.
    reentry: Mapped[str] = mapped_column(String(16), default="once")
    reentry_days: Mapped[int] = mapped_column(Integer, default=0)
    goal: Mapped[str | None] = mapped_column(String(16), default="purchase")
    holdout_bp: Mapped[int] = mapped_column(Integer, default=0)
    seed: Mapped[int] = mapped_column(BigInteger)
    conversion_days: Mapped[int] = mapped_column(Integer, default=14)
    # The local day a daily trigger last let customers in (so it does so once a day).
    entered_on: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class JourneyVersion(Base):
    """The steps of one version. A customer walks the version they entered on to its end;
    an edit makes a new version for those who enter after it."""

    __tablename__ = "journey_version"
    __table_args__ = (UniqueConstraint("journey_id", "version"),)

    id: Mapped[IdPk]
    journey_id: Mapped[int] = mapped_column(BigId, ForeignKey("journey.id"))
    version: Mapped[int] = mapped_column(Integer)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class JourneyState(Base):
    """One customer's entry into a journey: where they are and when their step is due."""

    __tablename__ = "journey_state"
    __table_args__ = (
        # One entry per occurrence of the trigger (a day, an event): seen twice, entered once.
        UniqueConstraint("journey_id", "customer_id", "entry_key"),
        Index("ix_journey_state_status_next_run_at", "status", "next_run_at"),
        Index("ix_journey_state_customer_id_status", "customer_id", "status"),
    )

    id: Mapped[IdPk]
    journey_id: Mapped[int] = mapped_column(BigId, ForeignKey("journey.id"))
    version: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    entry_key: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default=StateStatus.ACTIVE)
    step: Mapped[int] = mapped_column(Integer, default=0)  # index into the version's steps
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    waiting_for: Mapped[str | None] = mapped_column(String(64))  # an event type, while waiting
    # What earlier steps and the trigger left for later ones (a coupon code, an SKU).
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    converted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    converted_fen: Mapped[int] = mapped_column(BigInteger, default=0)


class JourneyStepRun(Base):
    """What a step did for one entry: written in the transaction that did it, unique per
    entry and step, so a step's side effects happen once."""

    __tablename__ = "journey_step_run"
    __table_args__ = (
        UniqueConstraint("state_id", "step_key"),
        Index("ix_journey_step_run_journey_id_step_key", "journey_id", "step_key"),
    )

    id: Mapped[IdPk]
    journey_id: Mapped[int] = mapped_column(BigId, ForeignKey("journey.id"))
    state_id: Mapped[int] = mapped_column(BigId, ForeignKey("journey_state.id"))
    step_key: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class StaffTask(Base):
    """A task a journey set staff (call this customer), in the customer's home store's inbox."""

    __tablename__ = "staff_task"
    __table_args__ = (
        UniqueConstraint("state_id", "step_key"),
        Index("ix_staff_task_store_id_status", "store_id", "status"),
    )

    id: Mapped[IdPk]
    journey_id: Mapped[int] = mapped_column(BigId, ForeignKey("journey.id"))
    state_id: Mapped[int] = mapped_column(BigId, ForeignKey("journey_state.id"))
    step_key: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    store_id: Mapped[int | None] = mapped_column(BigId)  # None: the chain's inbox
    title: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8), default=TaskStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by: Mapped[str | None] = mapped_column(String(120))


class JourneyCursor(Base):
    """How far the scheduler has read a source of events (orders by id, risk alerts by id)."""

    __tablename__ = "journey_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class JourneySegmentMember(Base):
    """Who was in a segment-triggered journey's audience when the scheduler last looked:
    the next look's difference is who entered (or left) the segment."""

    __tablename__ = "journey_segment_member"

    journey_id: Mapped[int] = mapped_column(BigId, ForeignKey("journey.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True)


class JourneyBirthday(Base):
    """Each member's birthday as month × 100 + day, kept from the profiles changed since the
    last look: profiles' birthdays are encrypted, so no query could find today's otherwise
    without decrypting them all."""

    __tablename__ = "journey_birthday"
    __table_args__ = (Index("ix_journey_birthday_month_day", "month_day"),)

    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    month_day: Mapped[int] = mapped_column(Integer)
