"""Import runs: started, resumed, checkpointed, finished; read back for the console.

A run is keyed by (kind, the file's SHA-256). A completed run of the same file is reported
and nothing is written (unless forced); a run left running or failed resumes after its
checkpoint, with the options it started with, so its order keys stay the same.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import NotFound
from patron.core.settings import get_settings
from patron.imports.models import ImportMapping, ImportRun, ImportStage, ImportStatus
from patron.imports.reader import FileFacts

log = logging.getLogger(__name__)


class ImportRunNotFound(NotFound):
    code = "import_run_not_found"


@dataclass(frozen=True, slots=True)
class RunView:
    """What the importer needs of an ImportRun row, outside its session."""

    id: int
    kind: str
    source: str
    status: str
    stage: str | None
    checkpoint_row: int
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    duplicates: int
    refunds: int
    anonymous: int
    report_path: str | None
    file_name: str
    options: dict[str, Any] | None
    outcome: dict[str, Any] | None
    error: str | None
    units_done: int | None
    units_total: int | None
    started_by: str | None
    started_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, run: ImportRun) -> RunView:
        return cls(**{f: getattr(run, f) for f in cls.__slots__})


def staging_path(db: Database, run_id: int) -> Path:
    """Where a run keeps its staging area, in the data directory: named by the database too,
    as several databases may share one data directory and each numbers its runs from 1."""
    return get_settings().data_dir / "imports" / f"run-{run_id}-{db.identity}.staging.sqlite"


def start_run(
    session: Session,
    *,
    kind: str,
    facts: FileFacts,
    source: str,
    force: bool,
    options: dict[str, Any],
    started_by: str | None,
) -> tuple[RunView, str]:
    """The run to carry out: ("completed", the earlier run) when the file is already in,
    ("resumed", the interrupted run) or ("new", a new run)."""
    latest = session.scalar(
        select(ImportRun)
        .where(ImportRun.kind == kind, ImportRun.file_sha256 == facts.sha256)
        .order_by(ImportRun.id.desc())
        .limit(1)
    )
    if latest is not None and latest.status == ImportStatus.COMPLETED and not force:
        return RunView.of(latest), "completed"
    if latest is not None and latest.status != ImportStatus.COMPLETED:
        latest.status = ImportStatus.RUNNING
        latest.error = None
        session.flush()
        return RunView.of(latest), "resumed"
    run = ImportRun(
        kind=kind,
        file_name=facts.path.name[:255],
        file_sha256=facts.sha256,
        source=source,
        status=ImportStatus.RUNNING,
        stage=ImportStage.READING if kind == "orders" else None,
        checkpoint_row=0,
        rows_read=0,
        rows_accepted=0,
        rows_rejected=0,
        duplicates=0,
        refunds=0,
        anonymous=0,
        units_done=0,
        units_total=facts.size,
        options=options,
        started_by=started_by,
    )
    session.add(run)
    session.flush()
    return RunView.of(run), "new"


def checkpoint(
    session: Session,
    run_id: int,
    *,
    stage: str | None = None,
    done: int | None = None,
    units: tuple[int, int] | None = None,
    rows_read: int | None = None,
) -> None:
    run = session.get(ImportRun, run_id)
    assert run is not None
    if stage is not None:
        run.stage = stage
    if done is not None:
        run.checkpoint_row = done
    if units is not None:
        run.units_done, run.units_total = units
    if rows_read is not None:
        run.rows_read = rows_read
    session.flush()


def note_progress(db: Database, run_id: int, stage: str, done: int, total: int) -> None:
    """Best effort, outside any batch: the console's progress bar while a file is read."""
    try:
        db.write(lambda s: checkpoint(s, run_id, stage=stage, units=(done, total)), retries=0)
    except Exception:
        log.debug("could not note the progress of import run %s", run_id, exc_info=True)


def finish_run(
    session: Session,
    run_id: int,
    *,
    counts: dict[str, int],
    report_path: str | None,
    outcome: dict[str, Any],
) -> RunView:
    run = session.get(ImportRun, run_id)
    assert run is not None
    run.status = ImportStatus.COMPLETED
    run.stage = ImportStage.DONE if run.kind == "orders" else None
    run.finished_at = utcnow()
    run.report_path = report_path
    run.rows_read = counts["rows_read"]
    run.rows_accepted = counts["rows_accepted"]
    run.rows_rejected = counts["rows_rejected"]
    run.duplicates = counts["duplicates"]
    run.refunds = counts["refunds"]
    run.anonymous = counts["anonymous"]
    run.units_done = run.units_total
    run.outcome = outcome
    session.flush()
    return RunView.of(run)


def mark_failed(db: Database, run_id: int, error: str | None = None) -> None:
    """Best effort: the run stays resumable whether or not this lands."""
    try:
        db.write(lambda s: _set_failed(s, run_id, error), retries=0)
    except Exception:
        log.warning("could not mark import run %s as failed", run_id, exc_info=True)


def _set_failed(session: Session, run_id: int, error: str | None) -> None:
    run = session.get(ImportRun, run_id)
    if run is not None and run.status == ImportStatus.RUNNING:
        run.status = ImportStatus.FAILED
        run.error = error[:4000] if error else None


def get_run(*, session: Session, run_id: int) -> RunView | None:
    run = session.get(ImportRun, run_id)
    return RunView.of(run) if run is not None else None


def get_run_or_raise(*, session: Session, run_id: int) -> RunView:
    run = get_run(session=session, run_id=run_id)
    if run is None:
        raise ImportRunNotFound(f"no import run {run_id}", run_id=run_id)
    return run


def list_runs(*, session: Session, limit: int = 20) -> list[RunView]:
    rows = session.scalars(select(ImportRun).order_by(ImportRun.id.desc()).limit(limit))
    return [RunView.of(r) for r in rows]


# ------------------------------------------------------------------------ saved mappings


def save_mapping(
    *, session: Session, kind: str, name: str, columns: dict[str, str], saved_by: str | None
) -> None:
    """Keep a column mapping under a name, replacing one of the same name and kind."""
    found = session.scalar(
        select(ImportMapping).where(ImportMapping.kind == kind, ImportMapping.name == name)
    )
    if found is None:
        session.add(ImportMapping(kind=kind, name=name, columns=columns, created_by=saved_by))
    else:
        found.columns = columns
        found.created_by = saved_by
        found.updated_at = utcnow()
    session.flush()


def saved_mappings(*, session: Session, kind: str | None = None) -> dict[str, dict[str, str]]:
    """Saved mappings by name (of one kind, or all)."""
    query = select(ImportMapping).order_by(ImportMapping.name)
    if kind is not None:
        query = query.where(ImportMapping.kind == kind)
    return {m.name: dict(m.columns) for m in session.scalars(query)}
