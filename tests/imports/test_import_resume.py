"""An interrupted import resumes after its checkpoint and ends where an uninterrupted one does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.db import Database
from patron.imports.models import ImportRun, ImportStatus
from patron.imports.schemas import ImportOptions
from patron.imports.service import BatchDone, run_import
from tests.imports.helpers import UCI_HEADER, import_file, read_report, snapshot, write_csv


class Interrupted(Exception):
    """Stands for a crash or Ctrl-C after a batch has committed."""


def _sales_rows() -> list[list[str]]:
    """Forty orders of one to three lines, some bad, some anonymous; cancellations, some of
    a sale in the file, some without one."""
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
    rows += [
        [f"C70001{n}", f"SKU{n % 3}", "thing", "-1", f"3/{5 + n}/2011 9:00", "1.25", "12003", "UK"]
        for n in range(4)
    ]
    return rows


def _runs(db: Database) -> list[ImportRun]:
    return db.read(lambda s: list(s.scalars(select(ImportRun).order_by(ImportRun.id))))


@pytest.mark.parametrize("stage", ["sales", "returns"])
def test_interrupted_import_resumes_and_ends_like_an_uninterrupted_one(
    db: Database, reference_db: Database, tmp_path: Path, stage: str
) -> None:
    rows = _sales_rows()
    rows = rows[::-1]  # an export sorted some other way: orders' rows apart, returns first
    path = write_csv(tmp_path / "sales.csv", UCI_HEADER, rows)
    reference_dir = tmp_path / "reference"
    reference_path = shutil.copy(path, reference_dir / "sales.csv")
    reference = import_file(reference_db, "orders", Path(reference_path), batch_rows=10)
    batches: list[BatchDone] = []

    def crash(done: BatchDone) -> None:
        if done.stage == stage:
            batches.append(done)
            if len(batches) == (3 if stage == "sales" else 1):
                raise Interrupted

    options = ImportOptions(batch_rows=10, lang="en")
    with pytest.raises(Interrupted):
        run_import(db=db, kind="orders", path=path, options=options, after_batch=crash)

    (run,) = _runs(db)
    assert run.status == ImportStatus.FAILED
    assert (run.stage, run.checkpoint_row) == (stage, batches[-1].checkpoint)

    resumed = run_import(db=db, kind="orders", path=path, options=options)

    assert resumed.run_id == run.id
    assert resumed.resumed_after_row == run.checkpoint_row
    for field in (
        "rows_read",
        "rows_accepted",
        "rows_rejected",
        "duplicates",
        "refunds",
        "returns_without_sale",
        "anonymous",
        "created",
    ):
        assert getattr(resumed, field) == getattr(reference, field), field
    assert resumed.duplicates == 0
    assert resumed.reconciliation is not None and resumed.reconciliation.balanced
    assert snapshot(db) == snapshot(reference_db)
    assert read_report(tmp_path / "sales.orders-run1.rejects.csv") == read_report(
        reference_dir / "sales.orders-run1.rejects.csv"
    )


def test_a_kill_while_the_file_is_read_reads_it_again_from_the_top(
    db: Database, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "sales.csv", UCI_HEADER, _sales_rows())
    seen: list[str] = []

    def kill_while_reading(*, stage: str, done: int, total: int, unit: str, rows: int) -> None:
        seen.append(stage)
        if stage == "reading" and done == total:
            raise Interrupted

    options = ImportOptions(batch_rows=10, lang="en")
    with pytest.raises(Interrupted):
        run_import(db=db, kind="orders", path=path, options=options, progress=kill_while_reading)
    assert "sales" not in seen

    summary = run_import(db=db, kind="orders", path=path, options=options)

    assert summary.rows_read == len(_sales_rows())
    assert summary.reconciliation is not None and summary.reconciliation.balanced
    assert len(read_report(tmp_path / "sales.orders-run1.rejects.csv")) == 1  # row 41, "x"


def test_each_reject_is_reported_once_however_often_the_run_was_interrupted(
    db: Database, tmp_path: Path
) -> None:
    header = ["订单号", "商品编码", "数量", "单价", "下单时间"]
    rows = [[f"O{n}", "A", "1" if n % 2 else "bad", "1", "2024-01-01"] for n in range(6)]
    path = write_csv(tmp_path / "s.csv", header, rows)
    options = ImportOptions(batch_rows=1, lang="en")
    for crash_at in (1, 2):

        def crash(done: BatchDone, crash_at: int = crash_at) -> None:
            if done.checkpoint == crash_at:
                raise Interrupted

        with pytest.raises(Interrupted):
            run_import(db=db, kind="orders", path=path, options=options, after_batch=crash)

    summary = run_import(db=db, kind="orders", path=path, options=options)

    assert summary.rows_rejected == 3
    assert [r["row"] for r in read_report(tmp_path / "s.orders-run1.rejects.csv")] == [
        "2",
        "4",
        "6",
    ]


def test_customers_resume_after_their_last_committed_row(db: Database, tmp_path: Path) -> None:
    rows = [[f"1380013{n:04d}", f"客户{n}"] for n in range(25)] + [["123", "坏号码"]]
    path = write_csv(tmp_path / "m.csv", ["手机号", "姓名"], rows)
    options = ImportOptions(batch_rows=10, lang="en")

    def crash(done: BatchDone) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        run_import(db=db, kind="customers", path=path, options=options, after_batch=crash)
    summary = run_import(db=db, kind="customers", path=path, options=options)

    assert (summary.rows_read, summary.rows_accepted, summary.rows_rejected) == (26, 25, 1)
    assert summary.resumed_after_row == 12  # the first batch ended on row 11


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


def test_a_file_completed_by_an_older_patron_is_still_recognised(
    db: Database, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "s.csv", UCI_HEADER, _sales_rows())
    first = import_file(db, "orders", path)

    def forget_summary(session: Session) -> None:
        run = session.get(ImportRun, first.run_id)
        assert run is not None
        run.outcome = None  # as a run finished before summaries were kept

    db.write(forget_summary)
    again = import_file(db, "orders", path)

    assert again.outcome == "already_imported" and again.run_id == first.run_id
    assert again.rows_read == first.rows_read


def test_two_databases_sharing_a_data_directory_keep_their_interrupted_runs_apart(
    db: Database, reference_db: Database, tmp_path: Path
) -> None:
    # Each database numbers its first run 1, and both keep their staging areas in the one
    # data directory the tests set: a run of one must not read, empty or delete the
    # staging area of the other's interrupted run.
    path = write_csv(tmp_path / "sales.csv", UCI_HEADER, _sales_rows())
    other_rows = [["9" + r[0][1:] if r[0][0] == "6" else "C9" + r[0][2:], *r[1:]]
                  for r in _sales_rows()]  # fmt: skip
    other = write_csv(tmp_path / "other.csv", UCI_HEADER, other_rows)
    options = ImportOptions(batch_rows=10, lang="en")

    def crash(done: BatchDone) -> None:
        if done.stage == "sales":
            raise Interrupted

    with pytest.raises(Interrupted):
        run_import(db=db, kind="orders", path=path, options=options, after_batch=crash)
    (interrupted,) = _runs(db)
    assert (interrupted.id, interrupted.stage) == (1, "sales")
    with pytest.raises(Interrupted):
        run_import(db=reference_db, kind="orders", path=other, options=options, after_batch=crash)
    assert [r.id for r in _runs(reference_db)] == [1]
    finished = run_import(db=reference_db, kind="orders", path=other, options=options)
    assert finished.rows_this_session == 0 and finished.duplicates == 0

    resumed = run_import(db=db, kind="orders", path=path, options=options)

    assert resumed.run_id == interrupted.id
    assert resumed.rows_this_session == 0  # its staging area was found as it was left
    assert resumed.duplicates == 0
    for summary in (resumed, finished):
        assert summary.reconciliation is not None and summary.reconciliation.balanced
        assert (summary.rows_read, summary.rows_rejected) == (len(_sales_rows()), 1)
    assert resumed.created == finished.created
