"""Ingestion throughput: single posts, bulk posts and file import, on SQLite and PostgreSQL.

Targets: ≥ 1,000 single-order posts/s and ≥ 10,000 orders/s in bulk through the API on
SQLite; file imports (which stage the whole file, write each order whole, match returns and
reconcile) of CSV ≥ 50,000 lines/s and .xlsx ≥ 20,000 lines/s on SQLite, CSV ≥ 25,000
lines/s on PostgreSQL. Figures are printed, never asserted.

How it runs, per backend:

1. A fresh database (SQLite file in a temp dir, or the PostgreSQL schema ``patron_bench``,
   created and dropped here), migrated, with 10 stores and a pool of known customers.
2. A real server: ``uvicorn patron.web.app:create_app --factory`` (httptools, uvloop, no
   access log) pinned to core 0. The load generator is a forked child pinned to core 1
   that writes pre-serialised requests over keep-alive connections (bench/_loadgen.py);
   its own CPU share is printed so a client-bound run shows itself.
3. Single posts: each a NEW order (unique external_id, 1–5 lines); the customer phone is
   known ~70 %, new ~25 %, absent ~5 %. Warm-up first, then a fixed count per concurrency;
   then the same bodies again (idempotent repeats, answered 200 with the first result).
4. Bulk: POST /api/v1/orders/bulk, 1,000 orders (~3 lines each) per call, sequentially; the
   note gives the server's CPU seconds for them and, on PostgreSQL, its backends' (/proc).
5. Import: a CSV of order lines with Chinese headers through ``imports.service.run_import``,
   and on SQLite the same lines as an .xlsx workbook.
6. Peers, in the same run so ratios are printed: ``GET /healthz`` on the same server and
   client (the HTTP floor), and the same rows written with the plain driver (sqlite3 /
   psycopg executemany, no API, no validation, no identity resolution): the SQL floor; for
   the import also COPY on PostgreSQL and python-calamine for the workbook.

Run:  .venv/bin/python bench/ingest.py            (full, a few minutes)
      .venv/bin/python bench/ingest.py --quick    (smoke run, < 30 s)
      .venv/bin/python bench/ingest.py --profile  (also an in-process profile of one post)
      .venv/bin/python bench/ingest.py --bulk-only --no-sqlite   (PostgreSQL bulk posts alone)
      .venv/bin/python bench/ingest.py --import-only             (the file imports alone)
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import resource
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from _common import (
    CLIENT_CORE,
    CST,
    PG_DB,
    PG_SCHEMA,
    SERVER_CORE,
    Shop,
    cpu_of,
    patron_server,
    postgres_reachable,
    postgres_schema,
    prepare_database,
    running_servers,
    share_keyring,
    stop_server,
)
from _loadgen import LoadResult, get, post, run_load
from rich.console import Console
from rich.table import Table

console = Console(highlight=False, width=None if sys.stdout.isatty() else 170)


# ------------------------------------------------------------------------------ results


@dataclass
class Row:
    backend: str
    work: str
    value: float
    unit: str
    target: float | None = None
    latency: str = ""
    client_cpu: str = ""
    note: str = ""
    peer_of: str | None = None  # for a peer row: the work it is the floor of
    ratio_to: float | None = None  # the Patron figure this peer compares with


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        cpu = row.note[row.note.find("server CPU") :] if "server CPU" in row.note else ""
        console.print(
            f"  [dim]{row.backend:<10}[/] {row.work:<46} {_num(row.value)} {row.unit}"
            + (f"  [dim]({cpu})[/]" if cpu else "")
        )

    def table(self) -> Table:
        t = Table(title="Patron ingestion throughput (higher is better)", show_lines=False)
        for name, justify in (
            ("backend", "left"),
            ("work", "left"),
            ("figure", "right"),
            ("target", "right"),
            ("p50 / p95 / p99 ms", "right"),
            ("client CPU", "right"),
            ("note", "left"),
        ):
            t.add_column(name, justify=justify)  # type: ignore[arg-type]
        last = None
        for r in self.rows:
            if last is not None and r.backend != last:
                t.add_section()
            last = r.backend
            figure = f"{_num(r.value)} {r.unit}"
            if r.target is not None:
                ok = r.value >= r.target
                target = f"[{'green' if ok else 'red'}]≥ {_num(r.target)} {'✓' if ok else '✗'}[/]"
            else:
                target = ""
            note = r.note
            if r.ratio_to is not None and r.value > 0:
                note = f"Patron at {r.ratio_to / r.value:.2f}× of this. {note}".strip()
            work = f"[dim]peer:[/] {r.work}" if r.peer_of else r.work
            t.add_row(r.backend, work, figure, target, r.latency, r.client_cpu, note)
        return t


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _latency(result: LoadResult) -> str:
    return " / ".join(f"{result.percentile_ms(q):.1f}" for q in (50, 95, 99))


def _cpu(result: LoadResult) -> str:
    share = result.client_cpu_share
    text = f"{share:.0%}"
    return f"[red]{text}[/]" if share > 0.8 else text


# ------------------------------------------------------------------------------ backends


@dataclass
class Backend:
    name: str
    url: str
    tmp: Path

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


# --------------------------------------------------------------------------- API sections


def _pg_backends(backend: Backend) -> list[int]:
    """The PostgreSQL server processes serving the bench's database (none on SQLite): their
    CPU is the database's share of the work when the server runs on this machine."""
    if backend.is_sqlite:
        return []
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={PG_DB}") as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(r[0]) for r in rows]


def _check(result: LoadResult, expected: int, what: str) -> str:
    bad = {s: n for s, n in result.statuses.items() if s != expected}
    if not bad:
        return ""
    sample = result.bodies[0][:300].decode(errors="replace") if result.bodies else ""
    console.print(f"  [red]{what}: unexpected statuses {bad}[/] {sample}")
    return f"[red]{sum(bad.values())} not {expected}: {bad}[/]"


def _process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_cpu(
    pid: int, port: int, requests: list[bytes], concurrency: int, backend: Backend | None = None
) -> tuple[LoadResult, str]:
    """Run a load and say the server's CPU per request (the machine's load inflates wall
    time, not this); on PostgreSQL, given ``backend``, its server processes' too."""
    backends = _pg_backends(backend) if backend is not None else []
    before, db_before = _process_cpu_s(pid), cpu_of(backends)
    result = run_load(port, requests, concurrency=concurrency, core=CLIENT_CORE)
    spent = _process_cpu_s(pid) - before
    per = 1000 / max(result.requests, 1)
    note = f"server CPU {spent * per:.2f} ms/request"
    if backends:
        backends = [*backends, *(p for p in _pg_backends(backend) if p not in backends)]
        note += f", PostgreSQL backends {(cpu_of(backends) - db_before) * per:.2f} ms/request"
    return result, note


def api_sections(
    backend: Backend, shop: Shop, args: argparse.Namespace, report: Report
) -> dict[str, Any]:
    name = backend.name
    made: dict[str, Any] = {"single_bodies": [], "bulk_bodies": []}
    with patron_server(backend.url, backend.tmp, f"server-{backend.name}") as port:
        server_pid = running_servers[-1].pid
        # Warm-up: connection pools, statement caches, the first customers.
        warm = [post(port, "/api/v1/orders", shop.order(f"W{i:07d}")) for i in range(args.warmup)]
        run_load(port, warm, concurrency=max(args.concurrency), core=CLIENT_CORE)

        for c in [] if args.bulk_only else args.concurrency:
            floor, floor_cpu = _server_cpu(
                server_pid, port, [get(port, "/healthz")] * args.orders, c
            )
            bodies = [shop.order(f"C{c}-{i:07d}") for i in range(args.orders)]
            made["single_bodies"].extend(bodies)
            requests = [post(port, "/api/v1/orders", b) for b in bodies]
            lines = sum(len(b["lines"]) for b in bodies)
            fresh, fresh_cpu = _server_cpu(server_pid, port, requests, c, backend)
            report.add(
                Row(
                    name,
                    f"single posts, new orders, {c} connections",
                    fresh.per_s,
                    "orders/s",
                    target=1000,
                    latency=_latency(fresh),
                    client_cpu=_cpu(fresh),
                    note=_check(fresh, 201, "single")
                    or f"{lines / fresh.wall_s:,.0f} lines/s; {args.orders:,} orders; {fresh_cpu}",
                )
            )
            again, again_cpu = _server_cpu(server_pid, port, requests, c, backend)
            report.add(
                Row(
                    name,
                    f"single posts, idempotent repeats, {c} conn.",
                    again.per_s,
                    "orders/s",
                    latency=_latency(again),
                    client_cpu=_cpu(again),
                    note=_check(again, 200, "repeat")
                    or f"answered 200 with the first result; {again_cpu}",
                )
            )
            report.add(
                Row(
                    name,
                    f"GET /healthz, same server and client, {c} conn.",
                    floor.per_s,
                    "req/s",
                    latency=_latency(floor),
                    client_cpu=_cpu(floor),
                    note=f"HTTP floor: the framework with no work; {floor_cpu}",
                    peer_of="single",
                    ratio_to=fresh.per_s,
                )
            )

        if not args.bulk_calls:
            return made

        # Bulk: 1,000 orders a call, one call at a time.
        def bulk_call(tag: str) -> bytes:
            orders = [shop.order(f"{tag}-{i:05d}") for i in range(args.bulk_size)]
            made["bulk_bodies"].extend(orders)
            return post(port, "/api/v1/orders/bulk", {"orders": orders})

        run_load(port, [bulk_call("BW")], concurrency=1, core=CLIENT_CORE)
        made["bulk_bodies"].clear()
        requests = [bulk_call(f"B{n:03d}") for n in range(args.bulk_calls)]
        server, backends = running_servers[-1].pid, _pg_backends(backend)
        cpu_before = cpu_of([server]), cpu_of(backends)
        result = run_load(port, requests, concurrency=1, core=CLIENT_CORE, keep_bodies=True)
        backends = [*backends, *(p for p in _pg_backends(backend) if p not in backends)]
        server_cpu = cpu_of([server]) - cpu_before[0]
        backend_cpu = cpu_of(backends) - cpu_before[1]  # a backend new in the run: all its CPU
        created = sum(orjson.loads(b).get("created", 0) for b in result.bodies)
        orders = args.bulk_calls * args.bulk_size
        lines = sum(len(b["lines"]) for b in made["bulk_bodies"])
        note = _check(result, 200, "bulk")
        if created != orders:
            note += f" [red]created {created:,} of {orders:,}[/]"
        report.add(
            Row(
                name,
                f"bulk posts, {args.bulk_size:,} orders/call, 1 conn.",
                orders / result.wall_s,
                "orders/s",
                target=10_000,
                latency=_latency(result),
                client_cpu=_cpu(result),
                note=note
                or (
                    f"{lines / result.wall_s:,.0f} lines/s; {args.bulk_calls} calls; server CPU "
                    f"{server_cpu:.2f} s ({orders / max(server_cpu, 1e-9):,.0f} orders per CPU s)"
                    + (f", PostgreSQL backends {backend_cpu:.2f} CPU s" if backends else "")
                ),
            )
        )
        made["bulk_orders_per_s"] = orders / result.wall_s
    return made


# -------------------------------------------------------------------------------- import


def _write_xlsx(csv_path: Path, xlsx_path: Path, lines: int) -> None:
    """The same order lines as a workbook, as Excel would keep them (numbers, dates)."""
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("订单明细")
    with csv_path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        sheet.append(next(reader))
        for n, row in enumerate(reader):
            if n >= lines:
                break
            key, at, store, phone, sku, name, qty, price = row
            sheet.append([key, datetime.fromisoformat(at), store, int(phone) if phone else None,
                          sku, name, int(qty), float(price)])  # fmt: skip
    book.save(xlsx_path)


def _own_cpu_s() -> float:
    """This process's CPU seconds so far (user + system, every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def import_section(
    backend: Backend, shop: Shop, args: argparse.Namespace, report: Report
) -> tuple[Path | None, Path | None]:
    """Import the CSV (and, on SQLite, the workbook) through run_import; returns their paths."""
    from patron.core.db import Database
    from patron.imports.schemas import ImportOptions
    from patron.imports.service import run_import

    path = backend.tmp / "orders-import.csv"
    if not path.exists():
        shop.write_csv(path, args.import_lines)
    files: list[tuple[str, Path, float]] = [("CSV", path, 50_000 if backend.is_sqlite else 25_000)]
    xlsx: Path | None = None
    if backend.is_sqlite and args.xlsx_lines:
        xlsx = backend.tmp / "orders-import.xlsx"
        _write_xlsx(path, xlsx, args.xlsx_lines)
        files.append(("XLSX", xlsx, 20_000))
    for n, (label, file, target) in enumerate(files):
        size_mb = file.stat().st_size / 1e6
        db = Database(backend.url)
        before = _pg_backends(backend)  # the import's own connections are those new after
        backend_cpu = 0.0
        try:
            started, cpu = time.perf_counter(), _own_cpu_s()
            summary = run_import(
                db=db,
                kind="orders",
                path=file,
                options=ImportOptions(
                    source=f"bench-import-{n}", report_path=backend.tmp / f"rejects-{n}.csv"
                ),
            )
            wall, cpu = time.perf_counter() - started, _own_cpu_s() - cpu
            # Read before the pool closes them: a backend new in the run, all its CPU.
            backend_cpu = cpu_of([p for p in _pg_backends(backend) if p not in before])
        except Exception as exc:
            report.add(
                Row(
                    backend.name,
                    f"import orders {label}",
                    0,
                    "lines/s",
                    note=f"[red]failed: {exc!r}[/]",
                )
            )
            continue
        finally:
            db.dispose()
        per_1000 = cpu / max(summary.rows_read, 1) * 1000
        note = (
            f"{summary.rows_read:,} lines ({size_mb:.0f} MB), {summary.created:,} orders, "
            f"CPU {per_1000 * 1000:.0f} ms per 1,000 lines (this process, all threads"
            + (
                f"; PostgreSQL backends {backend_cpu / max(summary.rows_read, 1) * 1e6:.0f} ms)"
                if not backend.is_sqlite
                else ")"
            )
            + ", "
            f"{summary.rows_rejected:,} rejected, reconciliation "
            + ("balanced" if summary.reconciliation and summary.reconciliation.balanced else "NOT")
        )
        if summary.rows_rejected or summary.outcome != "completed":
            note = f"[red]{note}[/]"
        report.add(
            Row(
                backend.name,
                f"import orders {label} (run_import)",
                summary.rows_read / wall,
                "lines/s",
                target=target,
                note=note,
            )
        )
    return path, xlsx


# -------------------------------------------------------------------------------- floors


class _Raw:
    """The plain driver on the same schema: what the hardware and the database allow."""

    mark = "?"

    def __init__(self, backend: Backend) -> None:
        if backend.is_sqlite:
            self.conn: Any = sqlite3.connect(
                backend.url.removeprefix("sqlite:///"), isolation_level=None
            )
            for pragma in (  # as patron.core.db sets them
                "journal_mode=WAL",
                "synchronous=NORMAL",
                "foreign_keys=ON",
                "cache_size=-65536",
                "temp_store=MEMORY",
            ):
                self.conn.execute(f"PRAGMA {pragma}")
            self.begin_sql = "BEGIN IMMEDIATE"
            self.sqlite = True
        else:
            import psycopg

            self.conn = psycopg.connect(
                f"host=127.0.0.1 port=5432 user=postgres dbname={PG_DB}",
                options=f"-csearch_path={PG_SCHEMA}",
                autocommit=True,
            )
            self.mark = "%s"
            self.begin_sql = "BEGIN"
            self.sqlite = False

    def scalar(self, sql: str) -> Any:
        return self.conn.execute(sql).fetchone()[0]

    def rows(self, sql: str) -> list[Any]:
        return list(self.conn.execute(sql).fetchall())

    def insert_sql(self, table: str, cols: Sequence[str]) -> str:
        return (
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join([self.mark] * len(cols))})"
        )

    def many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if self.sqlite:
            self.conn.executemany(sql, rows)
        else:
            with self.conn.cursor() as cur:
                cur.executemany(sql, rows)

    def close(self) -> None:
        self.conn.close()


ORDER_COLS = (
    "id", "source", "external_id", "store_id", "channel", "customer_id", "ordered_at", "currency",
    "gross_fen", "discount_fen", "order_discount_fen", "total_fen", "payment_method",
    "line_count", "request_hash", "created_at",
)  # fmt: skip
LINE_COLS = (
    "id", "order_id", "line_no", "sku", "name", "quantity_milli", "unit_price_fen",
    "discount_fen", "amount_fen",
)  # fmt: skip


class _Floor:
    """Same orders and lines as the API sections, as tuples, inserted with executemany."""

    def __init__(self, raw: _Raw) -> None:
        self.raw = raw
        self.stores = dict(raw.rows("SELECT code, id FROM store"))
        self.owners = {
            v.removeprefix("+86"): c
            for v, c in raw.rows("SELECT value, customer_id FROM identity WHERE kind = 'phone'")
        }
        self.next_order = raw.scalar("SELECT COALESCE(MAX(id), 0) FROM orders") + 1
        self.next_line = raw.scalar("SELECT COALESCE(MAX(id), 0) FROM order_line") + 1
        self.order_sql = raw.insert_sql("orders", ORDER_COLS)
        self.line_sql = raw.insert_sql("order_line", LINE_COLS)
        self.now = datetime.now(UTC)

    def _when(self, at: datetime) -> Any:
        return at.astimezone(UTC).replace(tzinfo=None).isoformat(" ") if self.raw.sqlite else at

    def rows_of(
        self,
        key: str,
        store: str,
        phone: str | None,
        at: datetime,
        lines: list[tuple[str, str, int, int]],
    ) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
        order_id = self.next_order
        self.next_order += 1
        line_rows = []
        for no, (sku, name, qty, price) in enumerate(lines, start=1):
            line_rows.append(
                (self.next_line, order_id, no, sku, name, qty * 1000, price, 0, qty * price)
            )
            self.next_line += 1
        total = sum(r[-1] for r in line_rows)
        order = (
            order_id, "floor", key, self.stores[store], "pos", self.owners.get(phone or ""),
            self._when(at), "CNY", total, 0, 0, total, "wechat_pay", len(line_rows), "0" * 64,
            self._when(self.now),
        )  # fmt: skip
        return order, line_rows

    def from_body(
        self, body: dict[str, Any], key: str
    ) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
        phone = (body.get("customer") or {}).get("phone")
        lines = [(x["sku"], x["name"], x["quantity"], x["unit_price_fen"]) for x in body["lines"]]
        return self.rows_of(
            key, body["store_code"], phone, datetime.fromisoformat(body["ordered_at"]), lines
        )

    def one_per_transaction(
        self, orders: list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]
    ) -> float:
        raw, started = self.raw, time.perf_counter()
        for order, lines in orders:
            raw.conn.execute(raw.begin_sql)
            raw.conn.execute(self.order_sql, order)
            raw.many(self.line_sql, lines)
            raw.conn.execute("COMMIT")
        return len(orders) / (time.perf_counter() - started)

    def batched(
        self, orders: list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]], size: int
    ) -> float:
        raw, started = self.raw, time.perf_counter()
        for start in range(0, len(orders), size):
            chunk = orders[start : start + size]
            raw.conn.execute(raw.begin_sql)
            raw.many(self.order_sql, [o for o, _ in chunk])
            raw.many(self.line_sql, [ln for _, lines in chunk for ln in lines])
            raw.conn.execute("COMMIT")
        return len(orders) / (time.perf_counter() - started)

    def copied(
        self, orders: list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]], size: int
    ) -> float:
        """PostgreSQL only: the same batches through COPY, the fastest way in."""
        raw, started = self.raw, time.perf_counter()
        for start in range(0, len(orders), size):
            chunk = orders[start : start + size]
            with raw.conn.transaction(), raw.conn.cursor() as cur:
                with cur.copy(f"COPY orders ({', '.join(ORDER_COLS)}) FROM STDIN") as copy:
                    for order, _ in chunk:
                        copy.write_row(order)
                with cur.copy(f"COPY order_line ({', '.join(LINE_COLS)}) FROM STDIN") as copy:
                    for _, lines in chunk:
                        for line in lines:
                            copy.write_row(line)
        return len(orders) / (time.perf_counter() - started)

    def load_csv(self, path: Path, batch_lines: int) -> tuple[float, int]:
        """Parse the import file and insert it: a plain loader with no checks at all."""
        raw, started, count = self.raw, time.perf_counter(), 0
        pending: list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]] = []
        pending_lines = 0

        def flush() -> None:
            raw.conn.execute(raw.begin_sql)
            raw.many(self.order_sql, [o for o, _ in pending])
            raw.many(self.line_sql, [ln for _, lines in pending for ln in lines])
            raw.conn.execute("COMMIT")
            pending.clear()

        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            next(reader)
            current: list[list[str]] = []
            for row in reader:
                count += 1
                if current and row[0] != current[0][0]:
                    pending.append(self._csv_order(current))
                    pending_lines += len(current)
                    current = []
                    if pending_lines >= batch_lines:
                        flush()
                        pending_lines = 0
                current.append(row)
            if current:
                pending.append(self._csv_order(current))
            if pending:
                flush()
        return count / (time.perf_counter() - started), count

    def load_xlsx(self, path: Path, batch_lines: int) -> tuple[float, int]:
        """Read the workbook with python-calamine and insert it: the floor of an xlsx import."""
        import python_calamine

        raw, started, count = self.raw, time.perf_counter(), 0
        pending: list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]] = []
        pending_lines = 0
        sheet = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
        rows = sheet.iter_rows()
        next(rows)
        current: list[list[Any]] = []

        def flush() -> None:
            raw.conn.execute(raw.begin_sql)
            raw.many(self.order_sql, [o for o, _ in pending])
            raw.many(self.line_sql, [ln for _, lines in pending for ln in lines])
            raw.conn.execute("COMMIT")
            pending.clear()

        for values in rows:
            row = [str(values[0]), values[1], str(values[2]),
                   str(int(values[3])) if values[3] != "" else "", str(values[4]), str(values[5]),
                   str(int(values[6])), str(values[7])]  # fmt: skip
            count += 1
            if current and row[0] != current[0][0]:
                pending.append(self._xlsx_order(current))
                pending_lines += len(current)
                current = []
                if pending_lines >= batch_lines:
                    flush()
                    pending_lines = 0
            current.append(row)
        if current:
            pending.append(self._xlsx_order(current))
        if pending:
            flush()
        return count / (time.perf_counter() - started), count

    def _xlsx_order(self, rows: list[list[Any]]) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
        first = rows[0]
        when = first[1]
        if isinstance(when, str):
            when = datetime.fromisoformat(when)
        elif not isinstance(when, datetime):  # a time of midnight comes back as a date
            when = datetime.combine(when, datetime.min.time())
        at = when.replace(tzinfo=CST)
        lines = [(r[4], r[5], int(r[6]), round(float(r[7]) * 100)) for r in rows]
        return self.rows_of("X" + first[0], first[2], first[3] or None, at, lines)

    def copy_csv(self, path: Path, batch_lines: int) -> tuple[float, int]:
        """PostgreSQL only: parse the import file and COPY it in, a plain loader's best."""
        raw, started, count = self.raw, time.perf_counter(), 0
        pending: list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]] = []
        pending_lines = 0

        def flush() -> None:
            with raw.conn.transaction(), raw.conn.cursor() as cur:
                with cur.copy(f"COPY orders ({', '.join(ORDER_COLS)}) FROM STDIN") as copy:
                    for order, _ in pending:
                        copy.write_row(order)
                with cur.copy(f"COPY order_line ({', '.join(LINE_COLS)}) FROM STDIN") as copy:
                    for _, lines in pending:
                        for line in lines:
                            copy.write_row(line)
            pending.clear()

        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            next(reader)
            current: list[list[str]] = []
            for row in reader:
                count += 1
                if current and row[0] != current[0][0]:
                    order, lines = self._csv_order(current)
                    pending.append(((*order[:2], "K" + order[2], *order[3:]), lines))
                    pending_lines += len(current)
                    current = []
                    if pending_lines >= batch_lines:
                        flush()
                        pending_lines = 0
                current.append(row)
            if current:
                order, lines = self._csv_order(current)
                pending.append(((*order[:2], "K" + order[2], *order[3:]), lines))
            if pending:
                flush()
        return count / (time.perf_counter() - started), count

    def _csv_order(self, rows: list[list[str]]) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
        first = rows[0]
        at = datetime.fromisoformat(first[1]).replace(tzinfo=CST)
        lines = [(r[4], r[5], int(r[6]), round(float(r[7]) * 100)) for r in rows]
        return self.rows_of("F" + first[0], first[2], first[3] or None, at, lines)


def floor_sections(
    backend: Backend,
    shop: Shop,
    made: dict[str, Any],
    csv_path: Path | None,
    report: Report,
    patron: dict[str, float],
    xlsx_path: Path | None = None,
) -> None:
    raw = _Raw(backend)
    try:
        floor = _Floor(raw)
        driver = "sqlite3" if raw.sqlite else "psycopg"
        singles = [floor.from_body(b, f"S{i}") for i, b in enumerate(made["single_bodies"])]
        if singles:
            report.add(
                Row(
                    backend.name,
                    f"plain {driver}: 1 order + lines per transaction",
                    floor.one_per_transaction(singles),
                    "orders/s",
                    note="SQL floor of single posts",
                    peer_of="single",
                    ratio_to=patron.get("single"),
                )
            )
        bulk = [floor.from_body(b, f"B{i}") for i, b in enumerate(made["bulk_bodies"])]
        if bulk:
            report.add(
                Row(
                    backend.name,
                    "plain executemany: 1,000 orders per transaction",
                    floor.batched(bulk, 1000),
                    "orders/s",
                    note="SQL floor of bulk posts",
                    peer_of="bulk",
                    ratio_to=patron.get("bulk"),
                )
            )
            if not raw.sqlite:
                copy = [floor.from_body(b, f"K{i}") for i, b in enumerate(made["bulk_bodies"])]
                report.add(
                    Row(
                        backend.name,
                        "plain COPY: 1,000 orders per transaction",
                        floor.copied(copy, 1000),
                        "orders/s",
                        note="what PostgreSQL takes in bulk",
                        peer_of="bulk",
                        ratio_to=patron.get("bulk"),
                    )
                )
        if csv_path is not None:
            per_s, _ = floor.load_csv(csv_path, 5000)
            report.add(
                Row(
                    backend.name,
                    "plain csv.reader + executemany, 5,000 lines/tx",
                    per_s,
                    "lines/s",
                    note="SQL floor of the CSV import",
                    peer_of="import",
                    ratio_to=patron.get("import"),
                )
            )
            if not raw.sqlite:
                per_s, _ = floor.copy_csv(csv_path, 5000)
                report.add(
                    Row(
                        backend.name,
                        "plain csv.reader + COPY, 5,000 lines/tx",
                        per_s,
                        "lines/s",
                        note="COPY floor of the CSV import",
                        peer_of="import",
                        ratio_to=patron.get("import"),
                    )
                )
        if xlsx_path is not None:
            per_s, _ = floor.load_xlsx(xlsx_path, 5000)
            report.add(
                Row(
                    backend.name,
                    "plain python-calamine + executemany, 5,000 lines/tx",
                    per_s,
                    "lines/s",
                    note="SQL floor of the xlsx import",
                    peer_of="import-xlsx",
                    ratio_to=patron.get("import-xlsx"),
                )
            )
    finally:
        raw.close()


# ------------------------------------------------------------------------------- driver


def run_backend(backend: Backend, args: argparse.Namespace, report: Report) -> None:
    console.rule(f"[bold]{backend.name}")
    shop = Shop(args.known_customers)
    signups = prepare_database(backend.url, shop)
    console.print(
        f"  [dim]seeded {len(shop.known_phones):,} known customers ({signups:,.0f} sign-ups/s)[/]"
    )
    if args.import_only:
        made: dict[str, Any] = {"single_bodies": [], "bulk_bodies": []}
    else:
        made = api_sections(backend, shop, args, report)
    csv_path, xlsx_path = (
        import_section(backend, shop, args, report)
        if args.import_lines and not args.bulk_only
        else (None, None)
    )
    own = [r for r in report.rows if r.backend == backend.name and r.peer_of is None]
    patron = {
        "single": max((r.value for r in own if r.work.startswith("single posts, new")), default=0),
        "bulk": made.get("bulk_orders_per_s", 0.0),
        "import": next((r.value for r in own if r.work.startswith("import orders CSV")), 0.0),
        "import-xlsx": next((r.value for r in own if r.work.startswith("import orders XLSX")), 0.0),
    }
    floor_sections(backend, shop, made, csv_path, report, patron, xlsx_path)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--orders", type=int, default=5000, help="single posts per concurrency level")
    p.add_argument(
        "--concurrency",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[8, 32],
        help="connections for single posts, comma-separated (default 8,32)",
    )
    p.add_argument("--bulk-calls", type=int, default=20, help="bulk calls of --bulk-size orders")
    p.add_argument("--bulk-size", type=int, default=1000, help="orders per bulk call")
    p.add_argument(
        "--import-lines", type=int, default=200_000, help="CSV lines to import (0: skip)"
    )
    p.add_argument(
        "--xlsx-lines", type=int, default=100_000, help="lines of the .xlsx import (0: skip)"
    )
    p.add_argument("--known-customers", type=int, default=20_000, help="customers signed up first")
    p.add_argument("--warmup", type=int, default=500, help="single posts before measuring")
    p.add_argument(
        "--postgres",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also run on PostgreSQL at 127.0.0.1:5432 (default: when it answers)",
    )
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run in < 30 s")
    p.add_argument(
        "--import-only",
        action="store_true",
        help="only the file imports and their plain-driver floors (no API sections)",
    )
    p.add_argument(
        "--bulk-only",
        action="store_true",
        help="only the bulk posts and their plain-driver floors (no single posts, no imports)",
    )
    p.add_argument(
        "--sqlite",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run on SQLite (--no-sqlite: PostgreSQL alone)",
    )
    p.add_argument("--profile", action="store_true", help="then profile one post in-process")
    p.add_argument(
        "--single-only",
        action="store_true",
        help="only the single posts (and their peers): no bulk posts, no imports",
    )
    args = p.parse_args(argv)
    if sum((args.bulk_only, args.import_only, args.single_only)) > 1:
        p.error("--bulk-only, --import-only and --single-only exclude each other")
    if args.single_only:
        args.bulk_calls, args.import_lines, args.xlsx_lines = 0, 0, 0
    if args.quick:
        args.orders, args.concurrency = min(args.orders, 300), args.concurrency[:1]
        args.bulk_calls, args.bulk_size = min(args.bulk_calls, 2), min(args.bulk_size, 500)
        args.import_lines = min(args.import_lines, 10_000)
        args.xlsx_lines = min(args.xlsx_lines, 5_000)
        args.known_customers = min(args.known_customers, 1000)
        args.warmup = min(args.warmup, 100)
    return args


def _on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    share_keyring()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    use_pg = postgres_reachable() if args.postgres is None else args.postgres
    report = Report()
    started = time.perf_counter()
    console.print(
        f"[bold]Patron ingestion bench[/]  Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} cores "
        f"(server on core {SERVER_CORE}, client on core {CLIENT_CORE}); "
        f"{args.orders:,} single posts × {args.concurrency} connections, "
        f"{args.bulk_calls} × {args.bulk_size:,} bulk, {args.import_lines:,} import lines"
    )
    try:
        with tempfile.TemporaryDirectory(prefix="patron-bench-") as tmp:
            root = Path(tmp)
            if args.sqlite:
                (root / "sqlite").mkdir()
                run_backend(
                    Backend(
                        "SQLite", f"sqlite:///{root / 'sqlite' / 'patron.db'}", root / "sqlite"
                    ),
                    args,
                    report,
                )
            if use_pg:
                (root / "pg").mkdir()
                with postgres_schema(PG_SCHEMA) as url:
                    run_backend(Backend("PostgreSQL", url, root / "pg"), args, report)
            elif args.postgres is None:
                console.print("[yellow]PostgreSQL at 127.0.0.1:5432 not reachable: skipped[/]")
            if args.profile:
                from _profile_ingest import profile

                profile(root / "profile", console, orders=300 if args.quick else 2000)
    finally:
        for proc in list(running_servers):
            stop_server(proc)
    console.print(report.table())
    console.print(
        "[dim]Client CPU is the load generator's share of its own core (red above 80 %: the "
        f"client may be the limit). Total {time.perf_counter() - started:.0f} s.[/]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
