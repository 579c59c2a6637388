"""The parts of an import that keep it fast must not change what it records."""

from __future__ import annotations

import gc
import itertools
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.core import collector
from patron.core.db import Database
from patron.imports.columns import TOTALS_WORDS, normalise_header
from patron.imports.messages import Note
from patron.imports.order_rows import _totals_word
from patron.imports.schemas import ImportOptions
from patron.imports.service import fewer_collections, prefetched, run_import
from patron.imports.staging import ACCEPTED, REJECTED, Staging
from tests.imports.helpers import report_of, write_csv


def _notes(staging: Staging) -> list[tuple[int, str]]:
    return [(n.row, n.code) for n in staging.notes()]


def test_a_batch_written_again_replaces_the_notes_of_its_first_attempt(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    staging = Staging(path)
    staging.record(statuses=[], notes=[Note(7, "store_unknown")], clear_rows=[5, 7])
    staging.record(statuses=[], notes=[Note(5, "order_conflict")], clear_rows=[5, 7])
    assert _notes(staging) == [(5, "order_conflict")]
    staging.close()

    # A run resumed in another process finds the notes of the attempt before the crash.
    again = Staging(path)
    again.record(statuses=[], notes=[], clear_rows=[5])
    assert _notes(again) == []
    again.close(delete=True)


def test_notes_found_reading_stay_when_a_batch_is_written(tmp_path: Path) -> None:
    staging = Staging(tmp_path / "run.sqlite")
    staging.begin_bulk()
    row = (3, "O1", "S", 0, "2024-01-01", "", "A", None, 1000, 100, 100, 0, 0, None, 0, "",
           b"", ACCEPTED, None, 0)  # fmt: skip
    staging.add_rows([row])
    staging.add_notes([Note(4, "quantity_empty")])
    staging.end_bulk({"rows": "2"})
    staging.record(statuses=[(REJECTED, None, 0, 3)], notes=[], clear_rows=[3, 4])
    assert _notes(staging) == [(4, "quantity_empty")]
    assert staging.query("SELECT status FROM rows WHERE row = 3") == [(REJECTED,)]
    staging.close(delete=True)


def test_the_collector_threshold_comes_back_when_the_last_import_ends() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        raised = gc.get_threshold()
        with fewer_collections():  # a second import in the same process
            assert gc.get_threshold() == raised
        assert gc.get_threshold() == raised
    assert raised[0] > before[0]
    assert gc.get_threshold() == before


def test_batches_read_ahead_come_in_order_and_an_error_there_is_raised_here() -> None:
    def produce() -> Iterator[int]:
        yield from range(5)
        raise ValueError("cell")

    taken: list[int] = []
    with pytest.raises(ValueError, match="cell"):
        for n in prefetched(produce):
            taken.append(n)
    assert taken == [0, 1, 2, 3, 4]
    assert not [t for t in threading.enumerate() if t.name == "import-prefetch"]


def test_leaving_the_batches_early_stops_the_thread_reading_ahead() -> None:
    made: list[int] = []

    def produce() -> Iterator[int]:
        for n in itertools.count():
            made.append(n)
            yield n

    with closing(prefetched(produce, ahead=2)) as ahead:
        assert next(ahead) == 0
    assert not [t for t in threading.enumerate() if t.name == "import-prefetch"]
    assert len(made) <= 5  # the one taken, two waiting, one held when it stopped


def test_the_heap_is_frozen_while_an_import_runs_and_given_back_after(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A process that is not serving (a CLI import), whatever tests ran before in this one.
    monkeypatch.setitem(collector._PROCESS, "settled_for_good", False)
    gc.unfreeze()
    header = ["订单号", "商品编码", "数量", "单价", "下单时间"]
    rows = [[f"F{n}", "A", "1", "5.00", f"2024-01-05 10:0{n}"] for n in range(3)]
    frozen: list[int] = []
    before = gc.get_freeze_count()

    summary = run_import(
        db=db,
        kind="orders",
        path=write_csv(tmp_path / "f.csv", header, rows),
        options=ImportOptions(batch_rows=1, lang="en"),
        after_batch=lambda _done: frozen.append(gc.get_freeze_count()),
    )

    assert summary.rows_accepted == 3
    assert frozen and all(n > before for n in frozen)
    assert gc.get_freeze_count() == before


@given(st.text(alphabet="合计总小汇0123456789１２Tt-_ :：otalsubgrand", max_size=12))
def test_a_totals_word_is_found_as_folding_the_text_finds_it(text: str) -> None:
    assert _totals_word(text) == (normalise_header(text) in TOTALS_WORDS)


def test_an_amount_repeated_on_many_lines_is_read_once_and_a_flawed_one_rejects_each_line(
    db: Database, tmp_path: Path
) -> None:
    header = ["订单号", "商品编码", "数量", "单价", "金额", "优惠", "下单时间"]
    rows = [
        ["A1", "X", "2", "5.00", "9.00", "1.00", "2024-01-05 10:00"],
        ["A2", "X", "2", "5.00", "9.00", "1.00", "2024-01-05 10:01"],
        ["A2", "Y", "1", "3.00", "十二元", "", "2024-01-05 10:01"],
        ["A3", "Y", "1", "3.00", "十二元", "", "2024-01-05 10:02"],
        ["A3", "Z", "1", "4.00", "4.00", "1,000.00", "2024-01-05 10:02"],
    ]

    summary = run_import(
        db=db,
        kind="orders",
        path=write_csv(tmp_path / "amounts.csv", header, rows),
        options=ImportOptions(lang="en"),
    )

    assert (summary.rows_accepted, summary.rows_rejected) == (2, 3)
    assert [(r["row"], r["column"], r["value"]) for r in report_of(summary)] == [
        ("4", "金额", "十二元"),
        ("5", "金额", "十二元"),
        ("6", "优惠", "1000.00"),
    ]
    assert summary.reconciliation is not None and summary.reconciliation.balanced
