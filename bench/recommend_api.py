"""Serving latency: a member's recommendations and a product's "bought together" at a steady
200 requests/s on SQLite.

Target (docs/contributing.md, Benchmarks): p99 ≤ 20 ms for both calls. Figures are printed,
never asserted.

How it runs:

1. A fresh SQLite database in a temp dir, migrated, with 10 stores, 120 products and 2,000
   members (home store by number), and 120 days of their baskets (each member keeps a
   favourite set and shops about once a week; some goods go together), all through the
   services; then one real analytics run, whose basket rules and recommendations the calls
   read (as the nightly run leaves them).
2. A real server (``uvicorn``, bench/_common.py), pinned to one core; the client here, on
   the other. Each store's till calls with its own cashier key, so every recommendation
   also checks that the member belongs to the till's store, and every "bought together"
   reads that store's rules.
3. The till's member look-up of bench/pos.py is measured in the same run, beside them.
4. Open-loop load at a fixed schedule (bench/pos.py's ``paced``, on bench/_loadgen.py's
   response reader): latency runs from the scheduled send time to the answer.

Run:  .venv/bin/python bench/recommend_api.py            (10 s per call)
      .venv/bin/python bench/recommend_api.py --quick    (3 s per call)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import (
    CLIENT_CORE,
    CST,
    SERVER_CORE,
    STORES,
    patron_server,
    running_servers,
    share_keyring,
)
from pos import Figures, paced
from pos import get as get_with_key
from rich.console import Console
from rich.table import Table

console = Console()
MEMBERS = 2_000
PRODUCTS = 120
DAYS = 120
AS_OF = date(2026, 2, 28)
RATE = 200
TARGET_P99_MS = 20.0
# The till's member look-up (bench/pos.py's first call) runs in the same run as the
# reference: on a shared, loaded machine the ratio says more than the milliseconds.
CALLS = ("recommendations", "bought-together", "look-up (reference)")


def phone(n: int) -> str:
    return f"136{n:08d}"


def store(n: int) -> str:
    return STORES[n % len(STORES)]


def sku(k: int) -> str:
    return f"G{k:04d}"


def _baskets(rng: random.Random) -> list[tuple[int, int, list[int]]]:
    """(member, day, goods): each member's favourites, a weekly-ish rhythm, and pairs
    (2k, 2k+1) that go together."""
    out = []
    for n in range(MEMBERS):
        favourites = rng.sample(range(PRODUCTS), 8)
        day = rng.randrange(7)
        while day < DAYS:
            goods = set(rng.sample(favourites, rng.randint(2, 4)))
            goods |= {g ^ 1 for g in goods if rng.random() < 0.6}  # its partner, often
            out.append((n, day, sorted(goods)))
            day += rng.randint(4, 10)
    return out


def seed(url: str) -> tuple[float, dict[str, str], list[int]]:
    """Migrate, fill through the services, run the analytics; (seconds, each store's till
    key, member ids by number)."""
    from patron.analytics import service as analytics
    from patron.catalog import service as catalog
    from patron.catalog.schemas import ProductIn, StoreCreate
    from patron.core.actor import system_actor
    from patron.core.db import Database
    from patron.core.migrate import upgrade
    from patron.customers import service as customers
    from patron.customers.schemas import CustomerCreate, IdentitiesIn
    from patron.orders import service as orders
    from patron.orders.schemas import OrderIn
    from patron.staff import service as staff
    from patron.staff.roles import Role
    from patron.staff.schemas import ApiKeyCreate

    started = time.perf_counter()
    db = Database(url)
    try:
        upgrade(db)

        def base(session: Any) -> None:
            for code in STORES:
                catalog.create_store(session=session, store_in=StoreCreate(code=code, name=code))
            catalog.upsert_products(
                session=session,
                products_in=[
                    ProductIn(sku=sku(k), name=f"商品 {k}", category_path="食品/杂货",
                              shelf_life_days=14)
                    for k in range(PRODUCTS)
                ],
            )  # fmt: skip

        db.write(base)
        for start in range(0, MEMBERS, 500):
            batch = [
                CustomerCreate(identities=IdentitiesIn(phone=phone(n)), home_store_code=store(n))
                for n in range(start, min(start + 500, MEMBERS))
            ]
            db.write(
                lambda s, batch=batch: customers.register_customers(
                    session=s, customers_in=batch, source="bench-seed"
                )
            )
        ids = [
            c.id
            for n in range(MEMBERS)
            if (c := db.read(lambda s, n=n: customers.lookup_customer(
                session=s, kind="phone", value=phone(n)))) is not None
        ]  # fmt: skip
        first = datetime.combine(AS_OF - timedelta(days=DAYS - 1), datetime.min.time(), CST)
        orders_in = [
            OrderIn.model_validate(
                {
                    "source": "bench",
                    "external_id": f"B{i}",
                    "store_code": store(n),
                    "ordered_at": first + timedelta(days=day, hours=10),
                    "customer": {"id": ids[n]},
                    "lines": [{"sku": sku(g), "quantity": 1, "unit_price_fen": 990} for g in goods],
                }
            )
            for i, (n, day, goods) in enumerate(_baskets(random.Random(7)))
        ]
        for start in range(0, len(orders_in), 2000):
            db.write(
                lambda s, chunk=orders_in[start : start + 2000]: orders.record_orders(
                    session=s, orders_in=chunk
                )
            )
        console.print(f"  {len(orders_in):,} orders; running the analytics …")
        run = analytics.run_analytics(db=db, as_of=AS_OF, path=Path(url[10:]).parent / "a.duckdb")
        console.print(f"  run {run.id}: {run.status}, {[(s.step, s.rows) for s in run.steps]}")
        keys = {}
        for code in STORES:
            key_in = ApiKeyCreate(name=f"till {code}", role=Role.CASHIER, store_codes=[code])
            keys[code] = db.write(
                lambda s, key_in=key_in: staff.create_api_key(
                    session=s, key_in=key_in, actor=system_actor("bench")
                )
            ).key
    finally:
        db.dispose()
    return time.perf_counter() - started, keys, ids


def requests(port: int, call: str, count: int, keys: dict[str, str], ids: list[int]) -> list[bytes]:
    """``count`` calls, each from the till of the member's (or a random) store."""
    rng = random.Random(5)
    out = []
    for _ in range(count):
        n = rng.randrange(MEMBERS)
        key = keys[store(n)]
        if call == "recommendations":
            path = f"/api/v1/customers/{ids[n]}/recommendations"
        elif call.startswith("look-up"):
            path = f"/api/v1/loyalty/lookup?phone={phone(n)}"
        else:
            path = f"/api/v1/products/{sku(rng.randrange(PRODUCTS))}/bought-together"
        out.append(get_with_key(port, path, key))
    return out


def server_cpu_s() -> float:
    """The serving process's CPU time so far (user + system): per request, it says what a
    call costs whatever else the machine is doing."""
    fields = Path(f"/proc/{running_servers[-1].pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def table(results: list[Figures], cpu_ms: dict[str, float]) -> Table:
    out = Table(
        title=f"Serving calls at {RATE} requests/s (open loop); target p99 ≤ {TARGET_P99_MS:.0f} ms"
    )
    for name in ("backend", "call", "requests", "achieved/s", "p50 ms", "p99 ms", "max ms",
                 "non-200", "server CPU ms/req"):  # fmt: skip
        out.add_column(name, justify="left" if name in ("backend", "call") else "right")
    for f in results:
        p99 = f.pct(99)
        colour = "green" if p99 <= TARGET_P99_MS else "red"
        bad = sum(n for s, n in f.statuses.items() if s != 200)
        out.add_row(
            f.backend, f.call, f"{f.sent:,}", f"{f.sent / f.wall_s:.0f}", f"{f.pct(50):.1f}",
            f"[{colour}]{p99:.1f}[/]", f"{max(f.latencies_ms):.1f}", str(bad),
            f"{cpu_ms[f.call]:.2f}",
        )  # fmt: skip
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="3 s per call instead of 10")
    args = parser.parse_args(argv)
    share_keyring()
    seconds = 3.0 if args.quick else 10.0
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {CLIENT_CORE})
    console.print(
        f"[bold]Patron serving bench[/]  Python {platform.python_version()}, {os.cpu_count()}"
        f" cores (server on core {SERVER_CORE}, client on core {CLIENT_CORE}),"
        f" {seconds:.0f} s per call"
    )
    results: list[Figures] = []
    cpu_ms: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="patron-bench-recommend-") as tmp:
        root = Path(tmp)
        url = f"sqlite:///{root / 'patron.db'}"
        console.print(f"[bold]SQLite[/]: seeding {MEMBERS:,} members …")
        took, keys, ids = seed(url)
        console.print(f"  seeded in {took:.1f} s")
        with patron_server(url, root) as port:
            for call in CALLS:
                asyncio.run(paced(port, requests(port, call, 200, keys, ids), RATE))  # warm
                cpu0 = server_cpu_s()
                figures = asyncio.run(
                    paced(port, requests(port, call, int(seconds * RATE), keys, ids), RATE)
                )
                cpu_ms[call] = (server_cpu_s() - cpu0) * 1000 / figures.sent
                figures.backend, figures.call = "SQLite", call
                results.append(figures)
                console.print(
                    f"  {call}: p50 {figures.pct(50):.1f} ms, p99 {figures.pct(99):.1f} ms,"
                    f" server CPU {cpu_ms[call]:.2f} ms/request, statuses {dict(figures.statuses)}"
                )
    console.print(table(results, cpu_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
