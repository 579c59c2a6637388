"""A webhook receiver on a local port, written as a customer's developer would write one
from docs/events.md: it checks ``Patron-Signature`` (HMAC-SHA256 over "timestamp.body",
five minutes' tolerance, a constant-time compare) before it accepts a delivery, and can be
told to be down (503), to answer with another code, or to take its time (``delay_s``)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_S = 300


def verify(secret: str, header: str, body: bytes, now: datetime) -> bool:
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k == "t"]
    signatures = [v for k, v in parts if k == "v1"]
    if len(stamps) != 1 or not signatures or not stamps[0].isdigit():
        return False
    if abs(now.timestamp() - int(stamps[0])) > TOLERANCE_S:
        return False
    expected = hmac.new(secret.encode(), stamps[0].encode() + b"." + body, hashlib.sha256)
    return any(hmac.compare_digest(expected.hexdigest(), s) for s in signatures)


@dataclass
class Receiver:
    clock: Callable[[], datetime]
    url: str = ""
    secret: str = ""
    status: int = 200  # what to answer with (503: down)
    delay_s: float = 0.0  # how long each request waits before it is answered (a slow endpoint)
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    requests: int = 0
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, header: str, body: bytes, headers: dict[str, str]) -> int:
        with self.lock:
            self.requests += 1
            if not verify(self.secret, header, body, self.clock()):
                self.bad_signatures += 1
                return 400
            if self.status >= 300:
                return self.status
            self.received.append(json.loads(body))
            self.headers.append(headers)
            self.bodies.append(body)
            return 200

    def order_of(self, customer_id: int) -> list[str]:
        return [e["id"] for e in self.received if e["customer_id"] == customer_id]


@contextmanager
def running_receiver(clock: Callable[[], datetime]) -> Iterator[Receiver]:
    receiver = Receiver(clock=clock)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if receiver.delay_s:
                time.sleep(receiver.delay_s)
            code = receiver.take(
                self.headers.get("Patron-Signature", ""), body, dict(self.headers.items())
            )
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/patron"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
