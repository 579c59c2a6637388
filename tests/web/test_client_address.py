"""Whose address a request comes from: the connection's, unless it arrives through one of the
trusted proxies (``PATRON_TRUSTED_PROXIES``, none by default). It goes into the audit log and
keys the sign-in rate limit, so a caller must not be able to write it themselves."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from patron.audit import service as audit
from patron.cli import serve_options
from patron.core.db import Database
from patron.core.settings import get_settings
from patron.staff.roles import Role
from patron.web.app import create_app
from patron.web.security import forwarded_for, limiter
from tests.web.helpers.api import make_api_key
from tests.web.helpers.app import lent_app
from tests.web.helpers.console import PASSWORD, make_staff


def _trust(monkeypatch: pytest.MonkeyPatch, proxies: str) -> None:
    monkeypatch.setenv("PATRON_TRUSTED_PROXIES", proxies)
    get_settings.cache_clear()


@contextmanager
def _browser(db: Database, peer: str) -> Iterator[TestClient]:
    limiter.reset()
    with (
        lent_app(db) as app,
        TestClient(app, raise_server_exceptions=False, client=(peer, 40000)) as c,
    ):
        yield c


def _failed_addresses(db: Database) -> list[str | None]:
    entries = db.read(lambda s: audit.list_audit(session=s, action="sign_in_failed")).items
    return [e.ip for e in reversed(entries)]


def test_by_default_no_forwarded_header_is_believed(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATRON_SIGN_IN_RATE_PER_MINUTE", "3")
    get_settings.cache_clear()
    make_staff(db, "alice")
    with _browser(db, "203.0.113.9") as client:
        answers = [
            client.post(
                "/sign-in",
                data={"username": "alice", "password": "wrong-pass-1"},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            ).status_code
            for n in range(4)
        ]
    # a new made-up address each time neither hides the caller nor escapes the limit
    assert answers == [401, 401, 401, 429]
    assert _failed_addresses(db) == ["203.0.113.9"] * 3


def test_a_trusted_proxy_passes_the_callers_address_on(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _trust(monkeypatch, "10.0.0.0/8")
    make_staff(db, "alice")
    with _browser(db, "10.0.0.2") as proxied:
        proxied.post(
            "/sign-in",
            data={"username": "alice", "password": "wrong-pass-1"},
            headers={"X-Forwarded-For": "198.51.100.7, 10.0.0.3"},  # through two proxies
        )
    with _browser(db, "203.0.113.9") as direct:
        direct.post(
            "/sign-in",
            data={"username": "alice", "password": "wrong-pass-1"},
            headers={"X-Forwarded-For": "198.51.100.8"},  # not through a proxy: ignored
        )
    assert _failed_addresses(db) == ["198.51.100.7", "203.0.113.9"]


@pytest.mark.parametrize(
    ("peer", "header", "expected"),
    [
        ("10.0.0.2", ["198.51.100.7"], "198.51.100.7"),
        ("10.0.0.2", ["1.1.1.1, 198.51.100.7"], "198.51.100.7"),  # the left one was typed
        ("10.0.0.2", ["198.51.100.7", "10.0.0.9"], "198.51.100.7"),  # two header lines
        ("10.0.0.2", ["10.0.0.5, 10.0.0.9"], "10.0.0.5"),  # proxies all the way
        ("10.0.0.2", ["not-an-address"], "10.0.0.2"),
        ("10.0.0.2", [], "10.0.0.2"),
        ("203.0.113.9", ["198.51.100.7"], "203.0.113.9"),
    ],
)
def test_the_forwarded_chain_is_read_from_the_right(
    peer: str, header: list[str], expected: str
) -> None:
    from ipaddress import ip_network

    assert forwarded_for(peer, header, (ip_network("10.0.0.0/8"),)) == expected


def test_a_proxy_setting_that_is_no_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from patron.core.settings import Settings

    monkeypatch.setenv("PATRON_TRUSTED_PROXIES", "10.0.0.1, proxy.example")
    with pytest.raises(ValidationError, match=r"proxy\.example"):
        Settings()


def test_an_api_keys_actions_are_logged_with_its_address(db: Database) -> None:
    key = make_api_key(db, Role.SERVICE_AGENT)
    with _browser(db, "203.0.113.20") as client:
        client.headers["Authorization"] = f"Bearer {key}"
        made = client.post("/api/v1/customers", json={"identities": {"phone": "13800138000"}})
        client.post(f"/api/v1/customers/{made.json()['id']}/reveal", json={"reason": "核实"})
    (entry,) = db.read(lambda s: audit.list_audit(session=s, action="customer.reveal")).items
    assert (entry.actor_kind, entry.ip) == ("api_key", "203.0.113.20")


# ------------------------------------------------------------------ as `patron serve` runs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _served(db: Database) -> Iterator[str]:
    """The app under uvicorn with the options ``patron serve`` gives it."""
    options = {**serve_options("127.0.0.1", _free_port()), "log_level": "warning"}
    options.pop("workers")
    server = uvicorn.Server(uvicorn.Config(create_app(db), lifespan="off", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{options['port']}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.mark.parametrize("trusted", ["", "127.0.0.1"])
def test_the_server_believes_a_forwarded_header_only_from_a_trusted_proxy(
    db: Database, monkeypatch: pytest.MonkeyPatch, trusted: str
) -> None:
    _trust(monkeypatch, trusted)
    limiter.reset()
    make_staff(db, "alice")
    with _served(db) as base, httpx.Client(base_url=base) as client:
        refused = client.post(
            "/sign-in",
            data={"username": "alice", "password": PASSWORD + "x"},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )
    assert refused.status_code == 401
    assert _failed_addresses(db) == ["198.51.100.7" if trusted else "127.0.0.1"]
