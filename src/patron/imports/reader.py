"""Reading CSV and Excel exports as rows of cells, whatever encoding and delimiter they use.

Retail exports arrive from Excel on Chinese Windows (GBK), from web back-ends (UTF-8, often
with a BOM so Excel opens them), and as real ``.xlsx`` workbooks. The encoding is decided
before the first row is parsed, by reading the whole file once (the same pass hashes it for
the import run's key), so a file never fails half-way through with a decode error after
some batches are already committed.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from patron.core.errors import PatronError

# Every cell is text, as a CSV export of it would hold; a workbook's real dates become ISO
# text ("2024-03-01 09:30:00"), which parse_datetime reads on its fastest path.
Cell = str

_CHUNK = 1 << 20
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    # Excel's "Unicode text" export is UTF-16 LE with a BOM and tabs.
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"
_DELIMITERS = (",", "\t", ";")
_CSV_FIELD_LIMIT = 1 << 24


class UnreadableFile(PatronError):
    """The file cannot be read as a table: missing, an unsupported format, or undecodable."""

    code = "unreadable_file"


class EmptyFile(PatronError):
    """The file has no header, or a header and no data rows."""

    code = "empty_file"


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What one pass over the raw bytes tells: its key, its size, how to decode it."""

    path: Path
    sha256: str
    size: int
    format: Literal["csv", "xlsx"]
    encoding: str | None  # None for workbooks


def inspect_file(path: Path, *, encoding: str | None = None) -> FileFacts:
    """Hash the file and decide its format and encoding.

    A BOM decides the encoding outright. Otherwise the whole file is streamed through an
    incremental UTF-8 decoder: anything that is valid UTF-8 is read as UTF-8, and anything
    else as GB18030 (a superset of GBK and GB2312, what Chinese Excel saves as "CSV"), which
    is then checked the same way. ``encoding`` overrides the guess but is checked too.
    """
    if not path.exists():
        raise UnreadableFile(f"{path}: no such file", path=str(path), reason="missing")
    if path.is_dir():
        raise UnreadableFile(f"{path}: is a folder, not a file", path=str(path), reason="folder")
    size = path.stat().st_size
    if size == 0:
        raise EmptyFile(
            f"{path.name}: the file is empty (0 bytes)", path=str(path), reason="zero_bytes"
        )
    with path.open("rb") as f:
        head = f.read(8)
    suffix = path.suffix.lower()
    if head.startswith(_OLE_MAGIC) or suffix == ".xls":
        raise UnreadableFile(
            f"{path.name}: old binary Excel (.xls) files are not supported; "
            "open it in Excel or WPS and save as .xlsx or CSV",
            path=str(path),
            reason="xls",
        )
    if head.startswith(_ZIP_MAGIC) or suffix in (".xlsx", ".xlsm"):
        if not head.startswith(_ZIP_MAGIC):
            raise UnreadableFile(
                f"{path.name}: not a valid .xlsx workbook", path=str(path), reason="not_xlsx"
            )
        return FileFacts(path, _sha256(path), size, "xlsx", None)

    if encoding is not None:
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            raise UnreadableFile(
                f"unknown encoding {encoding!r}", encoding=encoding, reason="unknown_encoding"
            ) from None
        digest, error = _hash_and_check(path, encoding)
        if error is not None:
            raise UnreadableFile(
                f"{path.name}: not valid {encoding}: {error}",
                path=str(path),
                encoding=encoding,
                error=error,
                reason="not_encoding",
            )
        return FileFacts(path, digest, size, "csv", encoding)

    for bom, name in _BOMS:
        if head.startswith(bom):
            digest, error = _hash_and_check(path, name)
            if error is not None:
                raise UnreadableFile(
                    f"{path.name}: not valid {name}: {error}",
                    path=str(path),
                    encoding=name,
                    error=error,
                    reason="not_encoding",
                )
            return FileFacts(path, digest, size, "csv", name)

    digest, error = _hash_and_check(path, "utf-8")
    if error is None:
        return FileFacts(path, digest, size, "csv", "utf-8")
    _, gb_error = _hash_and_check(path, "gb18030")
    if gb_error is not None:
        raise UnreadableFile(
            f"{path.name}: neither UTF-8 ({error}) nor GB18030 ({gb_error}); "
            "give the file's encoding with --encoding",
            path=str(path),
            reason="undecodable",
        )
    return FileFacts(path, digest, size, "csv", "gb18030")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _hash_and_check(path: Path, encoding: str) -> tuple[str, str | None]:
    """The file's SHA-256 and the first decoding error under ``encoding`` (None if clean)."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    error: str | None = None
    offset = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            if error is None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    error = f"bad byte at offset {offset + exc.start}"
            offset += len(chunk)
    if error is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            error = "the file ends in the middle of a character"
    return digest.hexdigest(), error


def sniff_delimiter(header_line: str) -> str:
    """The delimiter the header line uses most, outside quotes: comma, tab or semicolon."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


class _CountingRaw(io.RawIOBase):
    """A raw binary file that remembers how many bytes were read, for the progress bar."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("rb", buffering=0)
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._file.readinto(buffer) or 0
        self.position += n
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


class Table:
    """An open CSV file or worksheet: its header and, on demand, its data rows.

    Rows are numbered as a spreadsheet shows them (the header's row, usually 1, then 2, 3…),
    blank lines included, so a row number in a report is the row a user scrolls to.
    :meth:`rows` may be called more than once; each call reads the file from the top.
    Until :meth:`locate_header` picks another, the header is the first non-blank row.
    """

    def __init__(
        self, facts: FileFacts, *, delimiter: str | None = None, sheet: str | None = None
    ) -> None:
        self.facts = facts
        self.sheet = sheet
        self.delimiter = delimiter
        self._counter: _CountingRaw | None = None
        self._rows_done = 0
        self._rows_total = 0
        self._workbook: Any = None
        # Sheets read, by name: calamine reads a whole sheet each time one is asked for,
        # and a table is read from the top several times (header, currency, rows).
        self._sheets: dict[str | None, Any] = {}
        self.header_row, self.headers = self._first_header()

    # -- progress -------------------------------------------------------------------------

    @property
    def progress_unit(self) -> str:
        return "bytes" if self.facts.format == "csv" else "rows"

    def progress(self) -> tuple[int, int]:
        """(done, total) in :attr:`progress_unit`, for a progress bar."""
        if self.facts.format == "csv":
            done = self._counter.position if self._counter is not None else 0
            return min(done, self.facts.size), self.facts.size
        return self._rows_done, max(self._rows_total, self._rows_done)

    # -- rows -----------------------------------------------------------------------------

    def records(self) -> Generator[tuple[int, list[Cell]]]:
        """Every record from the top, blank ones included, numbered from 1."""
        return self._csv_records() if self.facts.format == "csv" else self._xlsx_records()

    def rows(self, *, after_row: int = 0) -> Generator[tuple[int, list[Cell]]]:
        """(row number, cells) for each non-blank data row below the header.

        Rows at or before ``after_row`` are skipped (parsed, not converted): that is how an
        interrupted import resumes. Cells are padded to the header's width.
        """
        width = len(self.headers)
        start = max(after_row, self.header_row)
        if self.facts.format == "csv":
            return self._csv_rows(start, width)
        return self._xlsx_rows(start, width)

    def close(self) -> None:
        self._sheets.clear()
        if self._workbook is not None:
            self._workbook.close()
            self._workbook = None

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- CSV ------------------------------------------------------------------------------

    def _csv_delimiter(self) -> str:
        if self.delimiter is None:
            with self.facts.path.open(encoding=self.facts.encoding, newline="") as f:
                lines = [f.readline(1 << 16) for _ in range(_HEADER_LOOK)]
            self.delimiter = sniff_lines(lines)
        return self.delimiter

    def _open_text(self) -> io.TextIOWrapper:
        counter = _CountingRaw(self.facts.path)
        self._counter = counter
        buffered = io.BufferedReader(counter, buffer_size=1 << 16)
        return io.TextIOWrapper(buffered, encoding=self.facts.encoding, newline="")

    def _csv_records(self) -> Generator[tuple[int, list[Cell]]]:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
        with self._open_text() as text:
            reader = csv.reader(text, delimiter=self._csv_delimiter())
            number = 0
            try:
                for record in reader:
                    number += 1
                    yield number, record
            except (csv.Error, UnicodeDecodeError) as exc:
                raise self._unreadable(exc, number + 1) from None

    def _csv_rows(self, start: int, width: int) -> Generator[tuple[int, list[Cell]]]:
        """:meth:`rows` of a CSV file, in one generator: a row costs one step, not two."""
        csv.field_size_limit(_CSV_FIELD_LIMIT)
        with self._open_text() as text:
            reader = csv.reader(text, delimiter=self._csv_delimiter())
            number = 0
            try:
                for record in reader:
                    number += 1
                    if number <= start or not any(record):
                        continue
                    if len(record) < width:
                        record = record + [""] * (width - len(record))
                    yield number, record
            except (csv.Error, UnicodeDecodeError) as exc:
                raise self._unreadable(exc, number + 1) from None

    def _unreadable(self, exc: Exception, row: int) -> UnreadableFile:
        if isinstance(exc, UnicodeDecodeError):
            return UnreadableFile(
                f"{self.facts.path.name}, row {row}: not valid {self.facts.encoding}: {exc.reason}",
                row=row,
                encoding=self.facts.encoding,
                reason="not_encoding_row",
            )
        return UnreadableFile(
            f"{self.facts.path.name}, row {row}: cannot read the CSV: {exc}",
            row=row,
            error=str(exc),
            reason="bad_csv",
        )

    # -- XLSX -----------------------------------------------------------------------------

    def _book(self) -> Any:
        import python_calamine  # Rust-backed: reads a sheet far faster than openpyxl's cells

        if self._workbook is None:
            try:
                self._workbook = python_calamine.CalamineWorkbook.from_path(str(self.facts.path))
            except Exception as exc:  # calamine raises several kinds for a broken zip
                raise UnreadableFile(
                    f"{self.facts.path.name}: cannot open the workbook: {exc}",
                    error=str(exc),
                    reason="bad_workbook",
                ) from None
        return self._workbook

    @property
    def sheet_names(self) -> list[str]:
        if self.facts.format != "xlsx":
            return []
        return list(self._book().sheet_names)

    def on_first_sheet(self, name: str) -> Table:
        """This table, naming its sheet: ``name`` is the workbook's first, the one a table
        opened without a sheet reads (and has read already)."""
        if self.sheet is None:
            if (first := self._sheets.get(None)) is not None:
                self._sheets[name] = first
            self.sheet = name
        return self

    def _worksheet(self) -> Any:
        found = self._sheets.get(self.sheet)
        if found is None:
            found = self._sheets[self.sheet] = self._read_sheet()
        return found

    def _read_sheet(self) -> Any:
        book = self._book()
        names = list(book.sheet_names)
        if not names:
            raise EmptyFile(
                f"{self.facts.path.name}: the workbook has no sheets", reason="no_sheets"
            )
        if self.sheet is None:
            return book.get_sheet_by_index(0)
        if self.sheet not in names:
            raise UnreadableFile(
                f"{self.facts.path.name}: no sheet named {self.sheet!r}; "
                f"sheets: {', '.join(names)}",
                sheet=self.sheet,
                sheets=", ".join(names),
                reason="no_sheet",
            )
        return book.get_sheet_by_name(self.sheet)

    def _xlsx_records(self) -> Generator[tuple[int, list[Cell]]]:
        sheet = self._worksheet()
        start = sheet.start
        first = (start[0] if start else 0) + 1
        self._rows_total = (first - 1) + (sheet.height or 0)
        self._rows_done = 0
        number = first - 1
        texts = _Texts()
        for number, values in enumerate(sheet.iter_rows(), start=first):
            self._rows_done = number
            yield (
                number,
                [
                    v
                    if type(v) is str
                    else texts[v]
                    if type(v) is float or type(v) is datetime
                    else _cell(v)
                    for v in values
                ],
            )
        self._rows_done = max(number, self._rows_total)

    def _xlsx_rows(self, start: int, width: int) -> Generator[tuple[int, list[Cell]]]:
        """:meth:`rows` of a worksheet, in one generator (as :meth:`_csv_rows`); the rows
        at or before ``start`` are passed over without turning their cells into text."""
        sheet = self._worksheet()
        sheet_start = sheet.start
        first = (sheet_start[0] if sheet_start else 0) + 1
        self._rows_total = (first - 1) + (sheet.height or 0)
        self._rows_done = 0
        number = first - 1
        texts = _Texts()
        for number, values in enumerate(sheet.iter_rows(), start=first):
            self._rows_done = number
            if number <= start:
                continue
            record = [
                v
                if type(v) is str
                else texts[v]
                if type(v) is float or type(v) is datetime
                else _cell(v)
                for v in values
            ]
            if not any(record):
                continue
            if len(record) < width:
                record = record + [""] * (width - len(record))
            yield number, record
        self._rows_done = max(number, self._rows_total)

    # -- header ---------------------------------------------------------------------------

    def _first_header(self) -> tuple[int, list[str]]:
        source = self.records()
        try:
            for number, record in source:
                if any(record):
                    return number, _headers(record)
        finally:
            source.close()
        raise EmptyFile(
            f"{self.facts.path.name}: no header row (the file has only blank lines)",
            reason="no_header",
        )

    def locate_header(self, accept: Callable[[list[str]], bool]) -> bool:
        """Make the header the first of the top non-blank rows that ``accept`` takes: a
        title line (订单明细导出（… 至 …）) or a note above the header is passed over.
        Returns False, keeping the first non-blank row, when none of them is taken."""
        source = self.records()
        seen = 0
        try:
            for number, record in source:
                if not any(record):
                    continue
                headers = _headers(record)
                if accept(headers):
                    self.header_row, self.headers = number, headers
                    return True
                seen += 1
                if seen >= _HEADER_LOOK:
                    break
        finally:
            source.close()
        return False

    def has_data(self) -> bool:
        """Whether any non-blank row follows the header."""
        rows = self.rows()
        try:
            return next(rows, None) is not None
        finally:
            rows.close()


_HEADER_LOOK = 20  # rows looked at for the header, from the top


def _headers(record: list[Cell]) -> list[str]:
    headers = [_header_text(c) for c in record]
    while headers and not headers[-1]:
        headers.pop()
    return headers


def sniff_lines(lines: list[str]) -> str:
    """The delimiter of a file whose first lines are ``lines``: the header's, taken from the
    line that has the most delimiters (a title line above the header has none)."""
    best, count = ",", 0
    for line in lines:
        delimiter = sniff_delimiter(line)
        n = _count_outside_quotes(line, delimiter)
        if n > count:
            best, count = delimiter, n
    return best


def _count_outside_quotes(line: str, delimiter: str) -> int:
    quoted, n = False, 0
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == delimiter:
            n += 1
    return n


def _header_text(cell: Cell) -> str:
    return cell.replace("\ufeff", "").strip()


class _Texts(dict[float | datetime, Cell]):
    """The text of each number or time a sheet holds, made once however many rows repeat it
    (quantities, prices, an order's time, a customer's phone); bounded. Only floats and
    datetimes are looked up: no two of them are equal (as True and 1.0 would be)."""

    def __missing__(self, value: float | datetime) -> Cell:
        if len(self) >= _TEXTS_KEPT:
            self.clear()
        text = self[value] = _cell(value)
        return text


_TEXTS_KEPT = 100_000


def _cell(value: object) -> Cell:
    """A workbook value as the text a CSV export of it would hold."""
    # Numbers and times first: most of a sheet's cells that are not text.
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        # Excel shows 15 significant digits; the file may hold 2.5500000000000003.
        return format(value, ".15g")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, timedelta):  # a time of day, as a duration since midnight
        return str(value)
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)


def open_table(
    facts: FileFacts, *, delimiter: str | None = None, sheet: str | None = None
) -> Table:
    """Open ``facts.path`` and read its first non-blank row as the header."""
    return Table(facts, delimiter=delimiter, sheet=sheet)
