"""``patron import``: customers, products and orders from CSV and Excel exports.

How a file moves through:

1. :func:`reader.inspect_file` hashes it and settles its encoding; the header is found (a
   title line above it is passed over; of a workbook's sheets, the one with the kind's
   columns, or the one named) and matched to fields (:func:`columns.resolve_columns`).
   Missing columns, or amounts in another currency than the shop's that the user did not
   confirm, stop the import here, before anything is written.
2. The import run is keyed by (kind, file SHA-256). A completed run of the same file is
   reported and nothing is written (unless ``force``); a run left running or failed resumes
   after its checkpoint.
3. Orders (``imports.orders``): the file is read once into the run's staging area; then
   each order is written whole, newest first, in batches; then each return, oldest first.
   Customers and products (``imports.records``): batches of rows in file order. Each batch
   is one transaction with the run's checkpoint.
4. At the end: one rejects report for the run, in the user's language, and for orders the
   reconciliation of the file's own totals with what Patron now holds (``reconcile``).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.orm import Session

from patron.core.collector import fewer_collections, settled_heap
from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.core.settings import get_settings
from patron.imports import records as record_rows
from patron.imports import runs
from patron.imports.columns import (
    KINDS,
    ColumnMap,
    resolve_columns,
)
from patron.imports.files import check_currency, open_for
from patron.imports.messages import SEVERITY_REJECT, SEVERITY_WARNING
from patron.imports.models import ImportStage
from patron.imports.order_rows import OrderRows
from patron.imports.orders import OrderWriter
from patron.imports.reader import EmptyFile, Table, inspect_file
from patron.imports.reconcile import reconcile
from patron.imports.report import report_path as default_report_path
from patron.imports.report import write_report
from patron.imports.schemas import ImportOptions, ImportSummary, StoreProblem
from patron.imports.staging import (
    ACCEPTED,
    DUPLICATE,
    NOSALE,
    REJECTED,
    RETURN,
    SALE,
    Staging,
)


@dataclass(frozen=True, slots=True)
class BatchDone:
    """Told to ``after_batch`` once a batch and its checkpoint are committed."""

    run_id: int
    stage: str  # "sales", "returns" (orders) or "rows" (customers, products)
    checkpoint: int  # orders or return groups done in the stage; for rows, the last row
    rows_read: int


class ImportProgress(Protocol):
    """Called as the import moves: ``stage`` is "reading", "sales", "returns" or "rows";
    ``done`` of ``total`` in ``unit`` ("bytes", "rows", "orders", "returns")."""

    def __call__(self, *, stage: str, done: int, total: int, unit: str, rows: int) -> None: ...


# ------------------------------------------------------------------------------ the run


def run_import(
    *,
    db: Database,
    kind: str,
    path: Path,
    options: ImportOptions,
    progress: ImportProgress | None = None,
    after_batch: Callable[[BatchDone], None] | None = None,
    started_by: str | None = None,
    report_folder: Path | None = None,
    store_scope: frozenset[int] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Import one file of ``kind`` (customers, products or orders); see the module docstring.

    Raises :class:`reader.UnreadableFile`, :class:`reader.EmptyFile`,
    :class:`columns.MissingColumns`, :class:`columns.BadMapping` or
    :class:`CurrencyNotConfirmed` before writing anything. ``after_batch`` runs after each
    committed batch (tests use it to interrupt an import); ``on_start`` once the run exists
    (the console's page waits for it to show the run's progress).
    """
    if kind not in KINDS:
        raise InvalidInput("kind", f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    started = time.perf_counter()
    facts = inspect_file(path, encoding=options.encoding)
    table, cols = open_for(facts, kind=kind, options=options)
    with table, fewer_collections(), settled_heap():
        if not table.has_data():
            raise EmptyFile(f"{path.name}: the header has no data rows below it", reason="no_rows")
        currency = check_currency(table, cols, options)
        run, state = db.write(
            lambda s: runs.start_run(
                s,
                kind=kind,
                facts=facts,
                source=options.source,
                force=options.force,
                options=options.model_dump(mode="json"),
                started_by=started_by,
            )
        )
        if on_start is not None:
            on_start(run.id)
        if state == "completed":
            return _already_imported(run, facts)
        if state == "resumed" and run.options:
            # The run goes on as it started: same source, same mapping, same rules.
            options = ImportOptions.model_validate(
                {**run.options, "force": options.force, "lang": options.lang}
            )
            cols = resolve_columns(kind=kind, headers=table.headers, mapping=options.mapping)
        context = _Context(
            db=db,
            run=run,
            table=table,
            cols=cols,
            options=options,
            progress=progress,
            after_batch=after_batch,
            report=options.report_path
            or default_report_path(path, kind=kind, run_id=run.id, folder=report_folder),
            currency=currency,
            store_scope=store_scope,
            resumed=state == "resumed",
        )
        try:
            summary = _import_orders(context) if kind == "orders" else _import_records(context)
        except BaseException as exc:
            runs.mark_failed(db, run.id, f"{type(exc).__name__}: {exc}")
            raise
    return summary.model_copy(update={"seconds": time.perf_counter() - started})


def _already_imported(run: runs.RunView, facts: Any) -> ImportSummary:
    """What the earlier complete run of the same file did (a run kept before summaries were
    kept with it: its counts)."""
    if run.outcome and "run_id" in run.outcome:
        return ImportSummary.model_validate(
            {**run.outcome, "outcome": "already_imported", "rows_this_session": 0}
        )
    return ImportSummary(
        run_id=run.id,
        kind=run.kind,
        file_name=run.file_name,
        outcome="already_imported",
        rows_read=run.rows_read,
        rows_accepted=run.rows_accepted,
        rows_rejected=run.rows_rejected,
        duplicates=run.duplicates,
        refunds=run.refunds,
        anonymous=run.anonymous,
        report_path=run.report_path,
        encoding=facts.encoding,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


@dataclass
class _Context:
    db: Database
    run: runs.RunView
    table: Table
    cols: ColumnMap
    options: ImportOptions
    progress: ImportProgress | None
    after_batch: Callable[[BatchDone], None] | None
    report: Path
    currency: str
    store_scope: frozenset[int] | None
    resumed: bool

    def tick(self, stage: str, done: int, total: int, rows: int) -> None:
        if self.progress is not None:
            unit = {
                "reading": self.table.progress_unit,
                "sales": "orders",
                "returns": "returns",
            }.get(stage, "rows")
            self.progress(stage=stage, done=done, total=total, unit=unit, rows=rows)

    @property
    def batch_rows(self) -> int:
        return self.options.batch_rows or get_settings().import_batch_rows

    def base_summary(self) -> dict[str, Any]:
        return {
            "run_id": self.run.id,
            "kind": self.run.kind,
            "file_name": self.run.file_name,
            "encoding": self.table.facts.encoding,
            "delimiter": self.table.delimiter,
            "sheet": self.table.sheet,
            "header_row": self.table.header_row,
            "currency": self.currency,
            "columns": self.cols.described(),
            "ignored_columns": list(self.cols.ignored),
            "started_at": self.run.started_at,
        }


# ------------------------------------------------------------------------------ orders


def _import_orders(ctx: _Context) -> ImportSummary:
    run = ctx.run
    reader = OrderRows(ctx.cols, ctx.options)
    staging = Staging(runs.staging_path(ctx.db, run.id))
    rows_this_session = 0
    try:
        stage, done = run.stage or ImportStage.READING, run.checkpoint_row
        if stage == ImportStage.READING or not staging.staged:
            staging.reset()
            staging.begin_bulk()
            last_note = [time.monotonic()]

            def tick(stage: str, done: int, total: int, rows: int) -> None:
                ctx.tick(stage, done, total, rows)
                if time.monotonic() - last_note[0] > 1.0:
                    last_note[0] = time.monotonic()
                    runs.note_progress(ctx.db, run.id, "reading", done, total)

            counts = reader.stage(ctx.table, staging, tick)
            staging.end_bulk({"rows": str(counts["rows"])})
            rows_this_session = counts["rows"]
            stage, done = ImportStage.SALES, 0
            total = staging.count_groups(SALE)
            ctx.db.write(
                lambda s: runs.checkpoint(
                    s, run.id, stage=stage, done=0, units=(0, total), rows_read=counts["rows"]
                )
            )
        rows_read = int(staging.meta("rows") or 0)
        writer = OrderWriter(reader, ctx.options, run.source, run.id, ctx.store_scope)
        if stage == ImportStage.SALES:
            _write_stage(ctx, staging, writer, SALE, done, rows_read)
            stage, done = ImportStage.RETURNS, 0
        if stage == ImportStage.RETURNS:
            _write_stage(ctx, staging, writer, RETURN, done, rows_read)
        summary = _finish_orders(ctx, staging, rows_this_session)
    except BaseException:
        staging.close()
        raise
    staging.close(delete=True)
    return summary


def _write_stage(
    ctx: _Context, staging: Staging, writer: OrderWriter, kind: str, done: int, rows_read: int
) -> None:
    """Write every order (``S``) or return group (``R``) after the first ``done``."""
    stage = ImportStage.SALES if kind == SALE else ImportStage.RETURNS
    total = staging.count_groups(kind)

    def flush(batch: Any) -> None:
        nonlocal done
        after = done + len(batch.groups if kind == SALE else batch)

        def work(session: Session) -> None:
            if kind == SALE:  # read and checked ahead, on the prefetching thread
                outcome = writer.write_prepared(session, batch)
            else:
                outcome = writer.write_returns(session, batch)
            # The outcomes go into the staging area first: if the database's commit then
            # fails, the batch is written again and its outcomes replace these.
            staging.record(
                statuses=outcome.statuses,
                notes=outcome.notes,
                refunds=outcome.refunds,
                stores=[
                    (text, store.code if store else None) for text, store in writer.stores.items()
                ],
                clear_rows=outcome.rows,
            )
            runs.checkpoint(session, ctx.run.id, stage=stage, done=after, units=(after, total))

        ctx.db.write(work)
        done = after
        ctx.tick(str(stage), done, total, rows_read)
        if ctx.after_batch is not None:
            ctx.after_batch(
                BatchDone(run_id=ctx.run.id, stage=str(stage), checkpoint=done, rows_read=rows_read)
            )

    ctx.tick(str(stage), done, total, rows_read)
    if kind == SALE:
        skip = done

        def prepared() -> Iterator[Any]:
            # On the prefetching thread, with a connection of its own to the staging area.
            for groups in batches_of(staging.groups(kind, skip=skip, own=True), ctx.batch_rows):
                yield writer.prepare_batch(groups)

        with closing(prefetched(prepared)) as ahead:
            for batch in ahead:
                flush(batch)
    else:
        for groups in batches_of(staging.groups(kind, skip=done), ctx.batch_rows):
            flush(groups)
    ctx.db.write(lambda s: runs.checkpoint(s, ctx.run.id, stage=stage, done=total))


_DONE = object()


def prefetched(produce: Callable[[], Iterator[Any]], *, ahead: int = 2) -> Generator[Any]:
    """The items ``produce()`` yields, made on a thread of their own up to ``ahead`` items
    before they are taken: the next batch is read and checked while this one is written
    (the database's work, and SQLite's, happen outside the GIL). An error on the thread is
    raised here; leaving the loop early stops the thread."""
    handoff: queue.Queue[Any] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in produce():
                if not put(item):
                    return
        except BaseException as exc:  # handed over, raised on the caller's thread
            put((_DONE, exc))
            return
        put((_DONE, None))

    thread = threading.Thread(target=work, name="import-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if isinstance(item, tuple) and len(item) == 2 and item[0] is _DONE:
                if item[1] is not None:
                    raise item[1]
                return
            yield item
    finally:
        stop.set()
        thread.join()


def batches_of(groups: Iterator[list[Any]], batch_rows: int) -> Iterator[list[list[Any]]]:
    """Groups of rows gathered into batches of about ``batch_rows`` rows."""
    batch: list[list[Any]] = []
    rows = 0
    for group in groups:
        batch.append(group)
        rows += len(group)
        if rows >= batch_rows:
            yield batch
            batch, rows = [], 0
    if batch:
        yield batch


def _finish_orders(ctx: _Context, staging: Staging, rows_this_session: int) -> ImportSummary:
    counts = _order_counts(staging)
    reconciliation = ctx.db.read(lambda s: reconcile(session=s, staging=staging, run_id=ctx.run.id))
    report = _write_report(ctx, staging)
    unknown = staging.query(
        "SELECT r.store, count(*) FROM rows r JOIN heads h ON h.key = r.key "
        "JOIN notes n ON n.row = r.row AND n.code = 'store_unknown' GROUP BY r.store "
        "ORDER BY r.store"
    )
    summary = ImportSummary.model_validate(
        {
            **ctx.base_summary(),
            "outcome": "completed" if reconciliation.balanced else "unbalanced",
            "resumed_after_row": ctx.run.checkpoint_row if ctx.resumed else 0,
            **counts,
            "rows_this_session": rows_this_session,
            "report_path": str(report) if report else None,
            "unknown_stores": [StoreProblem(store=s, rows=n) for s, n in unknown],
            "created_stores": sorted({s.code for s in _created_stores(ctx, staging)}),
            "reconciliation": reconciliation,
        }
    )
    return _close_run(ctx, summary, counts, report)


def _created_stores(ctx: _Context, staging: Staging) -> list[Any]:
    if not ctx.options.create_stores:
        return []
    from patron.catalog import service as catalog

    codes = {code for _text, code in staging.query("SELECT text, code FROM stores") if code}
    started = ctx.run.started_at
    return [
        s
        for s in ctx.db.read(lambda s: catalog.list_stores(session=s))
        if s.code in codes and s.created_at >= started
    ]


def _order_counts(staging: Staging) -> dict[str, int]:
    by_status: dict[tuple[str, str], int] = {}
    for kind, status, n in staging.query("SELECT kind, status, count(*) FROM rows GROUP BY 1, 2"):
        by_status[(kind, status)] = int(n)

    def count(status: str, kinds: str = "SRXC") -> int:
        return sum(n for (k, s), n in by_status.items() if s == status and k in kinds)

    refunded = staging.query(
        "SELECT count(*) FROM rows WHERE kind = 'S' AND refund <> 0 AND rstatus = ?", (ACCEPTED,)
    )[0][0]
    anonymous = staging.query(
        "SELECT count(*) FROM rows WHERE kind = 'S' AND status = ? AND anon = 1", (ACCEPTED,)
    )[0][0]
    return {
        "rows_read": sum(by_status.values()),
        "rows_accepted": count(ACCEPTED),
        "rows_rejected": count(REJECTED),
        "duplicates": count(DUPLICATE),
        "no_sale": count(NOSALE),
        "refunds": count(ACCEPTED, "R") + int(refunded),
        "returns_without_sale": 0,  # filled from the database below
        "anonymous": int(anonymous),
        "warnings": staging.noted_rows(SEVERITY_WARNING),
    }


# ------------------------------------------------------------------ customers, products


def _import_records(ctx: _Context) -> ImportSummary:
    run = ctx.run
    importer: record_rows.RecordRows = (
        record_rows.CustomerRows(ctx.cols, ctx.options, run.source)
        if run.kind == "customers"
        else record_rows.ProductRows(ctx.cols, ctx.options, run.source)
    )
    staging = Staging(runs.staging_path(ctx.db, run.id))
    header_row = ctx.table.header_row
    resume_after = header_row + run.checkpoint_row if run.checkpoint_row else 0
    totals = {"accepted": 0, "duplicates": 0, "created": 0, "updated": 0, "rows": 0}
    previous = dict((run.outcome or {}).get("progress", {}))
    for key in totals:
        totals[key] = int(previous.get(key, 0))
    rows_now = 0
    try:
        if not run.checkpoint_row:
            staging.reset()
        else:  # notes of rows after the checkpoint were never committed
            staging.conn.execute("DELETE FROM notes WHERE row > ?", (resume_after,))
        size = ctx.table.facts.size
        for batch in importer.batches(
            ctx.table, resume_after=resume_after, batch_rows=ctx.batch_rows
        ):

            def work(session: Session, batch: record_rows.Batch = batch) -> record_rows.Written:
                written = importer.write(session, batch)
                staging.record(
                    statuses=[],
                    notes=batch.notes + written.notes,
                    clear_rows=[n.row for n in batch.notes + written.notes],
                )
                done, total = ctx.table.progress()
                state = {
                    "accepted": totals["accepted"] + written.accepted,
                    "duplicates": totals["duplicates"] + written.duplicates,
                    "created": totals["created"] + written.created,
                    "updated": totals["updated"] + written.updated,
                    "rows": totals["rows"] + batch.rows,
                }
                _save_progress(session, run.id, state)
                runs.checkpoint(
                    session,
                    run.id,
                    done=batch.last_row - header_row,
                    units=(done, total or size),
                    rows_read=state["rows"],
                )
                return written

            written = ctx.db.write(work)
            totals["accepted"] += written.accepted
            totals["duplicates"] += written.duplicates
            totals["created"] += written.created
            totals["updated"] += written.updated
            totals["rows"] += batch.rows
            rows_now += batch.rows
            done, total = ctx.table.progress()
            ctx.tick("rows", done, total, totals["rows"])
            if ctx.after_batch is not None:
                ctx.after_batch(
                    BatchDone(
                        run_id=run.id,
                        stage="rows",
                        checkpoint=batch.last_row - header_row,
                        rows_read=totals["rows"],
                    )
                )
        rejected = staging.noted_rows(SEVERITY_REJECT)
        counts = {
            "rows_read": totals["rows"],
            "rows_accepted": totals["accepted"],
            "rows_rejected": rejected,
            "duplicates": totals["duplicates"],
            "refunds": 0,
            "anonymous": 0,
            "warnings": staging.noted_rows(SEVERITY_WARNING),
        }
        report = _write_report(ctx, staging)
        summary = ImportSummary.model_validate(
            {
                **ctx.base_summary(),
                "outcome": "completed",
                "resumed_after_row": resume_after + 1 if resume_after else 0,
                **counts,
                "created": totals["created"],
                "updated": totals["updated"],
                "rows_this_session": rows_now,
                "report_path": str(report) if report else None,
            }
        )
        summary = _close_run(ctx, summary, counts, report)
    except BaseException:
        staging.close()
        raise
    staging.close(delete=True)
    return summary


def _save_progress(session: Session, run_id: int, state: dict[str, int]) -> None:
    from patron.imports.models import ImportRun

    run = session.get(ImportRun, run_id)
    assert run is not None
    run.outcome = {"progress": state}
    run.rows_accepted = state["accepted"]
    run.duplicates = state["duplicates"]


# ------------------------------------------------------------------------------ finishing


def _write_report(ctx: _Context, staging: Staging) -> Path | None:
    if not staging.has_notes:
        ctx.report.unlink(missing_ok=True)
        return None
    write_report(ctx.report, staging.notes(), lang=ctx.options.lang)
    return ctx.report


def _close_run(
    ctx: _Context, summary: ImportSummary, counts: dict[str, int], report: Path | None
) -> ImportSummary:
    if summary.kind == "orders":
        from patron.orders import returns

        kept = ctx.db.read(lambda s: returns.count_returns(session=s, import_run_id=ctx.run.id))
        created = ctx.db.read(lambda s: _orders_created(s, ctx.run.id))
        summary = summary.model_copy(update={"returns_without_sale": kept, "created": created})
    finished = ctx.db.write(
        lambda s: runs.finish_run(
            s,
            ctx.run.id,
            counts={k: v for k, v in counts.items() if k in _RUN_COUNTS},
            report_path=str(report) if report else None,
            outcome=summary.model_dump(mode="json"),
        )
    )
    return summary.model_copy(update={"finished_at": finished.finished_at})


_RUN_COUNTS = ("rows_read", "rows_accepted", "rows_rejected", "duplicates", "refunds", "anonymous")


def _orders_created(session: Session, run_id: int) -> int:
    from patron.orders import service as orders

    return orders.count_orders(session=session, import_run_id=run_id)
