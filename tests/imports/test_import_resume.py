"""An interrupted import resumes after its checkpoint and ends where an uninterrupted one does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from patron.core.db import Database
from patron.imports.models import ImportRun, ImportStatus
from patron.imports.schemas import ImportOptions
from patron.imports.service import BatchDone, run_import
from tests.imports.helpers import UCI_HEADER, import_file, read_report, snapshot, write_csv


class Interrupted(Exception):
    """Stands for a crash or Ctrl-C after a batch has committed."""


def _sales_rows() -> list[list[str]]:
    """Forty orders of one to three lines, some bad, some anonymous, two cancellations."""
    rows: list[list[str]] = []
    for n in range(40):
        invoice = str(600000 + n)
        customer = "" if n % 7 == 0 else str(12000 + n % 5)
        for k in range(1 + n % 3):
            quantity = "x" if (n, k) == (13, 1) else str(k + 1)
            day = 1 + n // 10
            rows.append(
                [invoice, f"SKU{k}", "thing", quantity, f"3/{day}/2011 10:{n:02d}", "1.25", customer, "UK"]
            )  # fmt: skip
    rows.append(["C700001", "SKU0", "thing", "-1", "3/9/2011 10:00", "1.25", "12001", "UK"])
    rows.append(["C700002", "SKU9", "thing", "-1", "3/9/2011 10:00", "1.25", "12002", "UK"])
    return rows


def _runs(db: Database) -> list[ImportRun]:
    return db.read(lambda s: list(s.scalars(select(ImportRun).order_by(ImportRun.id))))


def test_interrupted_import_resumes_and_ends_like_an_uninterrupted_one(
    db: Database, reference_db: Database, tmp_path: Path
) -> None:
    rows = _sales_rows()
    path = write_csv(tmp_path / "sales.csv", UCI_HEADER, rows)
    reference_dir = tmp_path / "reference"
    reference_path = shutil.copy(path, reference_dir / "sales.csv")
    reference = import_file(reference_db, "orders", Path(reference_path), batch_rows=10)
    batches: list[BatchDone] = []

    def crash_after_third(done: BatchDone) -> None:
        batches.append(done)
        if len(batches) == 3:
            raise Interrupted

    options = ImportOptions(batch_rows=10)
    with pytest.raises(Interrupted):
        run_import(db=db, kind="orders", path=path, options=options, after_batch=crash_after_third)

    (run,) = _runs(db)
    assert run.status == ImportStatus.FAILED
    assert run.checkpoint_row == batches[-1].checkpoint_row > 0
    assert run.rows_read == batches[-1].rows_read

    resumed = run_import(db=db, kind="orders", path=path, options=options)

    assert resumed.run_id == run.id
    assert resumed.resumed_after_row == run.checkpoint_row + 1
    assert resumed.rows_this_session == len(rows) - run.rows_read
    for field in (
        "rows_read",
        "rows_accepted",
        "rows_rejected",
        "duplicates",
        "refunds",
        "anonymous",
    ):
        assert getattr(resumed, field) == getattr(reference, field), field
    assert resumed.duplicates == 0
    assert snapshot(db) == snapshot(reference_db)
    assert read_report(tmp_path / "sales.rejects.csv") == read_report(
        reference_dir / "sales.rejects.csv"
    )


def test_report_lines_of_an_uncommitted_batch_are_dropped_on_resume(
    db: Database, tmp_path: Path
) -> None:
    header = ["订单号", "商品编码", "数量", "单价", "下单时间"]
    rows = [[f"O{n}", "A", "1" if n % 2 else "bad", "1", "2024-01-01"] for n in range(6)]
    path = write_csv(tmp_path / "s.csv", header, rows)
    report = tmp_path / "s.rejects.csv"

    def crash(done: BatchDone) -> None:
        # The second batch's rejects are on disk as if the process died before its commit.
        with report.open("ab") as f:
            f.write("4,数量,bad,left over\r\n".encode())
        raise Interrupted

    with pytest.raises(Interrupted):
        import_file_with_hook(db, path, crash)
    summary = import_file(db, "orders", path, batch_rows=2)

    assert summary.rows_rejected == 3
    assert [r["row"] for r in read_report(report)] == ["2", "4", "6"]


def import_file_with_hook(db: Database, path: Path, hook: object) -> None:
    run_import(
        db=db,
        kind="orders",
        path=path,
        options=ImportOptions(batch_rows=2),
        after_batch=hook,  # type: ignore[arg-type]
    )


def test_batches_end_only_between_orders(db: Database, tmp_path: Path) -> None:
    header = ["订单号", "商品编码", "数量", "单价", "下单时间"]
    rows = [[f"O{n}", f"S{k}", "1", "1", "2024-01-01"] for n in range(5) for k in range(n + 1)]
    path = write_csv(tmp_path / "s.csv", header, rows)
    last_row_of_order = {}
    for data_row, row in enumerate(rows, start=1):
        last_row_of_order[row[0]] = data_row
    checkpoints: list[int] = []

    run_import(
        db=db,
        kind="orders",
        path=path,
        options=ImportOptions(batch_rows=2),
        after_batch=lambda done: checkpoints.append(done.checkpoint_row),
    )

    assert checkpoints
    assert set(checkpoints) <= set(last_row_of_order.values())
    assert checkpoints[-1] == len(rows)


def test_a_completed_run_is_reported_not_repeated(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", UCI_HEADER, _sales_rows())
    first = import_file(db, "orders", path, batch_rows=7)

    again = import_file(db, "orders", path)

    assert again.outcome == "already_imported"
    assert (again.rows_read, again.rows_accepted, again.rows_rejected) == (
        first.rows_read,
        first.rows_accepted,
        first.rows_rejected,
    )
    (run,) = _runs(db)
    assert run.status == ImportStatus.COMPLETED and run.finished_at is not None
