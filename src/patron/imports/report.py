"""The rejects report of a run: one CSV per run, named after it, in the user's language.

UTF-8 with a BOM, so Excel on Chinese Windows opens it right. One line per note: the row as
the spreadsheet numbers it, the file's column, the value, whether the row was rejected or
imported with a warning, and why. Written whole at the end of the run (from the notes the
run kept), so an interrupted and resumed run writes the same report as one that ran through.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path

from patron.core.spreadsheets import safe_row
from patron.imports.messages import REPORT_HEADER, Note, reason, severity, translate


def report_path(path: Path, *, kind: str, run_id: int, folder: Path | None = None) -> Path:
    """``sales.csv`` of run 12 → ``sales.orders-run12.rejects.csv``, next to the input (or in
    ``folder``): each run, and each kind imported from one file, has its own."""
    name = f"{path.stem}.{kind}-run{run_id}.rejects.csv"
    return (folder or path.parent) / name


def write_report(path: Path, notes: Iterable[Note], *, lang: str) -> None:
    """Write the report as the notes come, and put it in place whole (a reader never sees
    half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    with partial.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([translate(lang, title) for title in REPORT_HEADER])
        for note in notes:
            # A value that looks like a formula is written as text: the report is opened
            # in a spreadsheet (docs/architecture.md, Invariants: personal data).
            writer.writerow(
                safe_row(
                    [
                        note.row or "",
                        note.column,
                        note.value,
                        severity(note, lang),
                        reason(note, lang),
                    ]
                )
            )
    os.replace(partial, path)


def read_report(path: Path) -> list[dict[str, str]]:
    """A report as dicts keyed row, column, value, outcome, reason (for tests and the page)."""
    text = path.read_bytes().decode("utf-8-sig")
    records = list(csv.reader(io.StringIO(text)))
    keys = ("row", "column", "value", "outcome", "reason")
    return [dict(zip(keys, r, strict=True)) for r in records[1:]]
