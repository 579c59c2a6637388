"""Helpers for tests that go through the JSON API: a client, request bodies, error fields."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi.testclient import TestClient

from patron.core.db import Database
from patron.web.app import create_app
from tests.factories import IDENTITY_FIELDS

PHONE = "+8613800138000"
ORDERED_AT = "2026-03-01T10:00:00+08:00"
REFUNDED_AT = "2026-03-02T10:00:00+08:00"
LINE = {"sku": "SKU-1", "quantity": 1, "unit_price_fen": 1000}


@contextmanager
def api_client(db: Database) -> Iterator[TestClient]:
    """A client on a fresh app; a 500 comes back as a response, so tests can assert on it."""
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
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


def error_fields(response: httpx.Response) -> list[str]:
    """The dotted fields a 422 names."""
    assert response.status_code == 422, response.text
    return [item["field"] for item in response.json()["detail"]]
