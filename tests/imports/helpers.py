"""Small files for import tests, written in the test's own tmp_path (no binary fixtures)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from patron.core.db import Database
from patron.imports.schemas import ImportOptions, ImportSummary
from patron.imports.service import run_import

UCI_HEADER = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
) -> Path:
    """A CSV as an export would write it; ``encoding="utf-8-sig"`` adds the BOM."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


def import_file(db: Database, kind: str, path: Path, **options: Any) -> ImportSummary:
    """Import ``path``; reasons in English unless the test asks for ``lang="zh"``."""
    options.setdefault("lang", "en")
    return run_import(db=db, kind=kind, path=path, options=ImportOptions(**options))


def report_of(summary: ImportSummary) -> list[dict[str, str]]:
    """The run's rejects report (it must have one)."""
    assert summary.report_path is not None, "the run wrote no report"
    return read_report(Path(summary.report_path))


def read_report(path: Path) -> list[dict[str, str]]:
    """The rejects report as dicts keyed row/column/value/outcome/reason."""
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "the report starts with a BOM for Excel"
    records = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert records[0][0].startswith(("row", "行号")), records[0]
    keys = ("row", "column", "value", "outcome", "reason")
    return [dict(zip(keys, r, strict=True)) for r in records[1:]]


def rejects(summary: ImportSummary) -> list[dict[str, str]]:
    """The report's rejected rows (warnings left out)."""
    if summary.report_path is None:
        return []
    return [r for r in report_of(summary) if r["outcome"] in ("rejected", "拒收")]


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """What the import wrote, without ids and timestamps, for comparing two end states."""
    queries = {
        "orders": "SELECT o.source, o.external_id, o.ordered_at, o.total_fen, o.gross_fen, "
        "CASE WHEN o.customer_id IS NULL THEN 1 ELSE 0 END FROM orders o",
        "lines": "SELECT o.external_id, l.line_no, l.sku, l.quantity_milli, l.unit_price_fen, "
        "l.amount_fen FROM order_line l JOIN orders o ON o.id = l.order_id",
        "refunds": "SELECT r.external_id, o.external_id, r.amount_fen FROM refund r "
        "JOIN orders o ON o.id = r.order_id",
        # values are encrypted with a fresh nonce each: compare their blind index
        "returns": "SELECT external_id, line_no, sku, amount_fen FROM sale_return",
        "identities": "SELECT kind, namespace, value_index FROM identity",
        "customers": "SELECT COUNT(*) FROM customer",
    }
    with db.engine.connect() as conn:
        return {
            name: sorted(tuple(_plain(v) for v in row) for row in conn.execute(text(sql)))
            for name, sql in queries.items()
        }


def _plain(value: Any) -> Any:
    """The same value from SQLite (text) and PostgreSQL (aware datetime)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, str) and len(value) == 26 and value[4] == "-" and value[10] == " ":
        return datetime.fromisoformat(value).isoformat(sep=" ")
    return value


# ------------------------------------------------------------ exports as shops make them


def write_workbook(path: Path, sheets: dict[str, Sequence[Sequence[Any]]]) -> Path:
    """An .xlsx of several sheets, each a list of rows (the header among them), written the
    way Excel keeps numbers and dates (write-only, so 40,000 rows take a second or two)."""
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(list(row))
    workbook.save(path)
    return path


def write_till_export(
    path: Path,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = "订单明细导出（2024-03-01 至 2024-03-31）",
    totals: Sequence[Any] | None = None,
    encoding: str = "gbk",
) -> Path:
    """A Chinese till's CSV export: a title line above the header, the rows, a 合计 row at
    the bottom, in GBK (what Excel on Chinese Windows saves as "CSV")."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if title is not None:
        writer.writerow([title])
    writer.writerow(header)
    writer.writerows(rows)
    if totals is not None:
        writer.writerow(totals)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path
