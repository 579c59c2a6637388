"""Helpers for tests that go through the JSON API: a client, request bodies, error fields."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi.testclient import TestClient

from patron.core import caches
from patron.core.actor import system_actor
from patron.core.db import Database
from patron.staff import service as staff
from patron.staff.roles import Role
from patron.staff.schemas import ApiKeyCreate
from patron.web.security import limiter
from tests.helpers import IDENTITY_FIELDS
from tests.web.helpers.app import lent_app

PHONE = "+8613800138000"
ORDERED_AT = "2026-03-01T10:00:00+08:00"
REFUNDED_AT = "2026-03-02T10:00:00+08:00"
LINE = {"sku": "SKU-1", "quantity": 1, "unit_price_fen": 1000}


def make_api_key(db: Database, role: Role = Role.ADMIN, stores: list[str] | None = None) -> str:
    """A new API key with ``role`` (in ``stores``), made the way an administrator would."""
    key_in = ApiKeyCreate(name=f"test {role.value}", role=role, store_codes=stores or [])
    created = db.write(
        lambda s: staff.create_api_key(session=s, key_in=key_in, actor=system_actor("tests"))
    )
    return created.key


@contextmanager
def api_client(
    db: Database, *, role: Role | None = Role.ADMIN, stores: list[str] | None = None
) -> Iterator[TestClient]:
    """A client on a fresh app, calling with an API key of ``role`` (None: no key at all).

    A 500 comes back as a response, so tests can assert on it.
    """
    limiter.reset()
    caches.clear_all()
    with lent_app(db) as app, TestClient(app, raise_server_exceptions=False) as client:
        if role is not None:
            client.headers["Authorization"] = f"Bearer {make_api_key(db, role, stores)}"
        yield client


def order_body(
    external_id: str = "O1",
    *,
    source: str = "pos-sh01",
    lines: list[dict[str, Any]] | None = None,
    customer: dict[str, Any] | None = None,
    ordered_at: str = ORDERED_AT,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": source,
        "external_id": external_id,
        "ordered_at": ordered_at,
        "lines": copy.deepcopy(lines) if lines is not None else [dict(LINE)],
        **extra,
    }
    if customer is not None:
        body["customer"] = customer
    return body


def refund_body(
    external_id: str = "R1",
    *,
    order_external_id: str | None = "O1",
    source: str = "pos-sh01",
    refunded_at: str = REFUNDED_AT,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": source,
        "external_id": external_id,
        "refunded_at": refunded_at,
        **extra,
    }
    if order_external_id is not None:
        body["order_external_id"] = order_external_id
    return body


def post_order(client: TestClient, external_id: str = "O1", **kwargs: Any) -> dict[str, Any]:
    """Post an order that must be accepted; its read."""
    response = client.post("/api/v1/orders", json=order_body(external_id, **kwargs))
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


def sign_up(client: TestClient, **fields: Any) -> dict[str, Any]:
    identities = {k: fields.pop(k) for k in list(fields) if k in IDENTITY_FIELDS}
    response = client.post("/api/v1/customers", json={"identities": identities, **fields})
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


def reveal(
    client: TestClient, customer_id: int, reason: str = "test: check stored values"
) -> dict[str, Any]:
    """The customer unmasked, as a member of staff allowed to reveal would see it."""
    response = client.post(f"/api/v1/customers/{customer_id}/reveal", json={"reason": reason})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def error_fields(response: httpx.Response) -> list[str]:
    """The dotted fields a 422 names."""
    assert response.status_code == 422, response.text
    return [item["field"] for item in response.json()["detail"]]
