"""``patron import``: customers, products and orders from CSV and Excel exports.

How a file moves through:

1. :func:`reader.inspect_file` hashes it and settles its encoding; the header is matched to
   fields (:func:`columns.resolve_columns`). Missing columns stop the import here, before
   anything is written.
2. The import run is keyed by (kind, file SHA-256). A completed run of the same file is
   reported and nothing is written (unless ``force``); a run left ``running`` or ``failed``
   resumes after its checkpoint.
3. Rows are parsed into the domain schemas (whose validation is the single source of
   business rules) and written in batches through the bulk services, one transaction per
   batch, with the run's checkpoint and counters updated in the same transaction.
   Rejected rows go to a CSV report with the spreadsheet row number, the file's column
   name, the value and the reason.

Orders file: one row per line item. Rows of one order need not be adjacent, but a batch
only ends where no order is half read, so an order is always written whole, in one
transaction (a first pass over the order-id column finds each order's last row). An order
whose rows lie further apart than one batch is rejected whole, asking for the file to be
sorted by order id: keeping a window that large open would hold the whole file in memory.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.catalog import service as catalog
from patron.catalog.schemas import ProductIn
from patron.core.clock import parse_datetime, utcnow
from patron.core.db import Database
from patron.core.errors import InvalidInput, PatronError
from patron.core.money import milli_to_quantity, parse_quantity, yuan_to_fen
from patron.core.settings import get_settings
from patron.core.spreadsheets import safe_row
from patron.customers import service as customers
from patron.customers.schemas import ADDRESS_MAX_LENGTH, CustomerCreate, CustomerRef
from patron.imports.columns import (
    CANCEL_STATUSES,
    CHANNELS,
    GENDERS,
    KINDS,
    PAYMENT_METHODS,
    ColumnMap,
    lookup_value,
    normalise_header,
    resolve_columns,
)
from patron.imports.models import ImportRun, ImportStatus
from patron.imports.reader import Cell, EmptyFile, FileFacts, Table, inspect_file, open_table
from patron.imports.schemas import ImportOptions, ImportSummary
from patron.orders import service as orders
from patron.orders.schemas import MAX_LINES, OrderIn, OrderRead, RefundIn

log = logging.getLogger(__name__)

# ------------------------------------------------------------------------- public surface


@dataclass(frozen=True, slots=True)
class BatchDone:
    """Told to ``after_batch`` once a batch and its checkpoint are committed."""

    run_id: int
    checkpoint_row: int  # last data row committed (1-based, header excluded)
    rows_read: int  # over the whole run


class ImportProgress(Protocol):
    """Called as the import moves: ``stage`` is "scanning" (first pass) or "importing"."""

    def __call__(self, *, stage: str, done: int, total: int, unit: str, rows: int) -> None: ...


def default_report_path(path: Path) -> Path:
    """``sales.csv`` → ``sales.rejects.csv``, next to the input."""
    return path.with_name(f"{path.stem}.rejects.csv")


def run_import(
    *,
    db: Database,
    kind: str,
    path: Path,
    options: ImportOptions,
    progress: ImportProgress | None = None,
    after_batch: Callable[[BatchDone], None] | None = None,
) -> ImportSummary:
    """Import one file of ``kind`` (customers, products or orders); see the module docstring.

    Raises :class:`reader.UnreadableFile`, :class:`reader.EmptyFile`,
    :class:`columns.MissingColumns` or :class:`columns.BadMapping` before writing anything.
    ``after_batch`` runs after each committed batch (tests use it to interrupt an import).
    """
    if kind not in KINDS:
        raise InvalidInput("kind", f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    started = time.perf_counter()
    facts = inspect_file(path, encoding=options.encoding)
    with open_table(facts, delimiter=options.delimiter, sheet=options.sheet) as table:
        cols = resolve_columns(kind=kind, headers=table.headers, mapping=options.mapping)
        if not table.has_data():
            raise EmptyFile(f"{path.name}: the header has no data rows below it")
        report_path = options.report_path or default_report_path(path)
        run, state = db.write(
            lambda s: _start_run(
                s, kind=kind, facts=facts, source=options.source, force=options.force
            )
        )
        if state == "completed":
            return _summary(run, table, cols, outcome="already_imported", started=started)
        batch_rows = options.batch_rows or get_settings().import_batch_rows
        importer = _IMPORTERS[kind](cols, options, run.source, table.header_row)
        resume_after = table.header_row + run.checkpoint_row
        report = _Report(report_path, header_row=table.header_row, keep_until=resume_after)
        try:
            counters = _Counters.of(run)
            rows_now = _run_batches(
                db=db,
                run_id=run.id,
                table=table,
                importer=importer,
                batch_rows=batch_rows,
                resume_after=resume_after,
                counters=counters,
                report=report,
                progress=progress,
                after_batch=after_batch,
            )
            final = db.write(lambda s: _finish_run(s, run.id, report))
        except BaseException:
            report.close()
            _mark_failed(db, run.id)
            raise
        report.close()
        summary = _summary(final, table, cols, outcome="completed", started=started)
        return summary.model_copy(
            update={
                "resumed_after_row": resume_after if run.checkpoint_row else 0,
                "created": counters.created,
                "updated": counters.updated,
                "rows_this_session": rows_now,
            }
        )


# ------------------------------------------------------------------------------ the run


@dataclass(frozen=True, slots=True)
class _RunView:
    """What the importer needs of an ImportRun row, outside its session."""

    id: int
    source: str
    status: str
    checkpoint_row: int
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    duplicates: int
    refunds: int
    anonymous: int
    report_path: str | None
    file_name: str
    kind: str
    started_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, run: ImportRun) -> _RunView:
        return cls(**{f: getattr(run, f) for f in cls.__slots__})


def _start_run(
    session: Session, *, kind: str, facts: FileFacts, source: str, force: bool
) -> tuple[_RunView, str]:
    latest = session.scalar(
        select(ImportRun)
        .where(ImportRun.kind == kind, ImportRun.file_sha256 == facts.sha256)
        .order_by(ImportRun.id.desc())
        .limit(1)
    )
    if latest is not None and latest.status == ImportStatus.COMPLETED and not force:
        return _RunView.of(latest), "completed"
    if latest is not None and latest.status != ImportStatus.COMPLETED:
        # Interrupted (crash, Ctrl-C, a failed batch): carry on after the checkpoint, with
        # the source the run started with so order keys stay the same.
        latest.status = ImportStatus.RUNNING
        session.flush()
        return _RunView.of(latest), "resumed"
    run = ImportRun(
        kind=kind,
        file_name=facts.path.name[:255],
        file_sha256=facts.sha256,
        source=source,
        status=ImportStatus.RUNNING,
        checkpoint_row=0,
        rows_read=0,
        rows_accepted=0,
        rows_rejected=0,
        duplicates=0,
        refunds=0,
        anonymous=0,
    )
    session.add(run)
    session.flush()
    return _RunView.of(run), "new"


def _finish_run(session: Session, run_id: int, report: _Report) -> _RunView:
    run = session.get(ImportRun, run_id)
    assert run is not None
    run.status = ImportStatus.COMPLETED
    run.finished_at = utcnow()
    run.report_path = str(report.path) if run.rows_rejected else None
    session.flush()
    return _RunView.of(run)


def _mark_failed(db: Database, run_id: int) -> None:
    """Best effort: the run stays resumable whether or not this lands."""
    try:
        db.write(lambda s: _set_status(s, run_id, ImportStatus.FAILED), retries=0)
    except Exception:
        log.warning("could not mark import run %s as failed", run_id, exc_info=True)


def _set_status(session: Session, run_id: int, status: str) -> None:
    run = session.get(ImportRun, run_id)
    if run is not None and run.status == ImportStatus.RUNNING:
        run.status = status


@dataclass(slots=True)
class _Counters:
    rows_read: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    refunds: int = 0
    anonymous: int = 0
    created: int = 0
    updated: int = 0

    @classmethod
    def of(cls, run: _RunView) -> _Counters:
        return cls(
            rows_read=run.rows_read,
            accepted=run.rows_accepted,
            rejected=run.rows_rejected,
            duplicates=run.duplicates,
            refunds=run.refunds,
            anonymous=run.anonymous,
        )

    def plus(self, other: _Counters) -> _Counters:
        total = _Counters()
        for name in _COUNTER_FIELDS:
            setattr(total, name, getattr(self, name) + getattr(other, name))
        return total

    def add(self, other: _Counters) -> None:
        for name in _COUNTER_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_COUNTER_FIELDS = tuple(_Counters.__dataclass_fields__)


def _summary(
    run: _RunView, table: Table, cols: ColumnMap, *, outcome: str, started: float
) -> ImportSummary:
    return ImportSummary(
        run_id=run.id,
        kind=run.kind,
        file_name=run.file_name,
        outcome=outcome,
        rows_read=run.rows_read,
        rows_accepted=run.rows_accepted,
        rows_rejected=run.rows_rejected,
        duplicates=run.duplicates,
        refunds=run.refunds,
        anonymous=run.anonymous,
        seconds=time.perf_counter() - started,
        report_path=run.report_path,
        encoding=table.facts.encoding,
        delimiter=table.delimiter,
        columns=cols.described(),
        ignored_columns=list(cols.ignored),
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


# ----------------------------------------------------------------------------- batching


@dataclass(slots=True, order=True)
class Reject:
    """One line of the report: where, what, and why."""

    row: int
    column: str
    value: str
    reason: str


@dataclass(slots=True)
class _Batch:
    """Rows read for one transaction: their prepared items, and the rows already refused."""

    last_row: int
    rows: int
    items: list[Any] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


@dataclass(slots=True)
class _Written:
    counters: _Counters
    rejects: list[Reject]


class _Importer(Protocol):
    def batches(
        self, table: Table, *, resume_after: int, batch_rows: int, progress: _Tick
    ) -> Iterator[_Batch]: ...

    def write(self, session: Session, batch: _Batch, run_id: int) -> _Written: ...


_Tick = Callable[[str, int], None]


def _run_batches(
    *,
    db: Database,
    run_id: int,
    table: Table,
    importer: _Importer,
    batch_rows: int,
    resume_after: int,
    counters: _Counters,
    report: _Report,
    progress: ImportProgress | None,
    after_batch: Callable[[BatchDone], None] | None,
) -> int:
    """Write every batch; returns how many rows this invocation read."""

    def tick(stage: str, rows: int) -> None:
        if progress is not None:
            done, total = table.progress()
            progress(stage=stage, done=done, total=total, unit=table.progress_unit, rows=rows)

    rows_now = 0
    header_row = table.header_row
    for batch in importer.batches(
        table, resume_after=resume_after, batch_rows=batch_rows, progress=tick
    ):
        mark = report.mark()

        def work(session: Session, batch: _Batch = batch, mark: int = mark) -> _Written:
            written = importer.write(session, batch, run_id)
            delta = written.counters
            delta.rows_read = batch.rows
            delta.rejected = len({r.row for r in batch.rejects} | {r.row for r in written.rejects})
            total = counters.plus(delta)
            run = session.get(ImportRun, run_id)
            assert run is not None
            run.checkpoint_row = batch.last_row - header_row
            run.rows_read = total.rows_read
            run.rows_accepted = total.accepted
            run.rows_rejected = total.rejected
            run.duplicates = total.duplicates
            run.refunds = total.refunds
            run.anonymous = total.anonymous
            run.report_path = str(report.path)
            session.flush()
            # Last, so a failed commit (and its retry) rewrites the same lines once.
            report.rewind(mark)
            report.write(sorted(batch.rejects + written.rejects))
            return written

        written = db.write(work)
        counters.add(written.counters)
        rows_now += batch.rows
        tick("importing", counters.rows_read)
        if after_batch is not None:
            after_batch(
                BatchDone(
                    run_id=run_id,
                    checkpoint_row=batch.last_row - header_row,
                    rows_read=counters.rows_read,
                )
            )
    return rows_now


# ------------------------------------------------------------------------------ report

_REPORT_COLUMNS = ("column 列", "value 值", "reason 原因")


class _Report:
    """Rejected rows as CSV in UTF-8 with a BOM, so Excel on Chinese Windows opens it right.

    Opened on the first reject. A resumed run keeps the lines of rows up to its checkpoint
    and drops any written for the batch that never committed.
    """

    def __init__(self, path: Path, *, header_row: int, keep_until: int) -> None:
        self.path = path
        self._header_row = header_row
        self._file: io.BufferedWriter | None = None
        if keep_until <= header_row:
            path.unlink(missing_ok=True)
        elif path.exists():
            self._trim(keep_until)

    def _row_title(self) -> str:
        n = self._header_row
        return f"row 行号 (as in the spreadsheet: header = row {n} / 表头为第{n}行)"

    def _trim(self, keep_until: int) -> None:
        with self.path.open(encoding="utf-8-sig", newline="") as f:
            records = list(csv.reader(f))
        kept = [r for r in records[1:] if r and r[0].isdigit() and int(r[0]) <= keep_until]
        self.path.unlink()
        if kept:
            self._open().write(self._encode(kept))

    def _open(self) -> io.BufferedWriter:
        if self._file is None:
            fresh = not self.path.exists() or self.path.stat().st_size == 0
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("ab")
            if fresh:
                header = self._encode([[self._row_title(), *_REPORT_COLUMNS]])
                self._file.write(b"\xef\xbb\xbf" + header)
        return self._file

    @staticmethod
    def _encode(records: Sequence[Sequence[object]]) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(map(safe_row, records))
        return buffer.getvalue().encode("utf-8")

    def mark(self) -> int:
        if self._file is None:
            return -1
        self._file.flush()
        return self._file.seek(0, io.SEEK_END)

    def rewind(self, mark: int) -> None:
        if self._file is not None and mark >= 0:
            self._file.flush()
            self._file.truncate(mark)
            self._file.seek(mark)

    def write(self, rejects: Sequence[Reject]) -> None:
        if not rejects:
            return
        f = self._open()
        f.write(self._encode([(r.row, r.column, r.value, r.reason) for r in rejects]))
        f.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# -------------------------------------------------------------------------- cell values

_PLAIN_YUAN = re.compile(r"(\d{1,13})(?:\.(\d{1,2}))?")
_FLOAT_ID = re.compile(r"(\d+)\.0+")
_SHELF_LIFE = re.compile(r"(\d+)\s*(天|日|d|days?|个月|月|months?|年|years?|y)?", re.IGNORECASE)
_TAG_SPLIT = re.compile(r"[,，;；|、/]+")


def _ident(cell: Cell) -> str:
    """An id as text; ``17850.0`` (a number that went through a spreadsheet) is ``17850``."""
    text = cell.strip()
    if "." in text:
        m = _FLOAT_ID.fullmatch(text)
        if m:
            return m.group(1)
    return text


def _fen(text: str) -> int:
    """Yuan to fen: plain ``12.5`` on a fast path, everything else via yuan_to_fen."""
    if _PLAIN_YUAN.fullmatch(text) is None:
        return yuan_to_fen(text)
    return _plain_fen(text)


def _plain_fen(text: str) -> int:
    """``"12"``, ``"12.5"``, ``"12.50"`` (already matched by _PLAIN_YUAN) in fen."""
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + (int(frac) * 10 if len(frac) == 1 else int(frac or 0))


def _milli(text: str) -> int:
    if text.isdigit() and text.isascii():
        return int(text) * 1000
    return parse_quantity(text)


def _quantity(milli: int) -> int | Decimal:
    return milli // 1000 if milli % 1000 == 0 else milli_to_quantity(milli)


def _shelf_life_days(text: str) -> int:
    m = _SHELF_LIFE.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"{text!r} is not a shelf life (write days, or 12个月, 2年)")
    n, unit = int(m.group(1)), (m.group(2) or "").lower()
    if unit in ("个月", "月", "month", "months"):
        return n * 30
    if unit in ("年", "year", "years", "y"):
        return n * 365
    return n


def _message(error: Any) -> str:
    msg = str(error.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    return msg


class _RowProblem(Exception):
    """One cell makes its row (and the order it belongs to) unusable."""

    def __init__(self, row: int, column: str, value: str, reason: str) -> None:
        super().__init__(reason)
        self.reject = Reject(row, column, value, reason)


def _reject_group(rows: Sequence[int], problems: list[Reject], what: str) -> list[Reject]:
    """The bad rows with their reasons, and every other row of the group pointing at them."""
    bad_rows = sorted({p.row for p in problems})
    first = bad_rows[0]
    others = [
        Reject(row, "", "", f"{what} rejected: row {first} is invalid")
        for row in rows
        if row not in bad_rows
    ]
    return problems + others


# Schema field → the importer's field name, for turning error locations into columns.
_LINE_FIELDS = {
    "sku": "sku",
    "name": "product_name",
    "quantity": "quantity",
    "unit_price_fen": "unit_price",
    "discount_fen": "discount",
    "amount_fen": "amount",
}
_ORDER_FIELDS = {
    "external_id": "order_id",
    "ordered_at": "ordered_at",
    "store_code": "store_code",
    "channel": "channel",
    "payment_method": "payment_method",
    "order_discount_fen": "order_discount",
    "total_fen": "total",
}
_PERSON_FIELDS = {
    "phone": "phone",
    "email": "email",
    "member_card": "member_card",
    "wechat_openid": "wechat_openid",
    "wechat_appid": "wechat_appid",
    "wechat_unionid": "wechat_unionid",
    "external_account": "external_account",
    "external_system": "external_account",
    "gender": "gender",
    "city": "city",
    "address": "address",
    "birthday": "birthday",
}
_PROFILE_TARGETS = ("name", "gender", "city", "address")  # a row's person, beside identities
_IDENTITY_TARGETS = (
    "phone",
    "member_card",
    "external_account",
    "email",
    "wechat_openid",
    "wechat_unionid",
)


class _Cells:
    """Reads one kind of row: column positions looked up once, not per row."""

    def __init__(self, cols: ColumnMap, options: ImportOptions, source: str) -> None:
        self.cols = cols
        self.options = options
        self.source = source
        self.day_first = options.day_first
        self._dates: dict[str, datetime] = {}

    def get(self, cells: list[Cell], target: str) -> str:
        position = self.cols.index.get(target)
        return cells[position].strip() if position is not None else ""

    def when(self, cell: Cell) -> datetime:
        text = cell.strip()
        value = self._dates.get(text)
        if value is None:
            if len(self._dates) > 100_000:
                self._dates.clear()
            value = self._dates[text] = parse_datetime(text, day_first=self.day_first)
        return value

    def person(self, cells: list[Cell], row: int, *, name_target: str) -> dict[str, Any]:
        """Identity and profile cells of a row, as CustomerRef fields (blanks left out)."""
        found: dict[str, Any] = {}
        index = self.cols.index
        for target in _IDENTITY_TARGETS:
            position = index.get(target)
            if position is not None:
                value = _ident(cells[position])
                if value:
                    found[target] = value
        if not found:
            return found
        if "external_account" in found:
            found["external_system"] = self.source
        if "wechat_openid" in found and (appid := self.get(cells, "wechat_appid")):
            found["wechat_appid"] = appid
        if name := self.get(cells, name_target):
            found["name"] = name
        for target in ("city", "address"):
            if text := self.get(cells, target):
                found[target] = text
        if gender_text := self.get(cells, "gender"):
            known, gender = lookup_value(GENDERS, gender_text)
            if not known:
                raise _RowProblem(
                    row, self.cols.header("gender"), gender_text, "gender must be 男/女 or M/F"
                )
            if gender:
                found["gender"] = gender
        return found

    def rejects_from(
        self,
        exc: ValidationError,
        *,
        head_row: int,
        head: list[Cell],
        line_rows: Sequence[tuple[int, list[Cell]]] = (),
        fields: dict[str, str],
        nested: dict[str, dict[str, str]] | None = None,
        fallback: str = "",
    ) -> list[Reject]:
        """Pydantic's error locations, e.g. ``("lines", 2, "quantity")``, as file cells."""
        rejects = []
        for error in exc.errors():
            loc = error.get("loc", ())
            row, cells, target = head_row, head, fallback
            if loc and loc[0] == "lines" and len(loc) > 1 and isinstance(loc[1], int):
                row, cells = line_rows[loc[1]]
                target = _LINE_FIELDS.get(str(loc[2]), "") if len(loc) > 2 else fallback
                if target == "unit_price" and "unit_price" not in self.cols.index:
                    target = "amount"
            elif loc and nested and loc[0] in nested:
                sub = nested[str(loc[0])]
                target = sub.get(str(loc[1]), "") if len(loc) > 1 else ""
            elif loc:
                target = fields.get(str(loc[0]), "")
            column = self.cols.header(target) if target else ""
            value = self.get(cells, target) if target else ""
            rejects.append(Reject(row, column, value, _message(error)))
        return rejects


# ------------------------------------------------------------------------------- orders


@dataclass(slots=True)
class _Sale:
    key: str
    rows: list[int]
    order_in: OrderIn
    anonymous: bool


@dataclass(slots=True)
class _Cancel:
    key: str
    rows: list[int]
    lines: list[tuple[int, str, int]]  # (row, sku, quantity_milli), quantities positive
    customer: CustomerRef | None
    at: datetime
    original: str | None  # named in an original-order column
    stripped: str | None  # the order id without its cancellation marker
    reason: str


class _Orders(_Cells):
    """Order lines, grouped into orders; cancellation orders become refunds."""

    def __init__(
        self, cols: ColumnMap, options: ImportOptions, source: str, header_row: int
    ) -> None:
        super().__init__(cols, options, source)
        self.cancel_re = re.compile(options.cancel_pattern)
        index = cols.index
        self.i_order = index["order_id"]
        self.i_sku = index["sku"]
        self.i_qty = index["quantity"]
        self.i_price = index.get("unit_price")
        self.i_amount = index.get("amount")
        self.i_discount = index.get("discount")
        self.i_name = index.get("product_name")
        self.h_order = cols.header("order_id")
        self.zone = get_settings().zone

    # -- reading --------------------------------------------------------------------------

    def _scan(self, table: Table, tick: _Tick) -> tuple[dict[str, int], dict[str, int]]:
        """Each order id's first and last row, so a batch never ends inside an order."""
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        i_order = self.i_order
        for n, (number, cells) in enumerate(table.rows(), start=1):
            key = _ident(cells[i_order])
            if key not in first:
                first[key] = number
            last[key] = number
            if n % 20000 == 0:
                tick("scanning", n)
        return first, last

    def batches(
        self, table: Table, *, resume_after: int, batch_rows: int, progress: _Tick
    ) -> Iterator[_Batch]:
        first, last = self._scan(table, progress)
        window = max(batch_rows, 2 * MAX_LINES)
        scattered = {k for k, f in first.items() if last[k] - f >= window}
        i_order = self.i_order
        groups: dict[str, list[tuple[int, list[Cell]]]] = {}
        rejects: list[Reject] = []
        open_orders = count = 0
        for number, cells in table.rows(after_row=resume_after):
            count += 1
            key = cells[i_order].strip()
            if "." in key:
                key = _ident(key)
            if not key:
                rejects.append(Reject(number, self.h_order, "", "order id is empty"))
            elif key in scattered:
                rejects.append(
                    Reject(
                        number,
                        self.h_order,
                        key,
                        f"the rows of order {key} are spread from row {first[key]} to row "
                        f"{last[key]}; sort the file by order id and import it again",
                    )
                )
            else:
                group = groups.get(key)
                if group is None:
                    groups[key] = [(number, cells)]
                    if last[key] != number:
                        open_orders += 1
                else:
                    group.append((number, cells))
                    if last[key] == number:
                        open_orders -= 1
            if count >= batch_rows and open_orders == 0:
                yield self._prepare(groups, rejects, number, count)
                groups, rejects, count = {}, [], 0
        if count:
            yield self._prepare(groups, rejects, number, count)

    def _prepare(
        self,
        groups: dict[str, list[tuple[int, list[Cell]]]],
        rejects: list[Reject],
        last_row: int,
        count: int,
    ) -> _Batch:
        batch = _Batch(last_row=last_row, rows=count, rejects=rejects)
        for key, rows in groups.items():
            try:
                item = self._order(key, rows)
            except _GroupRejected as exc:
                batch.rejects.extend(exc.rejects)
            else:
                batch.items.append(item)
        return batch

    def _order(self, key: str, rows: list[tuple[int, list[Cell]]]) -> _Sale | _Cancel:
        numbers = [n for n, _ in rows]
        problems: list[Reject] = []
        # (row, sku, quantity in thousandths, the OrderLineIn fields): parsed on a fast path
        # for plain numbers; anything else goes through parse_quantity and yuan_to_fen.
        lines: list[tuple[int, str, int, dict[str, Any]]] = []
        i_sku, i_qty, i_price = self.i_sku, self.i_qty, self.i_price
        i_amount, i_discount, i_name = self.i_amount, self.i_discount, self.i_name
        plain = _PLAIN_YUAN.fullmatch
        cols = self.cols
        for number, cells in rows:
            target = "sku"
            text = ""
            try:
                sku = cells[i_sku].strip()
                if not sku:
                    raise ValueError("SKU is empty")
                target, text = "quantity", cells[i_qty].strip()
                if text.isdigit() and text.isascii():
                    milli = int(text) * 1000
                    line: dict[str, Any] = {"sku": sku, "quantity": milli // 1000}
                elif not text:
                    raise ValueError("quantity is empty")
                else:
                    milli = parse_quantity(text)
                    line = {"sku": sku, "quantity": _quantity(milli)}
                price = amount = None
                if i_price is not None and (text := cells[i_price].strip()):
                    target = "unit_price"
                    price = _fen(text) if plain(text) is None else _plain_fen(text)
                if i_amount is not None and (text := cells[i_amount].strip()):
                    target = "amount"
                    amount = line["amount_fen"] = _fen(text)
                if i_discount is not None and (text := cells[i_discount].strip()):
                    target = "discount"
                    line["discount_fen"] = _fen(text)
                if price is None:
                    if amount is None:
                        target = "unit_price" if i_price is not None else "amount"
                        raise ValueError("unit price is empty")
                    # Only the line's amount is known: the unit price is amount ÷ quantity,
                    # rounded half up, and the amount is kept as given.
                    price = (2 * amount * 1000 + milli) // (2 * milli) if milli > 0 else 0
                line["unit_price_fen"] = price
                if i_name is not None and (name := cells[i_name].strip()):
                    line["name"] = name
            except ValueError as exc:
                problems.append(Reject(number, cols.header(target), text, str(exc)))
                continue
            lines.append((number, sku, milli, line))

        head_row, head = rows[0]
        try:
            at, person, extra, status_cancel = self._head(head_row, head)
        except _RowProblem as exc:
            problems.append(exc.reject)
        if problems:
            raise _GroupRejected(_reject_group(numbers, problems, f"order {key}"))

        marker = self.cancel_re.search(key)
        negative = [line for line in lines if line[2] < 0]
        if marker or status_cancel or (negative and len(negative) == len(lines)):
            return self._cancel(key, numbers, rows, lines, at, person, marker, head_row, head)
        if negative:
            problems = [
                Reject(
                    n,
                    cols.header("quantity"),
                    str(milli_to_quantity(m)),
                    f"negative quantity in order {key}, which is a sale; give returns an "
                    "order id of their own (or a status column saying 退款)",
                )
                for n, _, m, _ in negative
            ]
            raise _GroupRejected(_reject_group(numbers, problems, f"order {key}"))

        data: dict[str, Any] = {
            "source": self.source,
            "external_id": key,
            "ordered_at": at,
            "lines": [line for *_, line in lines],
            **extra,
        }
        if person:
            data["customer"] = person
        try:
            order_in = OrderIn.model_validate(data)
        except ValidationError as exc:
            found = self.rejects_from(
                exc,
                head_row=head_row,
                head=head,
                line_rows=rows,
                fields=_ORDER_FIELDS,
                nested={"customer": _PERSON_FIELDS | {"name": "customer_name"}},
                fallback="total" if "total" in cols.index else "",
            )
            raise _GroupRejected(_reject_group(numbers, found, f"order {key}")) from None
        return _Sale(key=key, rows=numbers, order_in=order_in, anonymous=not person)

    def _head(
        self, row: int, cells: list[Cell]
    ) -> tuple[datetime, dict[str, Any], dict[str, Any], bool]:
        """Order-level cells, read from an order's first row."""
        cols = self.cols
        position = cols.index["ordered_at"]
        cell = cells[position]
        if not cell.strip():
            raise _RowProblem(row, cols.header("ordered_at"), "", "order time is empty")
        try:
            at = self.when(cell)
        except ValueError as exc:
            raise _RowProblem(row, cols.header("ordered_at"), cell.strip(), str(exc)) from None
        person = self.person(cells, row, name_target="customer_name")
        if len(person.get("address", "")) > ADDRESS_MAX_LENGTH:
            # A shipping address only fills a blank in the profile: one that would not fit
            # (a note to the courier run on) is left out rather than costing the sale.
            del person["address"]
        extra: dict[str, Any] = {}
        store = self.get(cells, "store_code") or self.options.store_code
        if store:
            extra["store_code"] = store
        if text := self.get(cells, "payment_method"):
            extra["payment_method"] = lookup_value(PAYMENT_METHODS, text)[1] or "other"
        if text := self.get(cells, "channel"):
            extra["channel"] = lookup_value(CHANNELS, text)[1] or "other"
        for target, name in (("order_discount", "order_discount_fen"), ("total", "total_fen")):
            if text := self.get(cells, target):
                try:
                    extra[name] = _fen(text)
                except ValueError as exc:
                    raise _RowProblem(row, cols.header(target), text, str(exc)) from None
        status = self.get(cells, "status")
        return at, person, extra, bool(status) and normalise_header(status) in CANCEL_STATUSES

    def _cancel(
        self,
        key: str,
        numbers: list[int],
        rows: list[tuple[int, list[Cell]]],
        lines: list[tuple[int, str, int, dict[str, Any]]],
        at: datetime,
        person: dict[str, Any],
        marker: re.Match[str] | None,
        head_row: int,
        head: list[Cell],
    ) -> _Cancel:
        customer = None
        if person:
            try:
                customer = CustomerRef.model_validate(person)
            except ValidationError as exc:
                found = self.rejects_from(
                    exc,
                    head_row=head_row,
                    head=head,
                    fields=_PERSON_FIELDS | {"name": "customer_name"},
                )
                raise _GroupRejected(_reject_group(numbers, found, f"order {key}")) from None
        zero = [n for n, _, m, _ in lines if m == 0]
        if zero:
            problem = Reject(zero[0], self.cols.header("quantity"), "0", "quantity is 0")
            raise _GroupRejected(_reject_group(numbers, [problem], f"order {key}"))
        status = self.get(head, "status")
        stripped = key[: marker.start()] + key[marker.end() :] if marker else key
        return _Cancel(
            key=key,
            rows=numbers,
            lines=[(n, sku, abs(m)) for n, sku, m, _ in lines],
            customer=customer,
            at=at if at.tzinfo else at.replace(tzinfo=self.zone),
            original=self.get(head, "original_order_id") or None,
            stripped=stripped or None,
            reason=f"{status or 'cancellation'} {key}"[:255],
        )

    # -- writing --------------------------------------------------------------------------

    def write(self, session: Session, batch: _Batch, run_id: int) -> _Written:
        counters = _Counters()
        rejects: list[Reject] = []
        sales = [item for item in batch.items if isinstance(item, _Sale)]
        if sales:
            outcomes = orders.record_orders(
                session=session, orders_in=[s.order_in for s in sales], import_run_id=run_id
            )
            for sale, outcome in zip(sales, outcomes, strict=True):
                n = len(sale.rows)
                if outcome.status == "created":
                    counters.accepted += n
                    counters.created += 1
                    if sale.anonymous:
                        counters.anonymous += n
                elif outcome.status == "duplicate":
                    counters.duplicates += n
                elif outcome.status == "conflict":
                    reason = (
                        f"order {sale.key} is already in Patron (source {self.source}) with "
                        "other lines or details; it was not changed"
                    )
                    rejects.extend(Reject(r, self.h_order, sale.key, reason) for r in sale.rows)
                else:
                    error = outcome.error
                    field = error.field if error is not None else ""
                    target = _ORDER_FIELDS.get(field.rsplit(".", 1)[-1], "")
                    message = error.message if error is not None else "invalid order"
                    problem = Reject(
                        sale.rows[0],
                        self.cols.header(target) if target else "",
                        sale.order_in.store_code or "" if target == "store_code" else "",
                        message,
                    )
                    rejects.extend(_reject_group(sale.rows, [problem], f"order {sale.key}"))
        for item in batch.items:
            if isinstance(item, _Cancel):
                self._write_cancel(session, item, run_id, counters, rejects)
        return _Written(counters=counters, rejects=rejects)

    def _write_cancel(
        self,
        session: Session,
        item: _Cancel,
        run_id: int,
        counters: _Counters,
        rejects: list[Reject],
    ) -> None:
        n = len(item.rows)
        try:
            with session.begin_nested():
                created = self._refund(session, item, run_id)
        except _RowProblem as exc:
            rejects.extend(_reject_group(item.rows, [exc.reject], f"cancellation {item.key}"))
            return
        except (PatronError, ValidationError) as exc:
            reason = exc.message if isinstance(exc, PatronError) else str(exc)
            rejects.extend(
                Reject(r, self.h_order, item.key, f"cannot refund: {reason}") for r in item.rows
            )
            return
        if created:
            counters.accepted += n
            counters.refunds += n
            counters.created += 1
        else:
            counters.duplicates += n

    def _refund(self, session: Session, item: _Cancel, run_id: int) -> bool:
        """Record the refunds a cancellation makes; False when an earlier import did."""
        if _refund_exists(session, self.source, item.key):
            return False
        cols = self.cols
        named_cache: dict[str, OrderRead | None] = {}
        planned: dict[int, dict[int, list[int]]] = {}  # order id → line no → [milli]
        for row, sku, milli in item.lines:
            target: tuple[int, int] | None = None
            named = item.original or item.stripped
            if named:
                if named not in named_cache:
                    named_cache[named] = orders.get_order_by_key(
                        session=session, source=self.source, external_id=named
                    )
                order = named_cache[named]
                if order is not None:
                    target = _line_for(order, sku, milli, planned.get(order.id, {}))
                    if target is None and item.original:
                        raise _RowProblem(
                            row,
                            cols.header("sku"),
                            sku,
                            f"order {named} has no line of SKU {sku} with "
                            f"{milli_to_quantity(milli)} left to refund",
                        )
                elif item.original:
                    raise _RowProblem(
                        row,
                        cols.header("original_order_id"),
                        named,
                        f"original order {named} is not in Patron (source {self.source})",
                    )
            if target is None:
                if item.customer is None:
                    raise _RowProblem(
                        row,
                        self.h_order,
                        item.key,
                        "cannot tell which order this cancels: no original order id and no "
                        "customer on the row",
                    )
                target = orders.find_order_for_cancellation(
                    session=session,
                    customer=item.customer,
                    sku=sku,
                    quantity_milli=milli,
                    before=item.at,
                )
                if target is None:
                    raise _RowProblem(
                        row,
                        cols.header("sku"),
                        sku,
                        f"no earlier order of this customer has {milli_to_quantity(milli)} of "
                        f"SKU {sku} left to refund",
                    )
            order_id, line_no = target
            slot = planned.setdefault(order_id, {}).setdefault(line_no, [0])
            slot[0] += milli
        for k, (order_id, by_line) in enumerate(planned.items(), start=1):
            refund_in = RefundIn.model_validate(
                {
                    "source": self.source,
                    "external_id": item.key if k == 1 else f"{item.key}/{k}",
                    "order_id": order_id,
                    "refunded_at": item.at,
                    "reason": item.reason,
                    # Amounts are left to the service: the share of what was paid for the line.
                    "lines": [
                        {"line_no": line_no, "quantity": _quantity(milli)}
                        for line_no, (milli,) in by_line.items()
                    ],
                }
            )
            orders.record_refund(session=session, refund_in=refund_in, import_run_id=run_id)
        return True


class _GroupRejected(Exception):
    def __init__(self, rejects: list[Reject]) -> None:
        super().__init__(f"{len(rejects)} rows rejected")
        self.rejects = rejects


def _line_for(
    order: OrderRead, sku: str, milli: int, planned: dict[int, list[int]]
) -> tuple[int, int] | None:
    """The first line of ``order`` with ``sku`` and at least ``milli`` left to refund."""
    for line in order.lines:
        if line.sku != sku:
            continue
        left = (
            int(line.quantity * 1000)
            - int(line.refunded_quantity * 1000)
            - planned.get(line.line_no, [0])[0]
        )
        if left >= milli:
            return order.id, line.line_no
    return None


def _refund_exists(session: Session, source: str, external_id: str) -> bool:
    """A cancellation imported again must not be matched to another sale."""
    return (
        orders.get_refund_by_key(session=session, source=source, external_id=external_id)
        is not None
    )


# -------------------------------------------------------------- customers and products


class _Rows(_Cells):
    """One row, one record: batches are simply every ``batch_rows`` rows."""

    what = "row"

    def __init__(
        self, cols: ColumnMap, options: ImportOptions, source: str, header_row: int
    ) -> None:
        super().__init__(cols, options, source)

    def batches(
        self, table: Table, *, resume_after: int, batch_rows: int, progress: _Tick
    ) -> Iterator[_Batch]:
        batch = _Batch(last_row=0, rows=0)
        for number, cells in table.rows(after_row=resume_after):
            batch.rows += 1
            batch.last_row = number
            try:
                batch.items.append((number, self.record(number, cells)))
            except _RowProblem as exc:
                batch.rejects.append(exc.reject)
            except ValidationError as exc:
                batch.rejects.extend(self.rejected(exc, number, cells))
            if batch.rows >= batch_rows:
                yield batch
                batch = _Batch(last_row=0, rows=0)
        if batch.rows:
            yield batch

    def record(self, row: int, cells: list[Cell]) -> Any:
        raise NotImplementedError

    def rejected(self, exc: ValidationError, row: int, cells: list[Cell]) -> list[Reject]:
        raise NotImplementedError

    def cell(self, cells: list[Cell], row: int, target: str, parse: Callable[[str], Any]) -> Any:
        """A parsed cell, None when blank; a bad value is a problem naming its column."""
        text = self.get(cells, target)
        if not text:
            return None
        try:
            return parse(text)
        except ValueError as exc:
            raise _RowProblem(row, self.cols.header(target), text, str(exc)) from None

    def date_cell(self, cells: list[Cell], row: int, target: str) -> datetime | None:
        position = self.cols.index.get(target)
        if position is None or not cells[position].strip():
            return None
        try:
            return self.when(cells[position])
        except ValueError as exc:
            raise _RowProblem(
                row, self.cols.header(target), cells[position].strip(), str(exc)
            ) from None

    def write_each(
        self,
        session: Session,
        items: list[tuple[int, Any]],
        call: Callable[[list[Any]], Any],
    ) -> tuple[list[Any], list[Reject]]:
        """Call the bulk service; if it refuses the batch, find the rows it refuses.

        Returns the results of the calls that went through (one call for the whole batch,
        or one per row after a refusal) and the rejects.
        """
        try:
            with session.begin_nested():
                return [call([record for _, record in items])], []
        except PatronError:
            pass
        results: list[Any] = []
        rejects: list[Reject] = []
        for row, record in items:
            try:
                with session.begin_nested():
                    results.append(call([record]))
            except PatronError as exc:
                field = getattr(exc, "field", "").rsplit(".", 1)[-1]
                target = self.field_target(field)
                column = self.cols.header(target) if target else ""
                rejects.append(Reject(row, column, "", exc.message))
        return results, rejects

    def field_target(self, field: str) -> str:
        return field if field in self.cols.index else ""


class _Customers(_Rows):
    """Sign-ups: one customer per row, found by any identity it carries."""

    def record(self, row: int, cells: list[Cell]) -> CustomerCreate:
        person = self.person(cells, row, name_target="name")
        if not person:
            raise _RowProblem(
                row,
                "",
                "",
                "no phone, member card, customer id, e-mail, openid or unionid in this row",
            )
        identities = {k: person.pop(k) for k in list(person) if k not in _PROFILE_TARGETS}
        data: dict[str, Any] = {"identities": identities, **person}
        birthday = self.date_cell(cells, row, "birthday")
        if birthday is not None:
            data["birthday"] = birthday.date()
        signed_up = self.date_cell(cells, row, "signed_up_at")
        if signed_up is not None:
            data["signed_up_at"] = signed_up
        for target in ("home_store_code", "signup_channel"):
            if text := self.get(cells, target):
                data[target] = text
        if text := self.get(cells, "tags"):
            data["tags"] = list(
                dict.fromkeys(t.strip() for t in _TAG_SPLIT.split(text) if t.strip())
            )
        return CustomerCreate.model_validate(data)

    def rejected(self, exc: ValidationError, row: int, cells: list[Cell]) -> list[Reject]:
        fields = _PERSON_FIELDS | {
            "name": "name",
            "home_store_code": "home_store_code",
            "signup_channel": "signup_channel",
            "signed_up_at": "signed_up_at",
            "tags": "tags",
        }
        return self.rejects_from(
            exc, head_row=row, head=cells, fields=fields, nested={"identities": _PERSON_FIELDS}
        )

    def field_target(self, field: str) -> str:
        return _PERSON_FIELDS.get(field, field if field in self.cols.index else "")

    def write(self, session: Session, batch: _Batch, run_id: int) -> _Written:
        counters = _Counters()
        rejects: list[Reject] = []
        stores = catalog.stores_by_code(session=session)
        items = []
        for row, customer_in in batch.items:
            code = customer_in.home_store_code
            if code and code not in stores:
                rejects.append(
                    Reject(
                        row,
                        self.cols.header("home_store_code"),
                        code,
                        f"no store with code {code!r}; add it first (patron stores add)",
                    )
                )
            else:
                items.append((row, customer_in))
        if items:
            results, refused = self.write_each(
                session,
                items,
                lambda records: customers.register_customers(
                    session=session, customers_in=records, source=self.source
                ),
            )
            rejects.extend(refused)
            for outcome in (o for outcomes in results for o in outcomes):
                if outcome.created:
                    counters.accepted += 1
                    counters.created += 1
                else:
                    # Known by one of its identities: blanks filled, nothing duplicated.
                    counters.duplicates += 1
        return _Written(counters=counters, rejects=rejects)


class _Products(_Rows):
    """Products by SKU; a later row of the same SKU wins, as in the catalogue service."""

    def record(self, row: int, cells: list[Cell]) -> ProductIn:
        data: dict[str, Any] = {"sku": self.get(cells, "sku"), "name": self.get(cells, "name")}
        if not data["sku"]:
            raise _RowProblem(row, self.cols.header("sku"), "", "SKU is empty")
        if not data["name"]:
            raise _RowProblem(row, self.cols.header("name"), "", "name is empty")
        path = self.get(cells, "category")
        levels = [self.get(cells, t) for t in ("category_1", "category_2", "category_3")]
        if any(levels):
            path = "/".join([path, *levels] if path else levels)
        if path:
            data["category_path"] = path
        if brand := self.get(cells, "brand"):
            data["brand"] = brand
        price = self.cell(cells, row, "list_price", _fen)
        if price is not None:
            data["list_price_fen"] = price
        days = self.cell(cells, row, "shelf_life", _shelf_life_days)
        if days is not None:
            data["shelf_life_days"] = days
        return ProductIn.model_validate(data)

    def rejected(self, exc: ValidationError, row: int, cells: list[Cell]) -> list[Reject]:
        fields = {
            "sku": "sku",
            "name": "name",
            "category_path": "category",
            "brand": "brand",
            "list_price_fen": "list_price",
            "shelf_life_days": "shelf_life",
        }
        return self.rejects_from(exc, head_row=row, head=cells, fields=fields)

    def write(self, session: Session, batch: _Batch, run_id: int) -> _Written:
        counters = _Counters()
        results, rejects = self.write_each(
            session,
            batch.items,
            lambda records: catalog.upsert_products(session=session, products_in=records),
        )
        written = len(batch.items) - len(rejects)
        counters.created = sum(r.created for r in results)
        counters.updated = sum(r.updated for r in results)
        counters.accepted = counters.created + counters.updated
        # Unchanged products, and earlier rows of a SKU repeated in the batch.
        counters.duplicates = written - counters.accepted
        return _Written(counters=counters, rejects=rejects)


_IMPORTERS: dict[str, type[_Orders] | type[_Customers] | type[_Products]] = {
    "orders": _Orders,
    "customers": _Customers,
    "products": _Products,
}
