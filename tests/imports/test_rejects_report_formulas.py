"""The rejects report is opened in Excel: what a file held is written back as text, never as
a formula."""

from __future__ import annotations

from pathlib import Path

from patron.core.db import Database
from tests.imports.helpers import import_file, report_of, write_csv


def test_a_rejected_value_that_looks_like_a_formula_is_written_as_text(
    db: Database, tmp_path: Path
) -> None:
    attack = '=HYPERLINK("http://evil.example/","点此")'
    members = write_csv(
        tmp_path / "m.csv", ["手机号", "姓名"], [[attack, "王小明"], ["+86 1", "李雷"]]
    )
    summary = import_file(db, "customers", members)
    assert summary.rows_rejected == 2
    values = [r["value"] for r in report_of(summary)]
    assert values == ["'" + attack, "'+86 1"]
