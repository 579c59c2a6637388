"""Where a bulk post (POST /api/v1/orders/bulk) spends its time, in-process.

The ASGI app is called directly on one thread (as bench/_profile_ingest.py does), on SQLite
or on PostgreSQL (a schema of ``PATRON_BENCH_PG_DB``). Prints the process's CPU per call
and, on PostgreSQL, the backends'; ``--statements`` the statements each call sends (count,
client-side wall time, by their first words); ``--profile`` cProfile's top functions.

    .venv/bin/python bench/_profile_bulk.py [--pg] [--calls 10] [--size 1000] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from _common import PG_DB, Shop, cpu_of, postgres_schema, prepare_database, share_keyring
from _profile_ingest import _Asgi, _inline_threadpool

_SPENT: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])


def _backend_ns(conn: Any) -> int:
    """CPU time the connection's backend ran so far, in ns (Linux schedstat; 0 elsewhere)."""
    try:
        with open(f"/proc/{conn.info.backend_pid}/schedstat") as f:
            return int(f.read().split()[0])
    except OSError:
        return 0


def _key(sql: Any) -> str:
    text = sql if isinstance(sql, str) else getattr(sql, "as_string", lambda _c: str(sql))(None)
    return " ".join(str(text).split())[:90]


def _trace_statements() -> None:
    """Count and time every statement psycopg and sqlite3 send (client side)."""
    import psycopg

    def wrap(cls: Any, name: str) -> None:
        original = getattr(cls, name)

        def traced(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            started, ran = time.perf_counter(), _backend_ns(self.connection)
            try:
                result = original(self, query, *args, **kwargs)
            finally:
                entry = _SPENT[f"{name} {_key(query)}"]
                entry[0] += 1
                entry[1] += time.perf_counter() - started
                entry[2] += (_backend_ns(self.connection) - ran) / 1e9
            return result

        setattr(cls, name, traced)

    wrap(psycopg.Cursor, "execute")
    wrap(psycopg.Cursor, "executemany")
    original_copy = psycopg.Cursor.copy

    @contextlib.contextmanager
    def copy(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        started, ran = time.perf_counter(), _backend_ns(self.connection)
        try:
            with original_copy(self, statement, *args, **kwargs) as c:
                yield c
        finally:
            entry = _SPENT[f"copy {_key(statement)}"]
            entry[0] += 1
            entry[1] += time.perf_counter() - started
            entry[2] += (_backend_ns(self.connection) - ran) / 1e9

    psycopg.Cursor.copy = copy  # type: ignore[method-assign]
    original_commit = psycopg.Connection.commit

    def commit(self: Any) -> None:
        started, ran = time.perf_counter(), _backend_ns(self)
        try:
            original_commit(self)
        finally:
            entry = _SPENT["COMMIT"]
            entry[0] += 1
            entry[1] += time.perf_counter() - started
            entry[2] += (_backend_ns(self) - ran) / 1e9

    psycopg.Connection.commit = commit  # type: ignore[method-assign]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--pg", action="store_true", help="PostgreSQL (else SQLite)")
    p.add_argument("--calls", type=int, default=10)
    p.add_argument("--size", type=int, default=1000)
    p.add_argument("--known-customers", type=int, default=20_000)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--statements", action="store_true")
    args = p.parse_args()
    share_keyring()
    with tempfile.TemporaryDirectory(prefix="patron-bulk-") as tmp:
        ctx: Any = (
            postgres_schema("patron_bulk_profile")
            if args.pg
            else contextlib.nullcontext(f"sqlite:///{Path(tmp) / 'p.db'}")
        )
        with ctx as url:
            run(url, args)
    return 0


def _backends() -> list[int]:
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={PG_DB}") as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(r[0]) for r in rows]


def run(url: str, args: argparse.Namespace) -> None:
    from patron.core.db import Database
    from patron.web.app import create_app

    shop = Shop(args.known_customers)
    prepare_database(url, shop)
    db = Database(url)
    _inline_threadpool()
    asgi = _Asgi(create_app(db))

    def body(tag: str) -> bytes:
        orders = [shop.order(f"{tag}-{i:05d}") for i in range(args.size)]
        return orjson.dumps({"orders": orders})

    status, answer = asgi.post("/api/v1/orders/bulk", body("BW"))
    assert status == 200, answer[:300]
    bodies = [body(f"B{n:03d}") for n in range(args.calls)]
    if args.statements:
        _trace_statements()
        _SPENT.clear()
    pg = url.startswith("postgresql")
    backends = _backends() if pg else []
    cpu0, db0, wall0 = time.process_time(), cpu_of(backends), time.perf_counter()
    prof = cProfile.Profile(time.process_time) if args.profile else None  # CPU, not waits
    for b in bodies:
        if prof is not None:
            prof.enable()
        status, answer = asgi.post("/api/v1/orders/bulk", b)
        if prof is not None:
            prof.disable()
        assert status == 200 and orjson.loads(answer)["created"] == args.size, answer[:300]
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    backends += [p for p in _backends() if p not in backends]
    dbcpu = cpu_of(backends) - db0
    n = args.calls
    print(
        f"{'PostgreSQL' if pg else 'SQLite'}: {n} calls × {args.size}: process CPU "
        f"{cpu / n * 1000:.0f} ms/call, backends {dbcpu / n * 1000:.0f} ms/call, "
        f"wall {wall / n * 1000:.0f} ms/call"
    )
    if args.statements:
        print("statements per call (count, client wall ms, backend CPU ms):")
        for key, (count, spent, ran) in sorted(_SPENT.items(), key=lambda kv: -kv[1][2]):
            print(f"  {count / n:7.1f} {spent / n * 1000:8.1f} {ran / n * 1000:8.1f}  {key}")
    if prof is not None:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(45)
        print(out.getvalue())
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumtime").print_stats(70)
        print(out.getvalue())
    db.dispose()


if __name__ == "__main__":
    sys.exit(main())
