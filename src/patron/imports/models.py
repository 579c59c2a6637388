"""File imports: one row per run, so a re-run is recognised and an interrupted run resumes;
and the column mappings users saved by name."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.clock import utcnow
from patron.core.models import Base, IdPk, UTCDateTime


class ImportStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class ImportStage(StrEnum):
    """Where a run is: reading the file into its staging area, writing sales, then matching
    returns; a resumed run carries on from its stage and checkpoint."""

    READING = "reading"
    SALES = "sales"
    RETURNS = "returns"
    DONE = "done"


class ImportRun(Base):
    __tablename__ = "import_run"
    __table_args__ = (Index("ix_import_run_kind_file_sha256", "kind", "file_sha256"),)

    id: Mapped[IdPk]
    kind: Mapped[str] = mapped_column(String(20))
    file_name: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=ImportStatus.RUNNING)
    # Orders: the stage, and in it the count of orders (or return groups) whose outcome is
    # committed. Customers and products: the last data row (1-based, header excluded).
    stage: Mapped[str | None] = mapped_column(String(16))
    checkpoint_row: Mapped[int] = mapped_column(Integer, default=0)
    # The progress bar: units done of units in all (bytes while reading, then rows).
    units_done: Mapped[int | None] = mapped_column(BigInteger)
    units_total: Mapped[int | None] = mapped_column(BigInteger)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_accepted: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    refunds: Mapped[int] = mapped_column(Integer, default=0)
    anonymous: Mapped[int] = mapped_column(Integer, default=0)
    report_path: Mapped[str | None] = mapped_column(String(1024))
    # How the file was read (ImportOptions as JSON), and what came of it (the summary with
    # its reconciliation), so the console can show a run after the process that ran it.
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    started_by: Mapped[str | None] = mapped_column(String(120))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ImportMapping(Base):
    """Field → the file's column, saved under a name for the next export of the same kind."""

    __tablename__ = "import_mapping"
    __table_args__ = (UniqueConstraint("kind", "name"),)

    id: Mapped[IdPk]
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))
    columns: Mapped[dict[str, str]] = mapped_column(JSON)
    created_by: Mapped[str | None] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
