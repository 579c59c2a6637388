"""The stream's read-after guarantee under concurrent writers on PostgreSQL (docs/events.md,
"Reading it"): writers do not wait for one another, and a reader is never handed an id
while a lower one may still commit, so a cursor misses nothing."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from patron import events
from patron.core.db import Database

pytestmark = pytest.mark.postgres

WAIT_S = 30  # a bound on waiting for threads, not a measure of speed


def _in_thread(work: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []
    thread = threading.Thread(target=lambda: out.append(work()), daemon=True)
    thread.start()
    return thread, out


def test_a_writer_holding_its_transaction_open_blocks_neither_writers_nor_the_order(
    pg_db: Database,
) -> None:
    db = pg_db
    numbered, release = threading.Event(), threading.Event()

    def slow_writer(session: Session) -> int:
        row = events.publish(session, "tier.changed", event_id="slow")
        numbered.set()
        assert release.wait(WAIT_S)
        return row

    slow, slow_out = _in_thread(lambda: db.write(slow_writer))
    assert numbered.wait(WAIT_S)
    # another writer numbers and commits while the first is still open: no global lock
    fast, fast_out = _in_thread(
        lambda: db.write(lambda s: events.publish(s, "tier.changed", event_id="fast"))
    )
    fast.join(WAIT_S)
    assert not fast.is_alive() and fast_out
    # a reader now waits for the open writer rather than hand out the later id alone
    reader, read_out = _in_thread(lambda: db.read(lambda s: events.read_after(s, 0)))
    reader.join(0.5)
    assert reader.is_alive()
    release.set()
    for thread in (slow, reader):
        thread.join(WAIT_S)
        assert not thread.is_alive()
    (records,) = read_out
    assert [r.event_id for r in records] == ["slow", "fast"]  # type: ignore[attr-defined]
    assert slow_out[0] < fast_out[0]  # type: ignore[operator]


def test_a_cursor_reading_while_many_writers_commit_out_of_order_misses_nothing(
    pg_db: Database,
) -> None:
    db = pg_db
    writers, each = 4, 20
    done = threading.Event()
    committed: list[int] = []
    rolled_back = 0
    lock = threading.Lock()

    def write(n: int) -> None:
        nonlocal rolled_back
        rng = random.Random(n)
        for i in range(each):

            def work(session: Session, i: int = i) -> int:
                row = events.publish(session, "tier.changed", event_id=f"w{n}.{i}")
                time.sleep(rng.random() * 0.02)  # commit out of id order
                if i % 10 == 9:
                    raise RuntimeError("rolled back")  # a gap that never fills
                return row

            try:
                row = db.write(work)
            except RuntimeError:
                with lock:
                    rolled_back += 1
                continue
            with lock:
                committed.append(row)

    seen: list[int] = []

    def read() -> None:
        cursor = 0
        while True:
            finished = done.is_set()
            batch = db.read(lambda s, c=cursor: events.read_after(s, c, limit=50))
            for record in batch:
                assert record.id > cursor
                seen.append(record.id)
                cursor = record.id
            if finished and not batch:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    threads = [threading.Thread(target=write, args=(n,), daemon=True) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S * 2)
        assert not t.is_alive()
    done.set()
    reader.join(WAIT_S)
    assert not reader.is_alive()
    assert rolled_back == writers * (each // 10)
    assert seen == sorted(committed)  # every committed event, once, in id order
