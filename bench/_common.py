"""What the benchmarks share: a synthetic shop, a prepared database, a real server."""

from __future__ import annotations

import contextlib
import csv
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

# The database benches make their schemas in; PATRON_BENCH_PG_DB names another (so that
# several checkouts benchmarking on one server do not drop each other's schemas).
PG_DB = os.environ.get("PATRON_BENCH_PG_DB", "test")
PG_BASE = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DB}"
PG_SCHEMA = "patron_bench"
STORES = [f"S{n:02d}" for n in range(1, 11)]
PAYMENTS = ("wechat_pay", "alipay", "bank_card", "cash", "unionpay")
SERVER_CORE, CLIENT_CORE = 0, 1
BASE_TIME = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
CST = ZoneInfo("Asia/Shanghai")
CSV_HEADER = ["订单号", "下单时间", "门店", "手机号", "商品编码", "商品名称", "数量", "单价"]


# ----------------------------------------------------------------------------- the shop


class Shop:
    """A synthetic retailer: stores, a catalogue, known customers' phones, fresh phones."""

    def __init__(self, known_customers: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.products = [
            (f"SKU{n:05d}", f"商品{n:05d}", self.rng.choice((190, 350, 590, 1290, 2990, 8800)))
            for n in range(2000)
        ]
        self.known_phones = [f"139{n:08d}" for n in self.rng.sample(range(10**8), known_customers)]
        self._new_phone = 0
        self._clock = 0

    def phone(self) -> str | None:
        draw = self.rng.random()
        if draw < 0.70:
            return self.rng.choice(self.known_phones)
        if draw < 0.95:
            self._new_phone += 1
            return f"137{self._new_phone:08d}"
        return None

    def instant(self) -> datetime:
        self._clock += 7
        return BASE_TIME + timedelta(seconds=self._clock)

    def lines(self) -> list[tuple[str, str, int, int]]:
        """(sku, name, quantity, unit_price_fen) × 1–5: three on average."""
        picked = self.rng.sample(self.products, self.rng.randint(1, 5))
        return [(s, n, self.rng.choice((1, 1, 1, 2, 2, 3)), p) for s, n, p in picked]

    def order(self, external_id: str, source: str = "pos-bench") -> dict[str, Any]:
        body: dict[str, Any] = {
            "source": source,
            "external_id": external_id,
            "store_code": self.rng.choice(STORES),
            "ordered_at": self.instant().astimezone(CST).isoformat(),
            "payment_method": self.rng.choice(PAYMENTS),
            "lines": [
                {"sku": s, "name": n, "quantity": q, "unit_price_fen": p}
                for s, n, q, p in self.lines()
            ],
        }
        phone = self.phone()
        if phone is not None:
            body["customer"] = {"phone": phone}
        return body

    def write_csv(self, path: Path, lines: int) -> int:
        """Order lines, one row each, Chinese headers, amounts in yuan; returns the orders."""
        orders = 0
        with path.open("w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(CSV_HEADER)
            written = 0
            while written < lines:
                orders += 1
                at = self.instant().astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")
                store, phone = self.rng.choice(STORES), self.phone() or ""
                for sku, name, qty, price in self.lines()[: lines - written]:
                    out.writerow(
                        [f"IMP{orders:08d}", at, store, phone, sku, name, qty, f"{price / 100:.2f}"]
                    )
                    written += 1
        return orders


def _make_api_key(db: Any) -> None:
    """A till-system key for every bench store; requests built afterwards carry it."""
    from _loadgen import set_api_key

    from patron.core.actor import system_actor
    from patron.staff import service as staff
    from patron.staff.roles import Role
    from patron.staff.schemas import ApiKeyCreate

    key_in = ApiKeyCreate(name="bench tills", role=Role.CASHIER, store_codes=list(STORES))
    created = db.write(
        lambda s: staff.create_api_key(session=s, key_in=key_in, actor=system_actor("bench"))
    )
    set_api_key(created.key)


def prepare_database(url: str, shop: Shop) -> float:
    """Migrate, create the stores and sign up the known customers; returns sign-ups/s."""
    from patron.catalog import service as catalog
    from patron.catalog.schemas import StoreCreate
    from patron.core.db import Database
    from patron.core.migrate import upgrade
    from patron.customers import service as customers
    from patron.customers.schemas import CustomerCreate, IdentitiesIn

    db = Database(url)
    try:
        upgrade(db)

        def stores(session: Any) -> None:
            for code in STORES:
                catalog.create_store(
                    session=session, store_in=StoreCreate(code=code, name=f"门店 {code}")
                )

        db.write(stores)
        _make_api_key(db)
        started = time.perf_counter()
        phones = shop.known_phones
        for start in range(0, len(phones), 1000):
            batch = [
                CustomerCreate(identities=IdentitiesIn(phone=p))
                for p in phones[start : start + 1000]
            ]
            db.write(
                lambda s, batch=batch: customers.register_customers(
                    session=s, customers_in=batch, source="bench-seed"
                )
            )
        return len(phones) / (time.perf_counter() - started)
    finally:
        db.dispose()


# ------------------------------------------------------------------------- PostgreSQL

_PG_CONNINFO = f"host=127.0.0.1 port=5432 user=postgres dbname={PG_DB}"


def cpu_of(pids: Sequence[int]) -> float:
    """User + system CPU seconds of these processes so far (Linux /proc; 0 for one gone)."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def share_keyring() -> None:
    """One encryption keyring for this process and the servers it starts (they inherit the
    environment), so customers seeded here are found, and decrypted, by the server."""
    if "PATRON_ENCRYPTION_KEYS" not in os.environ:
        from patron.core.crypto import Keyring

        os.environ["PATRON_ENCRYPTION_KEYS"] = Keyring.generate().to_json()


def postgres_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(_PG_CONNINFO, connect_timeout=2):
            return True
    except Exception:
        return False


@contextlib.contextmanager
def postgres_schema(schema: str) -> Iterator[str]:
    """A fresh schema on the local PostgreSQL, dropped afterwards; yields its database URL."""
    import psycopg

    assert not schema.startswith("patron_test_")  # the test suite's own schemas
    with psycopg.connect(_PG_CONNINFO, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(_PG_CONNINFO, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# ----------------------------------------------------------------------------- server

# Servers still running, so a bench stopped by a signal can stop them too.
running_servers: list[subprocess.Popen[bytes]] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@contextlib.contextmanager
def patron_server(url: str, tmp: Path, log_name: str = "server") -> Iterator[int]:
    """A uvicorn process serving Patron on ``url``, pinned to SERVER_CORE; yields its port."""
    import httpx

    port = free_port()
    log_path = tmp / f"{log_name}.log"
    env = {
        **os.environ,
        "PATRON_DATABASE_URL": url,
        "PATRON_DATA_DIR": str(tmp / "data"),
        "PYTHONUNBUFFERED": "1",
        # One till key per store sends a whole store's look-ups here, hundreds a second:
        # the per-key look-up limit (a guard against trying numbers) must not cut them.
        "PATRON_LOOKUP_RATE_PER_MINUTE": "10000000",
    }
    command = [
        sys.executable, "-m", "uvicorn", "patron.web.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
        "--http", "httptools", "--loop", "uvloop", "--log-level", "warning",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command,
            env=env,
            cwd=tmp,  # no stray patron.toml from the caller's directory
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running_servers.append(proc)
    try:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(proc.pid, {SERVER_CORE})
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited:\n{log_path.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not healthy in 60 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        yield port
    finally:
        stop_server(proc)
        running_servers.remove(proc)
