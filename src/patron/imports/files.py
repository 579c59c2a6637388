"""Opening an export: which sheet, which row is the header, which currency its amounts are
in; and the preview the console shows before an import (nothing is written)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from patron.core.errors import PatronError
from patron.core.settings import get_settings
from patron.imports.columns import ALIASES, REQUIRED, ColumnMap, MissingColumns, resolve_columns
from patron.imports.reader import FileFacts, Table, inspect_file, open_table
from patron.imports.schemas import ImportOptions


class CurrencyNotConfirmed(PatronError):
    """The file's amounts are in another currency than the shop's; nothing was written."""

    code = "currency_not_confirmed"


def _accepts(kind: str, mapping: dict[str, str]) -> Callable[[list[str]], bool]:
    """Whether a row of cells is the kind's header: every required field found in it."""

    def accept(headers: list[str]) -> bool:
        try:
            resolve_columns(kind=kind, headers=headers, mapping=mapping)
        except PatronError:
            return False
        return True

    return accept


def open_for(facts: FileFacts, *, kind: str, options: ImportOptions) -> tuple[Table, ColumnMap]:
    """The table (sheet, header row) of ``kind`` in the file, and its columns.

    Raises MissingColumns naming what is missing (and the headers found) when no sheet or
    top row has the kind's columns.
    """
    accept = _accepts(kind, options.mapping)
    table = open_table(facts, delimiter=options.delimiter, sheet=options.sheet)
    if facts.format == "xlsx" and options.sheet is None:
        for n, name in enumerate(table.sheet_names):
            # The first sheet is the one the table has read already.
            candidate = (
                table.on_first_sheet(name)
                if n == 0
                else open_table(facts, delimiter=options.delimiter, sheet=name)
            )
            if candidate.locate_header(accept):
                if candidate is not table:
                    table.close()
                return candidate, resolve_columns(
                    kind=kind, headers=candidate.headers, mapping=options.mapping
                )
            if candidate is not table:
                candidate.close()
    elif table.locate_header(accept):
        return table, resolve_columns(kind=kind, headers=table.headers, mapping=options.mapping)
    try:
        # Raises MissingColumns (or BadMapping) with the first sheet's first header.
        return table, resolve_columns(kind=kind, headers=table.headers, mapping=options.mapping)
    except BaseException:
        table.close()
        raise


_CURRENCY_SIGNS = {"£": "GBP", "€": "EUR", "$": "USD", "US$": "USD", "HK$": "HKD", "¥": "CNY"}
_SIGN = re.compile(r"(US\$|HK\$|[£€$¥￥])")


def detect_currency(table: Table, cols: ColumnMap, *, look: int = 500) -> str | None:
    """The currency a file's amounts are in, when it says: a currency column, or signs in
    the money cells of its first rows (£12.50). None when it says nothing."""
    money = [
        cols.index[t] for t in ("unit_price", "amount", "list_price", "total") if t in cols.index
    ]
    currency = cols.index.get("currency")
    found: dict[str, int] = {}
    rows = table.rows()
    try:
        for n, (_number, cells) in enumerate(rows):
            if n >= look:
                break
            if currency is not None and (code := cells[currency].strip().upper()):
                if re.fullmatch(r"[A-Z]{3}", code):
                    found[code] = found.get(code, 0) + 1
                elif code in ("人民币", "RMB", "元"):
                    found["CNY"] = found.get("CNY", 0) + 1
            for i in money:
                m = _SIGN.search(cells[i])
                if m:
                    code = _CURRENCY_SIGNS.get(m.group(1).replace("￥", "¥"), "")
                    if code:
                        found[code] = found.get(code, 0) + 1
    finally:
        rows.close()
    return max(found, key=lambda k: found[k]) if found else None


def check_currency(table: Table, cols: ColumnMap, options: ImportOptions) -> str:
    shop = get_settings().currency
    detected = detect_currency(table, cols)
    declared = options.currency
    if declared is not None and declared != shop:
        return declared  # the user confirmed a file in another currency
    if detected is not None and detected not in (shop, declared):
        raise CurrencyNotConfirmed(
            f"{table.facts.path.name}: the amounts are in {detected}, the shop's currency is "
            f"{shop}; import it only with --currency {detected} (amounts are kept as they "
            f"are, not converted), or set PATRON_CURRENCY={detected} if the shop sells in it",
            file_currency=detected,
            shop_currency=shop,
        )
    return declared or shop


# ------------------------------------------------------------------------------ preview


@dataclass(frozen=True, slots=True)
class Preview:
    """The top of a file as the import would read it: where its header is, how each column
    would be used, and its first rows."""

    sheet: str | None
    sheets: list[str]
    header_row: int
    headers: list[str]
    columns: dict[str, str]  # field → the file's column
    missing: list[list[str]]  # requirements no column meets
    rows: list[list[str]]
    encoding: str | None
    currency: str | None
    fields: list[str]
    problem: PatronError | None = None  # why the file cannot be imported as it is mapped


def preview(*, path: Path, kind: str, options: ImportOptions, rows: int = 10) -> Preview:
    """What the console shows before an import: nothing is written."""
    facts = inspect_file(path, encoding=options.encoding)
    problem: PatronError | None = None
    try:
        table, cols = open_for(facts, kind=kind, options=options)
        missing: list[list[str]] = []
    except MissingColumns as exc:
        table = open_table(facts, delimiter=options.delimiter, sheet=options.sheet)
        cols = None
        missing = list(exc.facts.get("missing", []))
        problem = exc
    with table:
        first = []
        for _number, cells in table.rows():
            first.append(cells[: len(table.headers)])
            if len(first) >= rows:
                break
        currency = detect_currency(table, cols) if cols is not None else None
        return Preview(
            sheet=table.sheet,
            sheets=table.sheet_names,
            header_row=table.header_row,
            headers=table.headers,
            columns=cols.described() if cols is not None else {},
            missing=missing,
            rows=first,
            encoding=facts.encoding,
            currency=currency,
            fields=list(ALIASES[kind]),
            problem=problem,
        )


def required_fields(kind: str) -> tuple[tuple[str, ...], ...]:
    return REQUIRED[kind]
