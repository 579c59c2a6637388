"""Soak: mixed till traffic at 200 requests/s on PostgreSQL against ``patron serve --workers 2``
while a nightly run and an order import happen. Not in CI.

Targets (docs/operations.md, "Soak"): p99 ≤ 50 ms, no errors, nothing lost. Figures are
printed, never asserted; "lost" is the one check that must read 0. Refusals (4xx: a quote
asking for more points than the basket allows, as in bench/pos.py's mix) are counted apart
from errors (5xx, or no answer).

How it runs:

1. A fresh PostgreSQL schema (``patron_bench_soak``) filled through the services as
   bench/pos.py does (10 stores, ``--members`` members, 2,000 by default, with points and
   coupons, member offers, early access, gifts, one till key per store), then ``--history-lines`` order lines imported from
   a CSV, so the nightly run has a shop's history to work through.
2. A real server: ``patron serve --workers 2`` (two uvicorn worker processes on one port),
   its own nightly schedule off, as a chain runs it with cron.
3. Open-loop load for ``--minutes``: a request every 1/200 s, whatever the server's pace,
   over 32 keep-alive connections; latency runs from the scheduled send time to the last
   byte of the answer. The mix: 40 % member look-ups, 30 % basket quotes, 30 % order posts
   (new orders, 1–6 lines, most with a member), each from the till of its store.
4. A quarter of the way in, ``patron nightly`` starts (as cron would: the whole nightly job,
   under the leader lock); half-way, ``patron import orders`` reads ``--import-lines`` lines.
5. Afterwards: every order post answered 2xx is in the database (counted by its source),
   the import's orders are all there, and the nightly run is recorded once, done.

Run:  .venv/bin/python bench/soak.py                 (30 minutes)
      .venv/bin/python bench/soak.py --minutes 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pos
from _common import (
    CST,
    PAYMENTS,
    Shop,
    free_port,
    postgres_reachable,
    postgres_schema,
    share_keyring,
    stop_server,
)
from _loadgen import _read_response
from rich.console import Console
from rich.table import Table

# A log file is not a terminal: wide enough that the table is not wrapped there either.
console = Console() if sys.stdout.isatty() else Console(width=132)
SCHEMA = "patron_bench_soak"
RATE = 200
CONNECTIONS = 32
TARGET_P99_MS = 50.0
MIX = (("look-up", 0.4), ("quote", 0.3), ("order", 0.3))
SOURCE = "soak-till"


@dataclass
class Sample:
    call: str
    at_s: float  # scheduled send, from the start of the run
    ms: float
    status: int  # 0: no answer (connection error)


@dataclass
class Side:
    """A command run beside the load (the nightly job, the import)."""

    name: str
    command: list[str]
    start_s: float
    started_s: float | None = None
    ended_s: float | None = None
    returncode: int | None = None
    output: str = ""
    cpu_s: float | None = None  # user + system CPU of the command's process


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    wall_s: float = 0.0
    loads: list[tuple[str, tuple[float, float, float]]] = field(default_factory=list)
    server_cpu_s: float | None = None  # both workers and their parent, during the run
    client_cpu_s: float = 0.0  # this process: the load generator (the rest here sleeps)


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def session_cpu_s(sid: int) -> float | None:
    """User + system CPU of the live processes of session ``sid`` (the server started in a
    session of its own: its parent and workers), from /proc; None where there is no /proc."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    ticks = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # stat's 6th field, the session, 4th after the name
            ticks += int(fields[11]) + int(fields[12])
    return ticks / _TICK


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


# ------------------------------------------------------------------------------ traffic


class Tills:
    """The requests: look-ups and quotes as bench/pos.py sends them, and new orders."""

    def __init__(self, port: int, keys: dict[str, str]) -> None:
        self.port, self.keys = port, keys
        self.rng = random.Random(23)
        self.catalogue = pos.products()
        self.orders = 0
        self.started = datetime.now(UTC)

    def next(self) -> tuple[str, bytes]:
        draw, call = self.rng.random(), MIX[-1][0]
        for name, share in MIX:
            if draw < share:
                call = name
                break
            draw -= share
        n = self.rng.randrange(pos.MEMBERS)
        store, key = pos.store(n), self.keys[pos.store(n)]
        if call == "look-up":
            return call, pos.get(self.port, f"/api/v1/loyalty/lookup?phone={pos.phone(n)}", key)
        lines = [
            {"sku": sku, "quantity": self.rng.randint(1, 3), "unit_price_fen": price}
            for sku, _, price in self.rng.sample(self.catalogue, self.rng.randint(1, 6))
        ]
        if call == "quote":
            body: dict[str, Any] = {
                "member": {"phone": pos.phone(n)},
                "store_code": store,
                "lines": lines,
                "redeem_points": self.rng.choice((0, 100, 500)),
            }
            return call, pos.post(self.port, "/api/v1/loyalty/quote", body, key)
        self.orders += 1
        at = self.started + timedelta(milliseconds=self.orders)
        body = {
            "source": SOURCE,
            "external_id": f"T{self.orders:09d}",
            "store_code": store,
            "ordered_at": at.astimezone(CST).isoformat(),
            "payment_method": self.rng.choice(PAYMENTS),
            "lines": [{**line, "name": line["sku"]} for line in lines],
        }
        if self.rng.random() < 0.85:
            body["customer"] = {"phone": pos.phone(n)}
        return call, pos.post(self.port, "/api/v1/orders", body, key)


async def load(tills: Tills, seconds: float, run: Run) -> None:
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(CONNECTIONS):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", tills.port))
    clock = time.perf_counter
    loop = asyncio.get_running_loop()

    async def one(call: str, payload: bytes, due: float, at_s: float) -> None:
        reader, writer = await pool.get()
        status = 0
        try:
            writer.write(payload)
            status, _ = await _read_response(reader)
        except (OSError, asyncio.IncompleteReadError, RuntimeError):
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", tills.port)
        finally:
            run.samples.append(Sample(call, at_s, (clock() - due) * 1000, status))
            pool.put_nowait((reader, writer))

    t0 = clock() + 0.05
    count = int(seconds * RATE)
    tasks: set[asyncio.Task[None]] = set()
    for i in range(count):
        call, payload = tills.next()
        due = t0 + i / RATE
        delay = due - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        task = loop.create_task(one(call, payload, due, i / RATE))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    run.wall_s = clock() - t0
    while not pool.empty():
        pool.get_nowait()[1].close()


def run_loop(work: Coroutine[Any, Any, None]) -> None:
    """The load on uvloop where it is installed (uvicorn[standard] brings it): less of the
    generator's own CPU and scheduling jitter in the latencies it measures."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        asyncio.run(work)
    else:
        uvloop.run(work)


def side_runner(sides: list[Side], env: dict[str, str], cwd: Path, t0: float) -> threading.Thread:
    def go() -> None:
        for side in sorted(sides, key=lambda s: s.start_s):
            wait = t0 + side.start_s - time.monotonic()
            if wait > 0:
                time.sleep(wait)

            def one(side: Side = side) -> None:
                side.started_s = time.monotonic() - t0
                with tempfile.TemporaryFile() as out:
                    proc = subprocess.Popen(
                        side.command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
                    )
                    _, status, usage = os.wait4(proc.pid, 0)
                    proc.returncode = os.waitstatus_to_exitcode(status)
                    side.ended_s = time.monotonic() - t0
                    side.returncode = proc.returncode
                    side.cpu_s = usage.ru_utime + usage.ru_stime
                    out.seek(0)
                    side.output = out.read().decode(errors="replace")[-2000:]

            threading.Thread(target=one, daemon=True, name=side.name).start()

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread


# ------------------------------------------------------------------------------ checks


def counts(url: str, import_source: str) -> dict[str, int]:
    from sqlalchemy import text

    from patron.core.db import Database

    db = Database(url)
    try:
        with db.engine.connect() as conn:
            till = conn.execute(
                text("SELECT count(*) FROM orders WHERE source = :s"), {"s": SOURCE}
            ).scalar_one()
            imported = conn.execute(
                text("SELECT count(*) FROM orders WHERE source = :s"), {"s": import_source}
            ).scalar_one()
            nightly = conn.execute(
                text(
                    "SELECT count(*) FROM scheduled_run WHERE job = 'nightly' AND outcome = 'done'"
                )
            ).scalar_one()
    finally:
        db.dispose()
    return {"till": int(till), "imported": int(imported), "nightly": int(nightly)}


def import_history(url: str, tmp: Path, lines: int) -> int:
    from patron.core.db import Database
    from patron.imports.schemas import ImportOptions
    from patron.imports.service import run_import

    path = tmp / "history.csv"
    Shop(known_customers=pos.MEMBERS, seed=3).write_csv(path, lines)
    db = Database(url)
    try:
        summary = run_import(
            db=db, kind="orders", path=path, options=ImportOptions(source="soak-history")
        )
    finally:
        db.dispose()
    return summary.created


# ------------------------------------------------------------------------------ report


def report(run: Run, sides: list[Side], found: dict[str, int], expected: dict[str, int]) -> None:
    out = Table(title=f"Soak at {RATE} requests/s, 2 workers, PostgreSQL; target p99 ≤ 50 ms")
    for name in (
        "calls", "requests", "achieved/s", "p50 ms", "p99 ms", "max ms", "refused (4xx)",
        "errors (5xx, no answer)",
    ):  # fmt: skip
        out.add_column(name, justify="left" if name == "calls" else "right")

    def row(label: str, samples: list[Sample], seconds: float) -> None:
        if not samples:
            return
        ms = [s.ms for s in samples]
        refused = sum(1 for s in samples if 400 <= s.status < 500)
        errors = sum(1 for s in samples if s.status >= 500 or s.status == 0)
        p99 = pct(ms, 99)
        colour = "green" if p99 <= TARGET_P99_MS else "red"
        out.add_row(
            label, f"{len(samples):,}", f"{len(samples) / seconds:.0f}", f"{pct(ms, 50):.1f}",
            f"[{colour}]{p99:.1f}[/]", f"{max(ms):.1f}", f"{refused:,}", f"{errors:,}",
        )  # fmt: skip

    row("all", run.samples, run.wall_s)
    for call, _ in MIX:
        row(call, [s for s in run.samples if s.call == call], run.wall_s)
    for side in sides:
        if side.started_s is None:
            continue
        end = side.ended_s if side.ended_s is not None else run.wall_s
        during = [s for s in run.samples if side.started_s <= s.at_s <= end]
        row(f"while {side.name} ran", during, max(end - side.started_s, 1e-9))
    quiet = [
        s
        for s in run.samples
        if not any(
            x.started_s is not None and x.started_s <= s.at_s <= (x.ended_s or run.wall_s)
            for x in sides
        )
    ]
    row("with neither", quiet, run.wall_s)
    console.print(out)
    statuses = Counter(s.status for s in run.samples)
    console.print(f"statuses: {dict(sorted(statuses.items()))}")
    for side in sides:
        took = (
            f"{side.ended_s - side.started_s:.1f} s"
            if side.ended_s is not None and side.started_s is not None
            else "not finished"
        )
        cpu = f", {side.cpu_s:.1f} s CPU" if side.cpu_s is not None else ""
        console.print(f"{side.name}: exit {side.returncode}, {took}{cpu}")
        if side.returncode:
            console.print(side.output)
    lost_till = expected["till"] - found["till"]
    lost_import = expected["imported"] - found["imported"]
    console.print(
        f"orders posted (2xx) {expected['till']:,}, stored {found['till']:,}, lost {lost_till:,}; "
        f"import: {expected['imported']:,} orders in the file, stored {found['imported']:,}, "
        f"lost {lost_import:,}; nightly runs recorded done: {found['nightly']}"
    )
    served = len(run.samples)
    if run.server_cpu_s is not None and served:
        console.print(
            f"server CPU {run.server_cpu_s:.1f} s, {run.server_cpu_s / served * 1000:.2f} ms a "
            f"request ({run.server_cpu_s / run.wall_s:.0%} of one core); load generator "
            f"{run.client_cpu_s:.1f} s, {run.client_cpu_s / run.wall_s:.0%} of one core"
        )
    for when, (one, five, fifteen) in run.loads:
        console.print(f"load average {when}: {one:.2f} {five:.2f} {fifteen:.2f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--history-lines", type=int, default=100_000)
    parser.add_argument("--import-lines", type=int, default=50_000)
    parser.add_argument(
        "--members", type=int, default=pos.MEMBERS, help="members seeded (each with coupons)"
    )
    args = parser.parse_args(argv)
    pos.MEMBERS = args.members
    if not postgres_reachable():
        console.print("[red]PostgreSQL at 127.0.0.1:5432 is not reachable: the soak needs it[/]")
        return 1
    share_keyring()
    seconds = args.minutes * 60
    console.print(
        f"[bold]Patron soak[/]  Python {platform.python_version()}, {os.cpu_count()} cores, "
        f"{args.minutes:g} min at {RATE}/s, {args.history_lines:,} lines of history, "
        f"{args.import_lines:,} lines imported during the run"
    )
    patron = str(Path(sys.executable).parent / "patron")
    run = Run()
    with tempfile.TemporaryDirectory(prefix="patron-soak-") as tmp_name:
        tmp = Path(tmp_name)
        with postgres_schema(SCHEMA) as url:
            took, keys = pos.seed(url)
            console.print(f"seeded in {took:.1f} s; importing the history …")
            started = time.perf_counter()
            history = import_history(url, tmp, args.history_lines)
            console.print(f"  {history:,} orders in {time.perf_counter() - started:.1f} s")
            during_csv = tmp / "during.csv"
            in_file = Shop(known_customers=pos.MEMBERS, seed=9).write_csv(
                during_csv, args.import_lines
            )
            port = free_port()
            env = {
                **os.environ,
                "PATRON_DATABASE_URL": url,
                "PATRON_DATA_DIR": str(tmp / "data"),
                "PATRON_ANALYTICS_NIGHTLY": "false",
                "PATRON_LOOKUP_RATE_PER_MINUTE": "10000000",
                "PYTHONUNBUFFERED": "1",
            }
            server_log = (tmp / "server.log").open("wb")
            server = subprocess.Popen(
                [patron, "serve", "--workers", "2", "--host", "127.0.0.1", "--port", str(port)],
                env=env, cwd=tmp, stdout=server_log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
            try:
                deadline = time.monotonic() + 120
                while True:
                    try:
                        if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).is_success:
                            break
                    except httpx.HTTPError:
                        pass
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError((tmp / "server.log").read_text()[-3000:])
                    time.sleep(0.2)
                tills = Tills(port, keys)
                warm = Run()
                run_loop(load(tills, 5, warm))  # warm both workers' caches
                sides = [
                    Side("the nightly job", [patron, "nightly"], seconds / 4),
                    Side(
                        "the import",
                        [
                            patron,
                            "import",
                            "orders",
                            str(during_csv),
                            "--source",
                            "soak-import",
                            "--lang",
                            "en",
                        ],
                        seconds / 2,
                    ),
                ]
                run.loads.append(("at the start", os.getloadavg()))
                server_cpu = session_cpu_s(server.pid)
                client_cpu = time.process_time()
                t0 = time.monotonic()
                side_runner(sides, env, tmp, t0)
                loads = threading.Timer(
                    seconds / 2, lambda: run.loads.append(("half-way", os.getloadavg()))
                )
                loads.start()
                run_loop(load(tills, seconds, run))
                run.client_cpu_s = time.process_time() - client_cpu
                after = session_cpu_s(server.pid)
                if server_cpu is not None and after is not None:
                    run.server_cpu_s = after - server_cpu
                run.loads.append(("at the end", os.getloadavg()))
                while any(s.started_s is None or s.ended_s is None for s in sides):
                    time.sleep(1)
            finally:
                stop_server(server)
                server_log.close()
            posted = sum(
                1 for s in warm.samples + run.samples if s.call == "order" and 200 <= s.status < 300
            )
            report(run, sides, counts(url, "soak-import"), {"till": posted, "imported": in_file})
    return 0


if __name__ == "__main__":
    sys.exit(main())
