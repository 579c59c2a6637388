"""Concurrent order posts on PostgreSQL with the event stream's former global lock (one
advisory lock, exclusive, held by every event-writing transaction to its commit) and with
the present one (writers share it; a reader takes it for an instant and reads up to the
watermark: docs/events.md, "Reading it").

Each order records its sale and publishes ``order.created`` in one transaction, as the
till's post does; T threads post through the orders service, each on its own connection.
Figures are printed, never asserted; the load average beside them says how busy the
shared machine was.

Run:  PATRON_BENCH_PG_DB=<database> .venv/bin/python bench/event_lock.py [--threads 8]
      [--orders 60] [--hold-ms 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import Shop, postgres_reachable, postgres_schema, prepare_database, share_keyring


def _exclusive(session: Any) -> None:
    """The former lock: one writer at a time from its first event to its commit."""
    from sqlalchemy import text

    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('patron.event'))"))


_rounds = iter(range(10**6))


def _round(url: str, shop: Shop, mode: str, threads: int, per: int, hold_ms: float) -> None:
    n = next(_rounds)
    from patron.core.db import Database
    from patron.events import service as events_service
    from patron.orders import service as orders
    from patron.orders.schemas import OrderIn

    present = events_service._lock_stream
    if mode == "exclusive":
        events_service._lock_stream = _exclusive
    db = Database(url)
    bodies = [
        [OrderIn.model_validate(shop.order(f"{mode}-{hold_ms}-{n}-{t}-{i}")) for i in range(per)]
        for t in range(threads)
    ]
    latencies: list[float] = []
    lock = threading.Lock()

    def post(order_in: OrderIn, session: Any) -> None:
        orders.record_order(session=session, order_in=order_in)
        if hold_ms:
            time.sleep(hold_ms / 1000)  # work after the event, before the commit

    def worker(mine: list[OrderIn]) -> None:
        for order_in in mine:
            tick = time.perf_counter()
            db.write(lambda s, o=order_in: post(o, s))
            with lock:
                latencies.append(time.perf_counter() - tick)

    try:
        db.write(lambda s: orders.record_order(session=s, order_in=bodies[0][0]))  # warm
        started = time.perf_counter()
        pool = [threading.Thread(target=worker, args=(b[1:],)) for b in bodies]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        elapsed = time.perf_counter() - started
    finally:
        events_service._lock_stream = present
        db.dispose()
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(
        f"  {mode:>9} lock, {threads} writers, hold {hold_ms:g} ms: "
        f"{len(latencies) / elapsed:7.1f} orders/s, median {statistics.median(latencies) * 1000:6.1f}"
        f" ms, p95 {p95 * 1000:6.1f} ms (load {os.getloadavg()[0]:.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--orders", type=int, default=60, help="per thread")
    parser.add_argument("--hold-ms", type=float, nargs="+", default=[0.0, 20.0])
    args = parser.parse_args()
    if not postgres_reachable():
        sys.exit("PostgreSQL is not reachable (PATRON_BENCH_PG_DB names the database)")
    share_keyring()
    print(f"event lock bench (PostgreSQL), {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    shop = Shop(known_customers=2_000)
    with postgres_schema("patron_bench_event_lock") as url:
        prepare_database(url, shop)
        for hold in args.hold_ms:
            for mode in ("exclusive", "shared", "exclusive", "shared"):
                _round(url, shop, mode, args.threads, args.orders, hold)


if __name__ == "__main__":
    main()
