"""Behaviour-event ingest: batches of 1,000 events through ``POST /api/v1/events``, on SQLite
and PostgreSQL.

Target: ≥ 5,000 events/s in batches on SQLite (docs/events.md). Figures are printed, never
asserted.

Per backend:

1. A fresh database (a SQLite file in a temp dir, or the PostgreSQL schema
   ``patron_bench``), migrated, with 10 stores and 5,000 known customers.
2. A real server (uvicorn, pinned to core 0); one client posts pre-serialised batches of
   1,000 events one after another over a keep-alive connection. The events: ~85 %
   anonymous (one of 20,000 device ids), ~14 % of signed-in visitors naming their phone
   (resolved as an order's customer is), ~1 % ``identify`` events that stitch a device's
   earlier events to its customer. Eight types, with their properties.
3. The same batches again: every event a duplicate (the idempotent repeat).
4. Peers in the same run: the service alone, in this process (validation and writes, no
   HTTP), and the SQL floor: the same rows written with the plain driver (sqlite3 /
   psycopg executemany, no validation, no look-ups).

Run:  .venv/bin/python bench/events.py            (20 batches per backend)
      .venv/bin/python bench/events.py --quick    (5 batches)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from _common import (
    BASE_TIME,
    PG_SCHEMA,
    STORES,
    Shop,
    patron_server,
    postgres_reachable,
    postgres_schema,
    prepare_database,
    share_keyring,
)

BATCH = 1000
DEVICES = 20_000


class Traffic:
    """Behaviour events of a shop's web and mini-program visitors."""

    def __init__(self, shop: Shop, seed: int = 11) -> None:
        self.rng = random.Random(seed)
        self.shop = shop
        self.n = 0

    def _properties(self, kind: str) -> dict[str, Any]:
        sku = f"SKU{self.rng.randrange(2000):05d}"
        by_kind: dict[str, dict[str, Any]] = {
            "page_view": {"url": f"https://shop.example.cn/c/{self.rng.randrange(300)}"},
            "product_view": {"sku": sku, "price_fen": 1290},
            "search": {"query": self.rng.choice(["大米", "牛奶", "纸巾", "洗衣液"]), "results": 12},
            "cart_add": {"sku": sku, "quantity": 1, "price_fen": 1290},
            "cart_remove": {"sku": sku, "quantity": 1},
            "checkout_started": {"total_fen": 5980, "lines": [{"sku": sku, "quantity": 2}]},
            "coupon_viewed": {"template_code": "NEW10"},
        }
        return by_kind[kind]

    def event(self) -> dict[str, Any]:
        self.n += 1
        device = f"dev-{self.rng.randrange(DEVICES):06d}"
        draw = self.rng.random()
        body: dict[str, Any] = {
            "event_id": f"bench-{self.n:09d}",
            "occurred_at": (BASE_TIME + timedelta(milliseconds=self.n * 50)).isoformat(),
            "anonymous_id": device,
            "store_code": self.rng.choice(STORES),
        }
        if draw < 0.01:
            body["type"] = "identify"
            body["properties"] = {}
            body["customer"] = {"phone": self.rng.choice(self.shop.known_phones)}
            return body
        kind = self.rng.choices(
            ["page_view", "product_view", "search", "cart_add", "cart_remove",
             "checkout_started", "coupon_viewed"],
            weights=[40, 30, 10, 10, 3, 4, 3],
        )[0]  # fmt: skip
        body["type"] = kind
        body["properties"] = self._properties(kind)
        if draw < 0.15:
            body["customer"] = {"phone": self.rng.choice(self.shop.known_phones)}
        return body

    def batches(self, count: int) -> list[bytes]:
        return [
            orjson.dumps({"events": [self.event() for _ in range(BATCH)]}) for _ in range(count)
        ]


def _api_key_header() -> str:
    import _loadgen

    # prepare_database made a cashier key for every bench store and set it for the load
    # generator; the same key posts here.
    auth: str = _loadgen._auth
    return auth.split(":", 1)[1].strip()


def _post_all(port: int, batches: list[bytes]) -> tuple[float, dict[str, int]]:
    totals = {"accepted": 0, "duplicates": 0, "stitched": 0}
    headers = {"Authorization": _api_key_header(), "Content-Type": "application/json"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=120) as c:
        started = time.perf_counter()
        for body in batches:
            response = c.post("/api/v1/events", content=body)
            if response.status_code != 200:
                raise RuntimeError(f"{response.status_code}: {response.text[:500]}")
            for key, value in response.json().items():
                totals[key] += value
        elapsed = time.perf_counter() - started
    return elapsed, totals


def _in_process(url: str, batches: list[bytes]) -> float:
    """The service alone: parse, validate, resolve and write, no HTTP."""
    from patron.core.actor import system_actor
    from patron.core.db import Database
    from patron.events import service
    from patron.events.api import _resolver
    from patron.events.schemas import EventBatchIn

    db = Database(url)
    resolve = _resolver(system_actor("bench"))

    def take(body: bytes) -> None:
        batch = EventBatchIn.model_validate_json(body)
        db.write(
            lambda s: service.record_behaviour_events(
                session=s, events_in=batch.events, resolve=resolve
            )
        )

    take(batches[0])  # the process's first batch warms it up and is not counted
    started = time.perf_counter()
    for body in batches[1:]:
        take(body)
    elapsed = time.perf_counter() - started
    db.dispose()
    return elapsed


def _floor_rows(batches: list[bytes]) -> list[tuple[Any, ...]]:
    rows = []
    for body in batches:
        for e in orjson.loads(body)["events"]:
            rows.append(
                (e["event_id"], e["type"], "behaviour", None, e["anonymous_id"], None,
                 e["occurred_at"], e["occurred_at"], json.dumps(e["properties"]))
            )  # fmt: skip
    return rows


_INSERT = (
    "INSERT INTO event (event_id, type, kind, customer_id, anonymous_key, store_id, "
    "occurred_at, received_at, properties) VALUES ({0}, {0}, {0}, {0}, {0}, {0}, {0}, {0}, {0})"
)


def _sql_floor_sqlite(path: Path, rows: list[tuple[Any, ...]]) -> float:
    conn = sqlite3.connect(path)
    statement = _INSERT.format("?")
    started = time.perf_counter()
    for start in range(0, len(rows), BATCH):
        with conn:
            conn.executemany(statement, rows[start : start + BATCH])
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def _sql_floor_pg(url: str, rows: list[tuple[Any, ...]]) -> float:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    conninfo = parsed.set(drivername="postgresql", query={}).render_as_string(False)
    options = parsed.query.get("options")
    with psycopg.connect(conninfo, options=str(options or "")) as conn:
        statement = _INSERT.format("%s")
        started = time.perf_counter()
        for start in range(0, len(rows), BATCH):
            with conn.cursor() as cur:
                cur.executemany(statement, rows[start : start + BATCH])
            conn.commit()
        return time.perf_counter() - started


def _bench(
    name: str, url: str, tmp: Path, count: int, floor: Callable[[list[tuple[Any, ...]]], float]
) -> list[tuple[str, str, float]]:
    shop = Shop(known_customers=5000)
    prepare_database(url, shop)
    traffic = Traffic(shop)
    warm_up = traffic.batches(1)  # the server's and the process's first batch, not counted
    api_batches = traffic.batches(count)
    service_batches = traffic.batches(count + 1)
    floor_batches = traffic.batches(count)
    events = count * BATCH
    figures = []
    with patron_server(url, tmp, log_name=f"server-{name}") as port:
        _post_all(port, warm_up)
        elapsed, totals = _post_all(port, api_batches)
        figures.append((name, f"API, new events ({totals['stitched']} stitched)", events / elapsed))
        elapsed, again = _post_all(port, api_batches)
        assert again["duplicates"] == events
        figures.append((name, "API, the same batches again (duplicates)", events / elapsed))
    figures.append(
        (name, "service in process (no HTTP)", events / _in_process(url, service_batches))
    )
    figures.append(
        (name, "SQL floor (plain executemany)", events / floor(_floor_rows(floor_batches)))
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 batches per backend")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    count = 5 if args.quick else args.batches
    share_keyring()
    os.environ.setdefault("PATRON_ENV", "development")
    figures: list[tuple[str, str, float]] = []
    with tempfile.TemporaryDirectory(prefix="patron-bench-events-") as name:
        tmp = Path(name)
        path = tmp / "events.sqlite"
        figures += _bench(
            "SQLite", f"sqlite:///{path}", tmp, count, lambda rows: _sql_floor_sqlite(path, rows)
        )
        if not args.no_pg and postgres_reachable():
            with postgres_schema(PG_SCHEMA) as url:
                figures += _bench(
                    "PostgreSQL", url, tmp, count, lambda rows: _sql_floor_pg(url, rows)
                )
        elif not args.no_pg:
            print("PostgreSQL not reachable on 127.0.0.1:5432: its figures are left out")
    load = os.getloadavg()
    print(f"\n{count} batches of {BATCH:,} events per run · load average {load[0]:.2f}, "
          f"{load[1]:.2f}, {load[2]:.2f} · {os.cpu_count()} cores · Python {sys.version.split()[0]}")  # fmt: skip
    print(f"{'backend':<12} {'run':<48} {'events/s':>10}")
    for backend, work, rate in figures:
        print(f"{backend:<12} {work:<48} {rate:>10,.0f}")
    print("target: ≥ 5,000 events/s through the API on SQLite")


if __name__ == "__main__":
    main()
