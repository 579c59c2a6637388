"""Where a single-order post spends its time, measured in-process on SQLite.

Everything runs on one thread so a profiler sees it all: the ASGI app is called directly
(no socket, no uvicorn) with FastAPI's thread-pool hops made inline. Prints a breakdown
in µs per order (validation, the service in its transaction, the response), then the
functions with the most self time (pyinstrument when installed, else cProfile).

    .venv/bin/python bench/_profile_ingest.py [--orders 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from _common import Shop, prepare_database, share_keyring
from rich.console import Console
from rich.table import Table


def _inline_threadpool() -> None:
    """Run FastAPI's sync dependencies, endpoints and response checks on the calling thread."""
    import fastapi.dependencies.utils as deps
    from fastapi import routing

    async def inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    routing.run_in_threadpool = inline  # type: ignore[attr-defined]
    deps.run_in_threadpool = inline  # type: ignore[attr-defined]
    import patron.orders.api as orders_api

    if hasattr(orders_api, "run_in_threadpool"):  # the order routes' own hop
        orders_api.run_in_threadpool = inline


def _loadgen_auth() -> list[tuple[bytes, bytes]]:
    """The API key prepare_database() made, as an ASGI header."""
    import _loadgen

    line = _loadgen._auth.strip()
    if not line:
        return []
    name, _, value = line.partition(": ")
    return [(name.lower().encode(), value.encode())]


class _Asgi:
    """POST bodies to an ASGI app on one event loop, without a server."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        return self.loop.run_until_complete(self._call("POST", path, body))

    def get(self, path: str) -> tuple[int, bytes]:
        return self.loop.run_until_complete(self._call("GET", path, b""))

    async def _call(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                *_loadgen_auth(),
                (b"host", b"bench"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)


def _per_order(n: int, work: Callable[[int], object]) -> float:
    started = time.process_time()  # CPU: the machine's load inflates wall time, not this
    for i in range(n):
        work(i)
    return (time.process_time() - started) / n * 1e6


def profile(root: Path, console: Console, orders: int = 2000) -> None:
    from patron.core.db import Database
    from patron.orders import service
    from patron.orders.schemas import OrderIn, OrderRead
    from patron.web.app import create_app

    root.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{root / 'profile.db'}"
    shop = Shop(5000, seed=11)
    prepare_database(url, shop)
    db = Database(url)
    _inline_threadpool()
    asgi = _Asgi(create_app(db))
    batches = iter(range(10**6))

    def bodies(tag: str) -> list[bytes]:
        return [orjson.dumps(shop.order(f"{tag}{next(batches)}")) for _ in range(orders)]

    warm = bodies("W")
    for b in warm[:300]:
        asgi.post("/api/v1/orders", b)

    rows: list[tuple[str, float]] = []
    fresh = bodies("A")
    rows.append(
        (
            "full request, new order (ASGI in-process)",
            _per_order(orders, lambda i: asgi.post("/api/v1/orders", fresh[i])),
        )
    )
    rows.append(
        (
            "full request, idempotent repeat",
            _per_order(orders, lambda i: asgi.post("/api/v1/orders", fresh[i])),
        )
    )
    rows.append(
        (
            "full request, GET /healthz (the framework alone)",
            _per_order(orders, lambda i: asgi.get("/healthz")),
        )
    )
    models = [OrderIn.model_validate_json(b) for b in bodies("V")]
    raw = bodies("J")
    rows.append(
        (
            "  json + OrderIn validation",
            _per_order(orders, lambda i: OrderIn.model_validate_json(raw[i])),
        )
    )
    rows.append(
        (
            "  request_hash (model_dump + sha256)",
            _per_order(orders, lambda i: service.request_hash(models[i])),
        )
    )
    rows.append(
        (
            "  empty write transaction (db.write no-op)",
            _per_order(orders, lambda i: db.write(lambda s: None)),
        )
    )
    reads: list[OrderRead] = []

    def record(i: int) -> None:
        reads.append(db.write(lambda s: service.record_order(session=s, order_in=models[i])).order)

    rows.append(("  record_order in db.write, new order", _per_order(orders, record)))
    rows.append(
        (
            "  record_order in db.write, repeat",
            _per_order(
                orders,
                lambda i: db.write(lambda s: service.record_order(session=s, order_in=models[i])),
            ),
        )
    )
    from pydantic import TypeAdapter

    adapter = TypeAdapter(OrderRead)
    rows.append(
        (
            "  response: validate + dump_json OrderRead",
            _per_order(
                orders,
                lambda i: adapter.dump_json(
                    adapter.validate_python(reads[i], from_attributes=True)
                ),
            ),
        )
    )

    table = Table(title=f"One single-order post on SQLite, in-process ({orders:,} orders each)")
    table.add_column("stage")
    table.add_column("CPU µs / order", justify="right")
    table.add_column("orders/s on one core", justify="right")
    for name, us in rows:
        table.add_row(name, f"{us:,.0f}", f"{1e6 / us:,.0f}")
    console.print(table)

    # Self time of the whole request path: new orders, then repeats.
    profiled = bodies("P")

    def run() -> None:
        for b in profiled:
            asgi.post("/api/v1/orders", b)
        for b in profiled[: orders // 4]:
            asgi.post("/api/v1/orders", b)

    try:
        from pyinstrument import Profiler
        from pyinstrument.renderers import ConsoleRenderer

        profiler = Profiler(interval=0.0002)
        profiler.start()
        run()
        profiler.stop()
        console.print("[bold]pyinstrument, by self time (new orders + 25 % repeats)[/]")
        text = profiler.output(
            ConsoleRenderer(unicode=True, color=False, flat=True, time="percent_of_total")
        )
        console.print("\n".join(text.splitlines()[:60]), markup=False, highlight=False)
        console.print("[bold]pyinstrument, call tree[/]")
        tree = profiler.output(
            ConsoleRenderer(unicode=True, color=False, time="percent_of_total", show_all=False)
        )
        console.print("\n".join(tree.splitlines()[:140]), markup=False, highlight=False)
    except ImportError:
        prof = cProfile.Profile()
        prof.runcall(run)
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(40)
        console.print(out.getvalue(), markup=False, highlight=False)
    finally:
        db.dispose()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--orders", type=int, default=2000)
    args = p.parse_args()
    share_keyring()
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 170)
    with tempfile.TemporaryDirectory(prefix="patron-profile-") as tmp:
        profile(Path(tmp), console, args.orders)
    return 0


if __name__ == "__main__":
    sys.exit(main())
