"""What the scheduled jobs record: one row per job and scheduled instant, written by the
process that ran it (the leader), so a night's job runs once however many servers run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.models import Base, IdPk, Instant, UTCDateTime


class ScheduledRun(Base):
    """One scheduled run of a job: who ran it, when, and how it ended."""

    __tablename__ = "scheduled_run"
    __table_args__ = (UniqueConstraint("job", "slot"),)

    id: Mapped[IdPk]
    job: Mapped[str] = mapped_column(String(64))
    # The instant the run was scheduled for (the same in every process).
    slot: Mapped[Instant]
    holder: Mapped[str] = mapped_column(String(120))  # host:pid of the leader
    started_at: Mapped[Instant]
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))  # done, failed
