"""CPU of a file import (imports.service.run_import), measured in-process.

Prepares a database as bench/ingest.py does (stores, known customers), writes its CSV of
order lines, then imports it once, printing the process's CPU seconds (user + system, all
threads) and µs per line; ``--profile`` runs it under cProfile and prints the functions
with the most time.

    .venv/bin/python bench/_profile_import.py [--lines 100000] [--url URL] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import Shop, prepare_database, share_keyring


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _time_sections() -> dict[str, float]:
    """Wrap the import's main steps to add up their thread CPU (inclusive of what they call)."""
    import functools
    import importlib
    import inspect

    spent: dict[str, float] = {}
    targets = [
        ("patron.imports.order_rows", "OrderRows", "stage"),
        ("patron.imports.order_rows", "OrderRows", "read"),
        ("patron.imports.staging", "Staging", "add_rows"),
        ("patron.imports.orders", "OrderWriter", "prepare_batch"),
        ("patron.imports.orders", "OrderWriter", "write_prepared"),
        ("patron.orders.intake", None, "_record"),
        ("patron.orders.intake", None, "request_hash"),
        ("patron.orders.intake", None, "request_hashes"),
        ("patron.orders.intake", None, "_existing_orders"),
        ("patron.orders.intake", None, "_insert"),
        ("patron.orders.intake", None, "write_orders"),
        ("patron.orders.intake", None, "insert_rows"),
        ("patron.customers.identity", None, "_write"),
        ("patron.customers.identity", None, "load_owners"),
        ("patron.customers.service", None, "resolve_customers"),
        ("patron.orders.intake", None, "_note_first_purchases"),
        ("patron.events", None, "publish_many"),
        ("patron.imports.staging", "Staging", "record"),
        ("patron.imports.staging", "Staging", "end_bulk"),
        ("patron.imports.staging", "Staging", "_groups"),
        ("patron.imports.runs", None, "checkpoint"),
        ("patron.imports.service", None, "_finish_orders"),
    ]
    for module_name, owner_name, name in targets:
        module = importlib.import_module(module_name)
        owner: Any = getattr(module, owner_name) if owner_name else module
        original = getattr(owner, name, None)
        if original is None:  # a step this version of the code does not have
            continue
        label = f"{owner_name or module_name.rsplit('.', 1)[1]}.{name}"
        spent[label] = 0.0

        def wrapped(*a: Any, __f: Any = original, __label: str = label, **k: Any) -> Any:
            started = time.thread_time()
            try:
                return __f(*a, **k)
            finally:
                spent[__label] += time.thread_time() - started

        def generated(*a: Any, __f: Any = original, __label: str = label, **k: Any) -> Any:
            # A generator's CPU is spent as its items are taken: timed item by item.
            items = __f(*a, **k)
            while True:
                started = time.thread_time()
                try:
                    item = next(items)
                except StopIteration:
                    return
                finally:
                    spent[__label] += time.thread_time() - started
                yield item

        timed = generated if inspect.isgeneratorfunction(original) else wrapped
        setattr(owner, name, functools.wraps(original)(timed))
    return spent


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--lines", type=int, default=100_000)
    p.add_argument("--known-customers", type=int, default=20_000)
    p.add_argument("--url", default=None, help="database URL (default: a fresh SQLite file)")
    p.add_argument("--profile", action="store_true")
    p.add_argument(
        "--sections", action="store_true", help="CPU of the import's main steps (one thread)"
    )
    p.add_argument("--sort", default="tottime")
    p.add_argument("--top", type=int, default=40)
    args = p.parse_args()
    share_keyring()
    from patron.core.db import Database
    from patron.imports.schemas import ImportOptions
    from patron.imports.service import run_import

    with tempfile.TemporaryDirectory(prefix="patron-import-profile-") as tmp:
        root = Path(tmp)
        url = args.url or f"sqlite:///{root / 'patron.db'}"
        shop = Shop(args.known_customers)
        prepare_database(url, shop)
        path = root / "orders.csv"
        shop.write_csv(path, args.lines)
        db = Database(url)
        profiler = None
        timers = _time_sections() if args.sections else None
        if args.profile or args.sections:
            # One thread, so the profiler sees the batches read and checked too; CPU time,
            # not wall time, as the machine is shared.
            from patron.imports import service

            def inline(produce: Any, *, ahead: int = 2) -> Any:
                yield from produce()

            service.prefetched = inline
            if args.profile:
                profiler = cProfile.Profile(time.thread_time)
        cpu, wall = _cpu(), time.perf_counter()
        if profiler:
            profiler.enable()
        summary = run_import(
            db=db,
            kind="orders",
            path=path,
            options=ImportOptions(source="profile-import", report_path=root / "rejects.csv"),
        )
        if profiler:
            profiler.disable()
        cpu, wall = _cpu() - cpu, time.perf_counter() - wall
        db.dispose()
        print(
            f"{summary.rows_read:,} lines, {summary.created:,} orders, "
            f"{summary.rows_rejected:,} rejected, outcome {summary.outcome}; "
            f"CPU {cpu:.2f} s "
            f"= {cpu / summary.rows_read * 1e3 * 1e3:.1f} ms per 1,000 lines, wall {wall:.2f} s"
        )
        if timers is not None:
            for name, spent in timers.items():
                print(
                    f"  {name:<40} {spent:7.2f} s  {spent / summary.rows_read * 1e6:6.1f} µs/line"
                )
        if profiler:
            pstats.Stats(profiler, stream=sys.stdout).sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
