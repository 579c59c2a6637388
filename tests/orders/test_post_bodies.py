"""POST /api/v1/orders reads its body itself (docs/architecture.md, "Order intake over
HTTP"): every body it refuses is refused exactly as FastAPI's own body handling refuses it,
and in the same order against the sign-in check (a body that is not JSON is 422 before
anything else; a JSON body is only validated for a caller allowed to post orders).

The reference is the same path served by FastAPI's body parameter, with the application's
permission check and error handlers: status, headers and bytes must be equal.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi import Depends, FastAPI, Request, Response
from fastapi.testclient import TestClient

from patron.core.db import Database
from patron.orders.schemas import OrderIn
from patron.staff.roles import Role
from patron.web.errors import install_error_handlers
from patron.web.security import authorize, limiter
from tests.web.helpers.api import api_client, make_api_key, order_body

PATH = "/api/v1/orders"


def _reference_app(db: Database, max_body_size: int | None = None) -> FastAPI:
    """POST /api/v1/orders with FastAPI reading the body (``order_in: OrderIn``)."""
    app = FastAPI(dependencies=[Depends(authorize)], max_body_size=max_body_size)
    app.state.db = db
    install_error_handlers(app)

    @app.post(PATH, status_code=201)
    def reference(order_in: OrderIn, request: Request) -> Response:
        return Response(b'{"accepted": true}', status_code=201, media_type="application/json")

    return app


def _valid() -> dict[str, Any]:
    return order_body("BODY-1")


def _json(value: Any) -> bytes:
    return orjson.dumps(value)  # compact, so the replacements below find their text


def _with(**fields: Any) -> bytes:
    return _json({**_valid(), **fields})


def _line(**fields: Any) -> bytes:
    body = _valid()
    body["lines"] = [{**body["lines"][0], **fields}]
    return _json(body)


_VALID = _json(_valid())

# (id, body, content type or None for none at all)
BODIES: list[tuple[str, bytes, str | None]] = [
    ("empty", b"", "application/json"),
    ("not json", b"{not json", "application/json"),
    ("truncated", _VALID[:-5], "application/json"),
    ("trailing garbage", _VALID + b"x", "application/json"),
    ("null", b"null", "application/json"),
    ("a list", b"[]", "application/json"),
    ("a string", b'"order"', "application/json"),
    ("a number", b"12", "application/json"),
    ("an empty object", b"{}", "application/json"),
    ("wrong types", _with(source=1, external_id=None, lines="x"), "application/json"),
    ("unknown field", _with(coupon_code="X"), "application/json"),
    ("negative discount", _with(order_discount_fen=-1), "application/json"),
    ("no lines", _with(lines=[]), "application/json"),
    ("total that does not add up", _with(total_fen=1), "application/json"),
    ("bad time", _with(ordered_at="yesterday"), "application/json"),
    ("time out of range", _with(ordered_at="0001-01-01T00:00:00"), "application/json"),
    ("bad quantity", _line(quantity="abc"), "application/json"),
    ("NaN quantity", _VALID.replace(b'"quantity":1', b'"quantity":NaN'), "application/json"),
    (
        "Infinity price",
        _VALID.replace(b'"unit_price_fen":1000', b'"unit_price_fen":Infinity'),
        "application/json",
    ),
    (
        "price beyond 64 bits",
        _VALID.replace(b'"unit_price_fen":1000', b'"unit_price_fen":' + b"9" * 30),
        "application/json",
    ),
    (
        "float overflow",
        _VALID.replace(b'"unit_price_fen":1000', b'"unit_price_fen":1e400'),
        "application/json",
    ),
    (
        "float price",
        _VALID.replace(b'"unit_price_fen":1000', b'"unit_price_fen":10.5'),
        "application/json",
    ),
    ("lone surrogate", _VALID.replace(b'"SKU-1"', b'"\\ud800"'), "application/json"),
    ("invalid utf-8", _VALID.replace(b'"SKU-1"', b'"SKU-\xff"'), "application/json"),
    ("utf-8 BOM", b"\xef\xbb\xbf" + _with(order_discount_fen=-1), "application/json"),
    ("utf-16", _with(order_discount_fen=-1).decode().encode("utf-16"), "application/json"),
    (
        "duplicate keys",
        _with(order_discount_fen=-1)[:-1] + b',"order_discount_fen":-2}',
        "application/json",
    ),
    ("no content type", _with(order_discount_fen=-1), None),
    ("text/plain", _with(order_discount_fen=-1), "text/plain"),
    ("charset", _with(order_discount_fen=-1), "application/json; charset=utf-8"),
    ("upper case", _with(order_discount_fen=-1), "APPLICATION/JSON"),
    ("+json", _with(order_discount_fen=-1), "application/vnd.till+json"),
    ("form", b"source=x", "application/x-www-form-urlencoded"),
    ("not json, no content type", b"{not json", None),
    ("not json, text/plain", b"{not json", "text/plain"),
]


@pytest.fixture
def clients(db: Database) -> Iterator[tuple[TestClient, TestClient, dict[str, str]]]:
    """The application and the reference, and the callers: a key that may post orders
    (admin), one that may not (analyst), and none."""
    with api_client(db, role=None) as app:
        keys = {
            "admin": make_api_key(db, Role.ADMIN),
            "analyst": make_api_key(db, Role.ANALYST),
        }
        with TestClient(_reference_app(db), raise_server_exceptions=False) as reference:
            yield app, reference, keys


@pytest.mark.parametrize("caller", ["admin", "analyst", "none"])
def test_a_refused_body_is_answered_as_fastapi_answers_it(
    clients: tuple[TestClient, TestClient, dict[str, str]], caller: str
) -> None:
    app, reference, keys = clients
    differences = []
    for name, body, content_type in BODIES:
        headers = {} if content_type is None else {"Content-Type": content_type}
        if caller in keys:
            headers["Authorization"] = f"Bearer {keys[caller]}"
        limiter.reset()
        expected = reference.post(PATH, content=body, headers=headers)
        assert expected.status_code != 201, name  # every body here is refused
        limiter.reset()
        got = app.post(PATH, content=body, headers=headers)
        seen = [
            (r.status_code, r.content, r.headers.get("www-authenticate"), r.headers["content-type"])
            for r in (got, expected)
        ]
        if seen[0] != seen[1]:
            differences.append((name, *seen))
    assert differences == []


def test_a_valid_body_in_any_json_spelling_is_one_order(
    clients: tuple[TestClient, TestClient, dict[str, str]],
) -> None:
    """The same order sent as UTF-8, with a BOM, as UTF-16, with NaN-free floats and a
    charset parameter is stored once; the repeats are replays of the first."""
    app, _, keys = clients
    auth = {"Authorization": f"Bearer {keys['admin']}"}
    first = app.post(PATH, content=_VALID, headers={**auth, "Content-Type": "application/json"})
    assert first.status_code == 201, first.text
    for body, content_type in [
        (_VALID, "application/json; charset=utf-8"),
        (b"\xef\xbb\xbf" + _VALID, "application/json"),
        (_VALID.decode().encode("utf-16"), "application/json"),
        (_VALID.replace(b'"quantity":1', b'"quantity":1.0'), "application/vnd.till+json"),
    ]:
        again = app.post(PATH, content=body, headers={**auth, "Content-Type": content_type})
        assert again.status_code == 200, (content_type, again.text)
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.content == first.content


def test_a_bulk_post_paces_the_collector_and_gives_the_threshold_back(
    clients: tuple[TestClient, TestClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch is stored while the young generation is collected less often (as during
    an import); the process's threshold is the same afterwards, after a refused batch too."""
    import gc

    from patron.orders import service

    app, _, keys = clients
    auth = {"Authorization": f"Bearer {keys['admin']}"}
    before = gc.get_threshold()
    during: list[tuple[int, int, int]] = []
    record_orders = service.record_orders

    def watched(**kwargs: Any) -> Any:
        during.append(gc.get_threshold())
        return record_orders(**kwargs)

    monkeypatch.setattr(service, "record_orders", watched)
    batch = [order_body("G1"), order_body("G2"), {**order_body("G3"), "lines": []}]
    response = app.post("/api/v1/orders/bulk", json={"orders": batch}, headers=auth)
    assert response.status_code == 200, response.text
    assert [r["status"] for r in response.json()["results"]] == ["created", "created", "invalid"]
    assert during and during[0][0] > before[0]
    assert gc.get_threshold() == before


def test_a_body_over_the_size_limit_is_answered_as_fastapi_answers_it(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body beyond ``max_request_mb`` is refused with FastAPI's 413 before anything is
    read into an order, from every kind of caller, and nothing is stored."""
    from patron.core.settings import get_settings
    from patron.orders.models import Order

    monkeypatch.setenv("PATRON_MAX_REQUEST_MB", "0.001")  # 1,048 bytes
    get_settings.cache_clear()
    limit = int(get_settings().max_request_mb * 1024 * 1024)
    body = order_body(
        "BIG-1", lines=[{**order_body()["lines"][0], "sku": f"SKU-{n}"} for n in range(40)]
    )
    oversized = _json(body)
    assert len(oversized) > limit
    with (
        api_client(db, role=None) as app,
        TestClient(_reference_app(db, limit), raise_server_exceptions=False) as reference,
    ):
        keys = {"admin": make_api_key(db, Role.ADMIN), "analyst": make_api_key(db, Role.ANALYST)}
        for caller in ["admin", "analyst", "none"]:
            headers = {"Content-Type": "application/json"}
            if caller in keys:
                headers["Authorization"] = f"Bearer {keys[caller]}"
            limiter.reset()
            expected = reference.post(PATH, content=oversized, headers=headers)
            limiter.reset()
            got = app.post(PATH, content=oversized, headers=headers)
            assert expected.status_code == 413, (caller, expected.text)
            assert (got.status_code, got.content) == (expected.status_code, expected.content)
    with db.session() as session:
        assert session.query(Order).count() == 0
