"""An HTTP/1.1 client for the providers' APIs that keeps its connection open and holds back
the request's last byte until the hand-over is recorded (see ``base.py``)."""

from __future__ import annotations

import http.client
import select
import socket
import ssl
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urlsplit

from patron.engagement.channels.base import Handover, take_over


class NotSent(Exception):
    """The request never reached the provider whole: safe to send again."""


class Unconfirmed(Exception):
    """The whole request went out but no answer came back."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Message
    body: bytes

    def retry_after(self) -> float | None:
        value = self.headers.get("Retry-After")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            return None  # an HTTP date: the caller's own back-off applies


class HttpLink:
    """One persistent connection to one provider's host."""

    def __init__(self, base_url: str, *, timeout_s: float = 15.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) address: {base_url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.netloc = parts.netloc
        self.base_path = parts.path.rstrip("/")
        self.timeout_s = timeout_s
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        conn = self._conn
        if conn is not None and conn.sock is not None and _closed_by_peer(conn.sock):
            conn.close()
            conn = None
        if conn is None:
            if self.scheme == "https":
                conn = http.client.HTTPSConnection(
                    self.host,
                    self.port,
                    timeout=self.timeout_s,
                    context=ssl.create_default_context(),
                )
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            self._conn = conn
        return conn

    def post(
        self,
        path: str,
        *,
        headers: dict[str, str],
        body: bytes,
        handover: Handover | None = None,
    ) -> Reply:
        """POST ``body`` to ``path``; ``handover`` is called before the last byte goes."""
        if not body:
            raise ValueError("a request whose last byte is held back needs a body")
        conn = self._connection()
        try:
            conn.putrequest("POST", self.base_path + path or "/", skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders()
            conn.send(body[:-1])
        except OSError as exc:
            self.close()
            raise NotSent(f"{type(exc).__name__}: {exc}") from exc
        if handover is not None:
            try:
                take_over(handover)
            except BaseException:
                self.close()  # the provider sees a request cut short and drops it
                raise
        try:
            conn.send(body[-1:])
        except OSError as exc:
            self.close()
            raise NotSent(f"{type(exc).__name__}: {exc}") from exc
        try:
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise Unconfirmed(f"{type(exc).__name__}: {exc}") from exc
        if response.will_close:
            self.close()
        return Reply(response.status, response.headers, data)

    def get(self, path: str) -> Reply:
        """A plain GET (a token fetch: nothing to hand over)."""
        conn = self._connection()
        try:
            conn.request("GET", self.base_path + path or "/")
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise NotSent(f"{type(exc).__name__}: {exc}") from exc
        if response.will_close:
            self.close()
        return Reply(response.status, response.headers, data)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _closed_by_peer(sock: socket.socket) -> bool:
    """An idle kept-alive connection the server has closed reads as ready (EOF): reusing it
    would send a request into nothing."""
    try:
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
