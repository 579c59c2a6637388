"""An import run's staging area: the file's rows, read once and kept in order-key order.

An export is sorted by time, till or product, not by order: an order's lines may be anywhere
in the file, and its returns anywhere else. So an orders file is read in one pass into this
area (a SQLite file of the run's own, beside the data, never the shop's database); then
each order is taken from it whole, wherever its rows were, in bounded memory whatever the
file's size (SQLite sorts on disk). The area also keeps every row's outcome and every note
(reject reasons, warnings), from which the run's one rejects report and its reconciliation
are made at the end. It is deleted when the run completes; an interrupted run finds it
again and carries on.

A row's ``kind``: ``S`` a sale line, ``R`` a return line (negative quantity, a cancellation
order id), ``C`` a line of an order that was never a sale (cancelled, closed unpaid), ``X`` a
line that cannot be read. Its ``status``: ``accepted``, ``duplicate`` (in Patron from an
earlier import), ``rejected``, ``nosale``.
"""

from __future__ import annotations

import json
import marshal
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from patron.imports.messages import Note

SALE, RETURN, NO_SALE_KIND, BAD = "S", "R", "C", "X"
ACCEPTED, DUPLICATE, REJECTED, NOSALE = "accepted", "duplicate", "rejected", "nosale"

# Row columns, in the order a staged row tuple carries them.
ROW_COLUMNS = (
    "row",  # the spreadsheet's row number
    "key",  # the order id as written (its ".0" of a spreadsheet number dropped)
    "kind",
    "at",  # the row's time, UTC microseconds since the epoch (None: unreadable)
    "day",  # that time's business day in the shop's zone, ISO
    "store",  # the store cell as written ("" when the file names none)
    "sku",
    "name",
    "qty",  # thousandths, positive (a return's quantity as taken back)
    "price",  # fen, rounded half up when the file's price is finer
    "amount",  # the line's money as the file states it, fen, positive
    "discount",  # the line's discount, fen
    "refund",  # money the row says was refunded (fen); -1: all that was paid for the line
    "refund_day",  # the business day of that refund
    "odisc",  # the order-level discount cell, fen
    "state",  # what the status cell says: completed, refunded, … ("" none, "?" unknown)
    "cells",  # marshal of the order-level cells, read when the order is written
    "status",  # the sale's (or return's) outcome
    "rstatus",  # the outcome of the refund the row's status or refund amount asks for
    "anon",  # 1: a sale without anyone's identity
)
_INSERT_ROW = (
    f"INSERT INTO rows ({', '.join(ROW_COLUMNS)}) VALUES ({', '.join('?' * len(ROW_COLUMNS))})"
)

# What writing an order reads of its rows, in this order (``Staging.groups``). The
# order-level cells are read from the order's first row (and a row whose status cell could
# not be read): every other row's are left in the staging area, not decoded for nothing.
GROUP_COLUMNS = (
    "row", "key", "kind", "at", "store", "sku", "name", "qty", "price", "amount",
    "discount", "refund", "odisc", "state", "status", "cells",
)  # fmt: skip
_GROUP_SELECT = (
    ", ".join(f"r.{c}" for c in GROUP_COLUMNS[:-1])
    + ", CASE WHEN r.row = h.head OR r.state = '?' THEN r.cells END"
)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS rows (row INTEGER PRIMARY KEY, key TEXT NOT NULL, "
    "kind TEXT NOT NULL, at INTEGER, day TEXT, store TEXT NOT NULL, sku TEXT, name TEXT, "
    "qty INTEGER, price INTEGER, amount INTEGER, discount INTEGER, refund INTEGER, "
    "refund_day TEXT, odisc INTEGER, state TEXT, cells BLOB, status TEXT NOT NULL, "
    "rstatus TEXT, anon INTEGER NOT NULL DEFAULT 0)",
    # phase: "read" (found reading the file) or "write" (found writing it; made again when
    # a batch is written again after an interruption)
    "CREATE TABLE IF NOT EXISTS notes (row INTEGER NOT NULL, severity TEXT NOT NULL, "
    "code TEXT NOT NULL, col TEXT NOT NULL, value TEXT NOT NULL, facts TEXT NOT NULL, "
    "phase TEXT NOT NULL)",
    # A batch's rows have their notes of an earlier attempt cleared one row at a time.
    "CREATE INDEX IF NOT EXISTS notes_row ON notes (row)",
    "CREATE TABLE IF NOT EXISTS totals (row INTEGER PRIMARY KEY, amount INTEGER, text TEXT)",
    "CREATE TABLE IF NOT EXISTS stores (text TEXT PRIMARY KEY, code TEXT)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)",
)


# A row's status as it is staged, by kind: what its outcome is unless writing says otherwise.
STAGED_STATUS = {SALE: ACCEPTED, RETURN: ACCEPTED, NO_SALE_KIND: NOSALE, BAD: REJECTED}
_STAGED_CASE = (
    f"CASE kind WHEN '{NO_SALE_KIND}' THEN '{NOSALE}' WHEN '{BAD}' THEN '{REJECTED}' "
    f"ELSE '{ACCEPTED}' END"
)
# A batch's rows back to their staged outcome, before the batch's own outcomes are set.
_RESTAGE = (
    f"UPDATE rows SET status = {_STAGED_CASE}, rstatus = NULL, anon = 0 "
    "WHERE row IN (SELECT value FROM json_each(?)) "
    f"AND (status <> {_STAGED_CASE} OR rstatus IS NOT NULL OR anon <> 0)"
)


def pack(cells: Sequence[str]) -> bytes:
    return marshal.dumps(tuple(cells))


def unpack(blob: bytes) -> tuple[str, ...]:
    return tuple(marshal.loads(blob))


class Staging:
    """The staging file of one run (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.execute("PRAGMA temp_store=FILE")
        self.conn.execute("PRAGMA cache_size=-65536")
        for ddl in _SCHEMA:
            self.conn.execute(ddl)
        # Whether a note found writing may be kept: until one is, a batch has none of an
        # earlier attempt to clear, and clearing them row by row is skipped.
        self._write_notes = (
            self.conn.execute("SELECT 1 FROM notes WHERE phase = 'write' LIMIT 1").fetchone()
            is not None
        )

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def staged(self) -> bool:
        """Whether the file was read into this area completely."""
        return self.meta("staged") == "1"

    def reset(self) -> None:
        """Empty the area, for a file read again from the top."""
        for table in ("rows", "notes", "totals", "stores", "meta"):
            self.conn.execute(f"DELETE FROM {table}")
        self.conn.execute("DROP TABLE IF EXISTS heads")  # made again from the rows read
        self._write_notes = False

    def begin_bulk(self) -> None:
        # Reading the file: nothing to protect (an interrupted read starts again).
        self.conn.execute("PRAGMA journal_mode=OFF")
        self.conn.execute("BEGIN")

    def end_bulk(self, facts: dict[str, Any]) -> None:
        """Index the rows, note how they were read, and make later changes crash-safe."""
        self.conn.execute("CREATE INDEX IF NOT EXISTS rows_key ON rows (key, row)")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS heads AS SELECT r.key, r.row AS head, r.at, r.day, "
            "r.store, r.odisc, g.sales, g.returns, g.lines FROM "
            "(SELECT key, min(row) AS first, sum(kind = 'S') AS sales, "
            "sum(kind = 'R') AS returns, count(*) AS lines FROM rows GROUP BY key) g "
            "JOIN rows r ON r.row = g.first"
        )
        self.conn.execute("CREATE INDEX IF NOT EXISTS heads_key ON heads (key)")
        # The orders in the order they are written, newest first (``_groups``): walked
        # through this index, only each order's own rows are sorted, never the whole file's
        # rows on disk.
        self.conn.execute(
            "CREATE INDEX IF NOT EXISTS heads_sales ON heads (at IS NULL, at DESC, key)"
        )
        for key, value in {**facts, "staged": "1"}.items():
            self.set_meta(key, value)
        self.conn.execute("COMMIT")
        self.conn.execute("PRAGMA journal_mode=WAL")

    def close(self, *, delete: bool = False) -> None:
        with suppress(sqlite3.Error):
            self.conn.close()
        if delete:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    # -- meta -----------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: Any) -> None:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, text))

    def meta_json(self, key: str) -> Any:
        text = self.meta(key)
        return json.loads(text) if text is not None else None

    # -- writing ---------------------------------------------------------------------------

    def add_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.conn.executemany(_INSERT_ROW, rows)

    def add_totals_row(self, row: int, amount: int | None, text: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO totals VALUES (?, ?, ?)", (row, amount, text))

    def add_notes(self, notes: Iterable[Note], *, phase: str = "read") -> None:
        self.conn.executemany(
            "INSERT INTO notes VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    n.row,
                    n.severity,
                    n.code,
                    n.column,
                    n.value,
                    json.dumps(dict(n.facts), ensure_ascii=False, default=str),
                    phase,
                )
                for n in notes
            ],
        )

    def record(
        self,
        *,
        statuses: Sequence[tuple[str, str | None, int, int]],
        notes: Sequence[Note],
        refunds: Sequence[tuple[int, int]] = (),
        stores: Sequence[tuple[str, str | None]] = (),
        clear_rows: Sequence[int] = (),
    ) -> None:
        """One batch's outcomes, in one transaction: row statuses, notes (replacing any the
        same rows had from an earlier attempt at the batch), the money a refund took per row,
        and how store cells were resolved.

        ``clear_rows`` are the batch's rows: each goes back to its staged outcome (an
        earlier attempt at the batch may have set another), then ``statuses`` set those
        whose outcome differs from it; most rows' does not, and need no statement of their
        own."""
        conn = self.conn
        conn.execute("BEGIN")
        try:
            if clear_rows and self._write_notes:
                conn.executemany(
                    "DELETE FROM notes WHERE row = ? AND phase = 'write'",
                    [(r,) for r in clear_rows],
                )
            if clear_rows:
                conn.execute(_RESTAGE, (json.dumps(list(clear_rows)),))
            conn.executemany(
                "UPDATE rows SET status = ?, rstatus = ?, anon = ? WHERE row = ?", statuses
            )
            if notes:
                self._write_notes = True
                self.add_notes(notes, phase="write")
            if refunds:
                conn.executemany("UPDATE rows SET refund = ? WHERE row = ?", refunds)
            if stores:
                conn.executemany("INSERT OR REPLACE INTO stores VALUES (?, ?)", stores)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- reading ---------------------------------------------------------------------------

    def count_groups(self, kind: str) -> int:
        column = "sales" if kind == SALE else "returns"
        return int(
            self.conn.execute(f"SELECT count(*) FROM heads WHERE {column} > 0").fetchone()[0]
        )

    def groups(
        self, kind: str, *, skip: int = 0, own: bool = False
    ) -> Iterator[list[dict[str, Any]]]:
        """Each order (``S``: newest first) or return group (``R``: oldest first) with all its
        rows (``GROUP_COLUMNS`` of each), in file order; the first ``skip`` groups are passed
        over (a resumed run). ``own``: read through a connection of the caller's own (another
        thread's), which sees the rows as they were when it began, while outcomes are recorded."""
        if not own:
            yield from self._groups(self.conn, kind, skip)
            return
        conn = sqlite3.connect(self.path)
        try:
            yield from self._groups(conn, kind, skip)
        finally:
            conn.close()

    def _groups(
        self, conn: sqlite3.Connection, kind: str, skip: int
    ) -> Iterator[list[dict[str, Any]]]:
        if kind == SALE:
            # the order of the heads_sales index (end_bulk), which SQLite then walks
            where, order = "h.sales > 0", "h.at IS NULL, h.at DESC, h.key"
        else:
            where, order = "h.returns > 0", "h.at IS NULL, h.at, h.key"
        cursor = conn.execute(
            f"SELECT {_GROUP_SELECT} FROM heads h JOIN rows r ON r.key = h.key WHERE {where} "
            f"ORDER BY {order}, r.row"
        )
        # Plain dicts: a row's fields are read a dozen times each as its order is written,
        # and a dict answers by name several times faster than sqlite3.Row.
        group: list[dict[str, Any]] = []
        key: str | None = None
        n = 0
        columns = GROUP_COLUMNS  # the SELECT's own columns: the lengths always agree
        while batch := cursor.fetchmany(5000):
            for values in batch:
                row = dict(zip(columns, values))  # noqa: B905
                if values[1] != key:
                    if group:
                        n += 1
                        if n > skip:
                            yield group
                    group, key = [], values[1]
                group.append(row)
        if group:
            n += 1
            if n > skip:
                yield group

    def notes(self) -> Iterator[Note]:
        """Every note in row order, read as it is used (a file may hold millions)."""
        cursor = self.conn.execute(
            "SELECT row, severity, code, col, value, facts FROM notes ORDER BY row, rowid"
        )
        while batch := cursor.fetchmany(5000):
            for row, severity, code, col, value, facts in batch:
                yield Note(
                    row=row,
                    severity=severity,
                    code=code,
                    column=col,
                    value=value,
                    facts=json.loads(facts),
                )

    def noted_rows(self, severity: str) -> int:
        """How many rows have a note of ``severity``."""
        found = self.conn.execute(
            "SELECT count(DISTINCT row) FROM notes WHERE severity = ?", (severity,)
        ).fetchone()
        return int(found[0])

    @property
    def has_notes(self) -> bool:
        return self.conn.execute("SELECT 1 FROM notes LIMIT 1").fetchone() is not None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(sql, params))
