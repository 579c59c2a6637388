"""Who is calling, and may they: every request passes through :func:`authorize`.

- An integration sends its key as ``Authorization: Bearer pk_…`` (or ``X-API-Key``).
- A browser carries the ``patron_session`` cookie (HttpOnly, SameSite=Lax); every
  state-changing request it makes must also carry the session's CSRF token, as the
  ``X-CSRF-Token`` header (HTMX sends it) or a ``csrf_token`` form field.
- The route's rule comes from :mod:`patron.web.permissions`; no rule, no entry.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import deque
from dataclasses import replace
from ipaddress import ip_address
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from patron.core.actor import Actor
from patron.core.db import Database
from patron.core.errors import Forbidden, TooManyRequests, Unauthenticated
from patron.core.settings import get_settings
from patron.staff import service as staff
from patron.web.permissions import METRICS_TOKEN, PUBLIC, SIGNED_IN, rule_for

SESSION_COOKIE = "patron_session"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RateLimiter:
    """A sliding one-minute window per key, in this process."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str, per_minute: int) -> None:
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= 60.0:
                hits.popleft()
            if len(hits) >= per_minute:
                retry = int(60.0 - (now - hits[0])) + 1
                raise TooManyRequests("too many requests; slow down", retry_after=retry)
            hits.append(now)
            if len(self._hits) > 100_000:  # forget idle keys rather than grow forever
                self._hits = {k: v for k, v in self._hits.items() if v and now - v[-1] < 60.0}

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


limiter = RateLimiter()
_key_used: dict[int, float] = {}


def client_ip(request: Request) -> str | None:
    """The caller's address: the connection's, unless it comes from a trusted proxy
    (``PATRON_TRUSTED_PROXIES``); then X-Forwarded-For is read from the right, skipping the
    trusted proxies it passed, and the first address that is not one is the caller's.
    Anyone else's X-Forwarded-For is ignored: it is whatever the caller wrote."""
    peer = request.client.host if request.client else None
    trusted = get_settings().trusted_proxies
    if peer is None or not trusted:
        return peer
    return forwarded_for(peer, request.headers.getlist("x-forwarded-for"), trusted)


def forwarded_for(peer: str, headers: list[str], trusted: tuple[Any, ...]) -> str:
    """The caller behind ``peer`` by the X-Forwarded-For ``headers``, trusting only
    ``trusted`` networks to have written them."""

    def is_trusted(address: str) -> bool:
        try:
            ip = ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in trusted)

    chain = [part.strip() for header in headers for part in header.split(",")]
    caller = peer
    for hop in reversed(chain):
        if not is_trusted(caller):
            break
        try:
            ip_address(hop)
        except ValueError:
            break  # not an address: the trusted proxy's own view is all there is
        caller = hop
    return caller


def check_lookup_rate(actor: Actor) -> None:
    """Look-ups by phone or card, per store-bound key or session: a till looks up its
    customers, it does not try numbers (``PATRON_LOOKUP_RATE_PER_MINUTE``)."""
    if actor.store_ids is not None:
        limiter.check(f"lookup:{actor.kind}:{actor.id}", get_settings().lookup_rate_per_minute)


def _api_key_of(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.headers.get("x-api-key")


async def authenticate(request: Request, db: Database) -> Actor | None:
    """The actor behind the request's API key or session cookie, or None."""
    key = _api_key_of(request)
    if key is not None:
        actor = staff.actor_for_api_key_cached(key)
        if actor is None:
            actor = await run_in_threadpool(
                db.read, lambda s: staff.actor_for_api_key(session=s, key=key)
            )
        if actor is None:
            raise Unauthenticated("unknown or revoked API key")
        # What a key does is logged with the address it came from, as a person's is.
        actor = replace(actor, ip=client_ip(request))
        if actor.id is not None and time.monotonic() - _key_used.get(actor.id, -1e9) > 60.0:
            _key_used[actor.id] = time.monotonic()
            key_id = actor.id
            await run_in_threadpool(
                db.write, lambda s: staff.note_api_key_use(session=s, api_key_id=key_id)
            )
        return actor
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        ip = client_ip(request)
        return await run_in_threadpool(
            db.read, lambda s: staff.actor_for_session(session=s, token=token, ip=ip)
        )
    return None


async def _csrf_ok(request: Request, actor: Actor) -> bool:
    expected = actor.csrf_token
    if not expected:
        return False
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    return sent is not None and hmac.compare_digest(sent, expected)


async def authorize(request: Request) -> None:
    """App-wide dependency: look up the route's rule, check who calls, stash the actor."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    rule = rule_for(request.method, path) if path else None
    if rule is None:
        raise Forbidden("this route has no permission rule")
    if rule == PUBLIC:
        request.state.actor = None
        return
    if rule == METRICS_TOKEN:
        _check_metrics_token(request)
        request.state.actor = None
        return
    db: Database = request.app.state.db
    actor = await authenticate(request, db)
    if actor is None:
        raise Unauthenticated("sign in or send an API key")
    # Who asked, even if refused below: the console's error page shows them their menu.
    request.state.known_actor = actor
    settings = get_settings()
    limiter.check(f"{actor.kind}:{actor.id}", settings.api_rate_per_minute)
    unsafe = request.method not in _SAFE_METHODS
    if actor.kind == "staff" and unsafe and not await _csrf_ok(request, actor):
        raise Forbidden("missing or wrong CSRF token; reload the page")
    if rule != SIGNED_IN and not actor.can(str(rule)):
        raise Forbidden(f"your role may not do this ({rule})", permission=str(rule))
    request.state.actor = actor


def _check_metrics_token(request: Request) -> None:
    """The operations token as a bearer token: 401 without one, 403 with any other (a staff
    key included), 403 for everyone while PATRON_METRICS_TOKEN is unset."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise Unauthenticated("send the metrics token (Authorization: Bearer …)")
    expected = get_settings().metrics_token
    if expected is None:
        raise Forbidden("metrics are off: set PATRON_METRICS_TOKEN")
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise Forbidden("wrong metrics token")


def actor_of(request: Request) -> Actor:
    """The actor ``authorize`` stashed; a route reading it directly uses this."""
    actor: Actor | None = getattr(request.state, "actor", None)
    if actor is None:
        raise Unauthenticated("sign in or send an API key")
    return actor


async def current_actor(request: Request) -> Actor:
    """The actor ``authorize`` stashed (``async``: no I/O, so no trip to the thread pool)."""
    return actor_of(request)


CurrentActor = Annotated[Actor, Depends(current_actor)]


# ------------------------------------------------------------------------------ headers

_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Adds the headers above to every response, and a strict CSP outside the API docs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Swagger UI at /docs loads its own scripts; everything else gets the strict policy.
        strict = not str(scope.get("path", "")).startswith("/docs")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                headers.extend(_HEADERS)
                if strict:
                    headers.append((b"content-security-policy", _CSP.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
