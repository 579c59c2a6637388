"""A small HTTP/1.1 load generator for the benchmarks: pre-serialised requests, raw sockets.

Each request is built to bytes before the clock starts; a run forks a child process (pinned
to its own core) that keeps ``concurrency`` keep-alive connections busy, one request in
flight per connection, and sends back the wall time, its own CPU time, the status counts
and every latency. The client's CPU share is reported beside the figures, so a reader can
see whether the client, not the server, was the limit.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import orjson

# Sent with every request built below once set_api_key() has been called: Patron's API
# answers only integrations that present a key.
_auth = ""


def set_api_key(key: str | None) -> None:
    global _auth
    _auth = f"Authorization: Bearer {key}\r\n" if key else ""


def post(port: int, path: str, body: Any) -> bytes:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{_auth}"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def get(port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{_auth}\r\n".encode()


@dataclass
class LoadResult:
    requests: int
    wall_s: float
    client_cpu_s: float
    latencies_s: list[float]
    statuses: Counter[int]
    bodies: list[bytes] = field(default_factory=list)  # kept when asked, else a few errors

    @property
    def per_s(self) -> float:
        return self.requests / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def client_cpu_share(self) -> float:
        return self.client_cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    def percentile_ms(self, q: float) -> float:
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        rank = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
        return ordered[rank] * 1000


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        raise RuntimeError(f"response without content-length: {head[:200]!r}")
    end = lower.index(b"\r\n", at + 2)
    length = int(lower[at + 17 : end])
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _drive(
    port: int, requests: list[bytes], concurrency: int, keep_bodies: bool
) -> LoadResult:
    connections = [
        await asyncio.open_connection("127.0.0.1", port)
        for _ in range(min(concurrency, len(requests)))
    ]
    latencies = [0.0] * len(requests)
    statuses: Counter[int] = Counter()
    bodies: list[bytes] = []
    cursor = iter(range(len(requests)))
    clock = time.perf_counter

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for i in cursor:
            started = clock()
            writer.write(requests[i])
            status, body = await _read_response(reader)
            latencies[i] = clock() - started
            statuses[status] += 1
            if keep_bodies or (status >= 400 and len(bodies) < 5):
                bodies.append(body)

    cpu0 = time.process_time()
    t0 = clock()
    await asyncio.gather(*(worker(r, w) for r, w in connections))
    wall = clock() - t0
    cpu = time.process_time() - cpu0
    for _, writer in connections:
        writer.close()
    return LoadResult(len(requests), wall, cpu, latencies, statuses, bodies)


def _child(
    conn: Any, port: int, requests: list[bytes], concurrency: int, core: int | None, keep: bool
) -> None:
    try:
        if core is not None:
            os.sched_setaffinity(0, {core})
        try:
            import uvloop

            runner: Callable[[Coroutine[Any, Any, LoadResult]], LoadResult] = uvloop.run
        except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
            runner = asyncio.run
        conn.send(("ok", runner(_drive(port, requests, concurrency, keep))))
    except BaseException as exc:
        conn.send(("error", repr(exc)))
    finally:
        conn.close()


def run_load(
    port: int,
    requests: list[bytes],
    *,
    concurrency: int,
    core: int | None = None,
    keep_bodies: bool = False,
    timeout_s: float = 600.0,
) -> LoadResult:
    """Send every request (in order, spread over the connections) from a forked child."""
    ctx = multiprocessing.get_context("fork")  # the child inherits the payloads, no pickling
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_child, args=(child, port, requests, concurrency, core, keep_bodies), daemon=True
    )
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout_s):
            raise TimeoutError(f"load run did not finish within {timeout_s:.0f} s")
        kind, payload = parent.recv()
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent.close()
    if kind != "ok":
        raise RuntimeError(f"load generator failed: {payload}")
    return payload
