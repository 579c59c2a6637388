"""Orders, bulk posts and refunds through the JSON API: totals, idempotency, field errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from patron.core.db import Database
from tests.web.helpers.api import (
    LINE,
    ORDERED_AT,
    api_client,
    error_fields,
    order_body,
    post_order,
    refund_body,
    reveal,
)

# ------------------------------------------------------------------------------- orders

WEIGHED_AND_PIECES = [
    {"sku": "APPLE", "name": "富士苹果", "quantity": "0.455", "unit_price_fen": 1299},  # 591.045
    {"sku": "PEAR", "quantity": 1.5, "unit_price_fen": 1299},  # 1948.5 → 1949
    {"sku": "MILK", "quantity": 3, "unit_price_fen": 650, "discount_fen": 150},  # 1800
]


def test_a_new_order_is_201_with_totals_computed_from_the_rounded_lines(api: TestClient) -> None:
    response = api.post(
        "/api/v1/orders",
        json=order_body(lines=WEIGHED_AND_PIECES, order_discount_fen=40, payment_method="alipay"),
    )
    assert response.status_code == 201, response.text
    assert "Idempotent-Replayed" not in response.headers
    order = response.json()
    assert [line["amount_fen"] for line in order["lines"]] == [591, 1949, 1800]
    assert [line["quantity"] for line in order["lines"]] == ["0.455", "1.5", "3"]
    assert [line["line_no"] for line in order["lines"]] == [1, 2, 3]
    assert order["gross_fen"] == 591 + 1949 + 1950
    assert order["discount_fen"] == 150 + 40
    assert order["order_discount_fen"] == 40
    assert order["total_fen"] == 591 + 1949 + 1800 - 40
    assert order["refunded_fen"] == 0
    assert order["currency"] == "CNY"
    assert order["store_code"] == "MAIN"  # the default store, created on first use
    assert order["channel"] == "pos"
    assert order["payment_method"] == "alipay"
    assert order["customer_id"] is None  # no identifiers: an anonymous sale
    assert api.get(f"/api/v1/orders/{order['id']}").json() == order


@pytest.mark.parametrize(
    ("quantity", "unit_price_fen", "amount_fen"),
    [
        ("0.455", 1299, 591),  # 591.045
        ("1.5", 1299, 1949),  # 1948.5: half up, where banker's rounding would give 1948
        ("0.505", 1300, 657),  # 656.5: half up, where banker's rounding would give 656
        ("0.001", 499, 0),  # 0.499
        ("0.001", 500, 1),  # 0.5
        ("2.000", 1299, 2598),
    ],
)
def test_a_weighed_line_is_rounded_half_up_to_the_fen(
    api: TestClient, quantity: str, unit_price_fen: int, amount_fen: int
) -> None:
    line = {"sku": "W", "quantity": quantity, "unit_price_fen": unit_price_fen}
    order = post_order(api, lines=[line])
    assert order["lines"][0]["amount_fen"] == amount_fen
    assert order["total_fen"] == amount_fen


def test_a_line_amount_sent_by_the_till_is_kept(api: TestClient) -> None:
    line = {"sku": "W", "quantity": "0.455", "unit_price_fen": 1299, "amount_fen": 590}
    order = post_order(api, lines=[line])
    assert order["lines"][0]["amount_fen"] == 590
    assert order["total_fen"] == 590


def test_posting_the_same_order_again_answers_200_with_the_first_result(api: TestClient) -> None:
    first = api.post("/api/v1/orders", json=order_body(lines=WEIGHED_AND_PIECES))
    again = api.post("/api/v1/orders", json=order_body(lines=WEIGHED_AND_PIECES))
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


def test_a_repeat_is_answered_from_a_read_without_a_write(
    api: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = api.post("/api/v1/orders", json=order_body(lines=WEIGHED_AND_PIECES))
    assert first.status_code == 201, first.text

    def no_write(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a repeat took a write transaction")

    monkeypatch.setattr(db, "write", no_write)
    again = api.post("/api/v1/orders", json=order_body(lines=WEIGHED_AND_PIECES))
    assert again.status_code == 200, again.text
    assert again.content == first.content
    other = api.post("/api/v1/orders", json=order_body(lines=[LINE]))  # the same key, changed
    assert other.status_code == 409, other.text


def test_a_posted_order_is_answered_in_the_bytes_its_read_by_id_is(api: TestClient) -> None:
    # The post writes its answer itself; it must be what FastAPI writes for the same order.
    first = api.post("/api/v1/orders", json=order_body(lines=WEIGHED_AND_PIECES))
    again = api.post("/api/v1/orders", json=order_body(lines=WEIGHED_AND_PIECES))
    read = api.get(f"/api/v1/orders/{first.json()['id']}")
    assert first.content == again.content == read.content
    assert first.headers["content-type"] == read.headers["content-type"] == "application/json"
    assert first.headers["content-length"] == str(len(first.content))


def test_the_same_order_spelt_differently_is_a_replay_not_a_conflict(api: TestClient) -> None:
    first = api.post(
        "/api/v1/orders",
        json=order_body(
            customer={"phone": "+8613800138000", "email": "wang@example.com"},
            ordered_at="2026-01-05T02:00:00Z",
            lines=[{"sku": "APPLE", "quantity": "1.50", "unit_price_fen": 1299}],
        ),
    )
    again = api.post(
        "/api/v1/orders",
        json={
            # other key order, other spellings of the same phone, e-mail, time and quantity
            "lines": [{"unit_price_fen": 1299, "quantity": 1.5, "sku": " APPLE "}],
            "customer": {"email": "Wang@Example.COM", "phone": "138 0013 8000"},
            "ordered_at": "2026-01-05T10:00:00",
            "external_id": "O1",
            "source": "pos-sh01",
        },
    )
    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]


def test_the_same_key_with_other_content_is_409_and_keeps_the_first_order(
    api: TestClient,
) -> None:
    first = post_order(api)
    other = order_body(lines=[{**LINE, "quantity": 2}])
    response = api.post("/api/v1/orders", json=other)
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "idempotency_conflict"
    assert body["order_id"] == first["id"]
    assert api.get(f"/api/v1/orders/{first['id']}").json()["total_fen"] == 1000


def test_the_same_external_id_from_another_source_is_another_order(api: TestClient) -> None:
    one = post_order(api, source="pos-sh01")
    two = post_order(api, source="pos-sh02")
    assert one["id"] != two["id"]


def _without(key: str) -> dict[str, Any]:
    body = order_body()
    del body[key]
    return body


def _line(**changes: Any) -> dict[str, Any]:
    return order_body(lines=[{**LINE, **changes}])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(_line(quantity="two"), "lines.0.quantity", id="non-numeric quantity"),
        pytest.param(_line(quantity=True), "lines.0.quantity", id="boolean quantity"),
        pytest.param(_line(quantity=0), "lines.0.quantity", id="zero quantity"),
        pytest.param(_line(quantity="-1"), "lines.0.quantity", id="negative quantity"),
        pytest.param(_line(quantity="1.2345"), "lines.0.quantity", id="four decimals"),
        pytest.param(_line(unit_price_fen=-1), "lines.0.unit_price_fen", id="negative price"),
        pytest.param(_line(unit_price_fen=9.99), "lines.0.unit_price_fen", id="fractional fen"),
        pytest.param(_line(discount_fen=-5), "lines.0.discount_fen", id="negative discount"),
        pytest.param(_line(sku=""), "lines.0.sku", id="empty sku"),
        pytest.param(_line(colour="red"), "lines.0.colour", id="unknown line field"),
        pytest.param(_without("lines"), "lines", id="missing lines"),
        pytest.param(order_body(lines=[]), "lines", id="no lines"),
        pytest.param(_without("source"), "source", id="missing source"),
        pytest.param(_without("ordered_at"), "ordered_at", id="missing time"),
        pytest.param(order_body(ordered_at="yesterday"), "ordered_at", id="unreadable time"),
        pytest.param(order_body(customer={"phone": "12345"}), "customer.phone", id="bad phone"),
        pytest.param(order_body(customer={"email": "wang@"}), "customer.email", id="bad e-mail"),
        pytest.param(order_body(customer={"id": 0}), "customer.id", id="customer id 0"),
        pytest.param(order_body(payment_method="bitcoin"), "payment_method", id="bad payment"),
        pytest.param(order_body(channel="fax"), "channel", id="bad channel"),
        pytest.param(order_body(coupon_code="X"), "coupon_code", id="unknown field"),
        pytest.param(order_body(order_discount_fen=-1), "order_discount_fen", id="neg discount"),
    ],
)
def test_an_invalid_order_is_422_naming_the_field(
    api: TestClient, body: dict[str, Any], field: str
) -> None:
    response = api.post("/api/v1/orders", json=body)
    assert error_fields(response) == [field]
    payload = response.json()
    assert payload["error"] == "invalid"
    assert payload["message"].startswith(f"{field}: ")
    assert "input" not in payload["detail"][0]  # what was sent is never echoed


def test_an_order_that_is_not_json_is_422(api: TestClient) -> None:
    response = api.post(
        "/api/v1/orders", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    "ordered_at",
    [
        "2026-01-05T10:00:00",
        "2026-01-05 10:00:00",
        "2026-01-05T10:00:00+08:00",
        "2026-01-05T02:00Z",
    ],
)
def test_a_time_without_a_zone_is_wall_clock_time_in_shanghai(
    api: TestClient, ordered_at: str
) -> None:
    order = post_order(api, ordered_at=ordered_at)
    assert order["ordered_at"] == "2026-01-05T02:00:00Z"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"total_fen": 999}, "total_fen"),
        ({"order_discount_fen": 1001}, "order_discount_fen"),
        ({"lines": [{**LINE, "discount_fen": 1001}]}, "lines.0.discount_fen"),
    ],
)
def test_totals_that_do_not_add_up_are_422_and_say_why(
    api: TestClient, changes: dict[str, Any], field: str
) -> None:
    response = api.post("/api/v1/orders", json=order_body(**changes))
    assert response.status_code == 422
    assert field.rsplit(".", 1)[-1] in response.json()["message"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"total_fen": 999}, "total_fen"),
        ({"order_discount_fen": 1001}, "order_discount_fen"),
        ({"lines": [{**LINE, "discount_fen": 1001}]}, "lines.0.discount_fen"),
    ],
)
def test_totals_that_do_not_add_up_are_422_naming_the_field(
    api: TestClient, changes: dict[str, Any], field: str
) -> None:
    response = api.post("/api/v1/orders", json=order_body(**changes))
    assert error_fields(response) == [field]


def test_a_matching_total_is_accepted(api: TestClient) -> None:
    order = post_order(api, lines=WEIGHED_AND_PIECES, order_discount_fen=40, total_fen=4300)
    assert order["total_fen"] == 4300


def test_an_order_from_an_unknown_store_is_422_naming_store_code(api: TestClient) -> None:
    response = api.post("/api/v1/orders", json=order_body(store_code="NOPE"))
    assert error_fields(response) == ["store_code"]
    assert response.json()["error"] == "unknown_store"


def test_an_order_takes_its_channel_from_its_store_unless_it_says(api: TestClient) -> None:
    store = {"code": "TMALL", "name": "天猫旗舰店", "kind": "online"}
    assert api.post("/api/v1/stores", json=store).status_code == 201
    web = post_order(api, "W1", store_code="TMALL")
    phoned = post_order(api, "W2", store_code="TMALL", channel="phone")
    assert (web["store_code"], web["channel"]) == ("TMALL", "online")
    assert phoned["channel"] == "phone"


def test_an_order_too_large_to_store_is_422_not_500(api: TestClient) -> None:
    line = {"sku": "GOLD", "quantity": 1_000_000, "unit_price_fen": 10**13}
    response = api.post("/api/v1/orders", json=order_body(lines=[line]))
    assert response.status_code == 422


@pytest.mark.parametrize("ordered_at", ["0001-01-01T00:00:00", "9999-12-31T23:59:59-12:00"])
def test_a_time_at_the_edge_of_the_calendar_is_422_not_500(
    api: TestClient, ordered_at: str
) -> None:
    response = api.post("/api/v1/orders", json=order_body(ordered_at=ordered_at))
    assert error_fields(response) == ["ordered_at"]


def test_a_rejected_phone_is_not_echoed_back(api: TestClient) -> None:
    response = api.post("/api/v1/orders", json=order_body(customer={"phone": "1380013800"}))
    assert response.status_code == 422
    assert "1380013800" not in response.text


def test_an_order_is_read_by_id_and_by_key(api: TestClient) -> None:
    order = post_order(api, "O-77", source="shop-web")
    assert api.get(f"/api/v1/orders/{order['id']}").json() == order
    by_key = api.get("/api/v1/orders", params={"source": "shop-web", "external_id": "O-77"})
    assert by_key.status_code == 200
    assert by_key.json() == order


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/v1/orders/999", 404),
        ("/api/v1/orders?source=shop-web&external_id=nope", 404),
        ("/api/v1/orders?source=pos-sh01&external_id=O-77", 404),  # right id, other source
        ("/api/v1/orders?source=shop-web", 422),
        ("/api/v1/orders/abc", 422),
        ("/api/v1/orders/0", 422),
        ("/api/v1/orders/99999999999999999999", 422),  # beyond a 64-bit id
    ],
)
def test_missing_or_malformed_order_lookups(api: TestClient, url: str, status: int) -> None:
    post_order(api, "O-77", source="shop-web")
    response = api.get(url)
    assert response.status_code == status, response.text
    if status == 404:
        assert response.json()["error"] == "order_not_found"


# --------------------------------------------------------------------------------- bulk


def test_a_bulk_post_reports_every_order_on_its_own(api: TestClient) -> None:
    existing = post_order(api, "O1")
    batch = [
        order_body("B1"),  # 0 new
        order_body("O1"),  # 1 posted before, same content
        order_body("O1", lines=[{**LINE, "quantity": 2}]),  # 2 posted before, other content
        order_body("B2", lines=[{**LINE, "quantity": 0}]),  # 3 invalid
        order_body("B1"),  # 4 repeated in this batch, same content
        order_body("B1", lines=[{**LINE, "quantity": 5}]),  # 5 repeated, other content
        order_body("B3", store_code="NOPE"),  # 6 unknown store
        42,  # 7 not an order at all
        order_body("B4", customer={"phone": "138 0013 8000"}),  # 8 new, with a customer
    ]
    response = api.post("/api/v1/orders/bulk", json={"orders": batch})
    assert response.status_code == 200, response.text
    result = response.json()
    statuses = [r["status"] for r in result["results"]]
    assert statuses == [
        "created",
        "duplicate",
        "conflict",
        "invalid",
        "duplicate",
        "conflict",
        "invalid",
        "invalid",
        "created",
    ]
    assert [r["index"] for r in result["results"]] == list(range(9))
    assert (result["created"], result["duplicates"], result["conflicts"], result["invalid"]) == (
        2,
        2,
        2,
        3,
    )
    ids = [r["order_id"] for r in result["results"]]
    assert ids[1] == ids[2] == existing["id"]
    assert ids[0] == ids[4] == ids[5] is not None
    assert ids[3] is None and ids[6] is None and ids[7] is None
    errors = {r["index"]: [e["field"] for e in r["errors"]] for r in result["results"]}
    assert errors[3] == ["lines.0.quantity"]
    assert errors[6] == ["store_code"]
    assert errors[0] == errors[1] == []

    b1 = api.get("/api/v1/orders", params={"source": "pos-sh01", "external_id": "B1"}).json()
    assert b1["id"] == ids[0]
    assert b1["total_fen"] == 1000  # the first of the repeated B1s, not the conflicting one
    b4 = api.get(f"/api/v1/orders/{ids[8]}").json()
    assert b4["customer_id"] is not None
    for missing in ("B2", "B3"):
        assert (
            api.get(
                "/api/v1/orders", params={"source": "pos-sh01", "external_id": missing}
            ).status_code
            == 404
        )


def test_a_bulk_answer_is_the_json_of_its_bulk_result(api: TestClient) -> None:
    """Byte for byte what FastAPI wrote from the BulkResult model, messages in Chinese too."""
    from patron.orders.schemas import BulkResult

    post_order(api, "O1")
    batch = [
        order_body("B1"),
        order_body("O1"),
        order_body("O1", lines=[{**LINE, "quantity": 2}]),
        order_body("B2", store_code="门店-无"),
        order_body("B3", lines=[{**LINE, "quantity": 0}]),
    ]
    response = api.post("/api/v1/orders/bulk", json={"orders": batch})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    model = BulkResult.model_validate(response.json())
    assert response.content == model.model_dump_json().encode()
    assert "门店-无" in response.text


def test_a_bulk_body_with_a_key_beside_the_orders_is_stored_as_before(api: TestClient) -> None:
    body = {"orders": [order_body("B1"), order_body("B2")], "batch": "夜班"}
    response = api.post("/api/v1/orders/bulk", json=body)
    assert response.status_code == 200, response.text
    assert [r["status"] for r in response.json()["results"]] == ["created", "created"]


def test_a_bulk_post_repeated_whole_is_all_duplicates(api: TestClient) -> None:
    batch = {"orders": [order_body(f"B{i}") for i in range(5)]}
    first = api.post("/api/v1/orders/bulk", json=batch).json()
    again = api.post("/api/v1/orders/bulk", json=batch).json()
    assert first["created"] == 5
    assert again["duplicates"] == 5 and again["created"] == 0
    assert [r["order_id"] for r in again["results"]] == [r["order_id"] for r in first["results"]]


def test_two_orders_in_one_batch_sharing_a_new_phone_make_one_customer(api: TestClient) -> None:
    batch = [
        order_body("B1", customer={"phone": "13900139000"}),
        order_body("B2", customer={"phone": "139 0013 9000", "name": "赵六"}),
    ]
    results = api.post("/api/v1/orders/bulk", json={"orders": batch}).json()["results"]
    customers = {api.get(f"/api/v1/orders/{r['order_id']}").json()["customer_id"] for r in results}
    assert len(customers) == 1
    (customer_id,) = customers
    assert reveal(api, customer_id)["name"] == "赵六"
    assert api.get(f"/api/v1/customers/{customer_id}").json()["name"] == "赵*"


def test_more_than_1000_orders_in_one_call_is_422_naming_orders(api: TestClient) -> None:
    batch = [order_body(f"B{i}") for i in range(1001)]
    response = api.post("/api/v1/orders/bulk", json={"orders": batch})
    assert error_fields(response) == ["orders"]
    missing = api.get("/api/v1/orders", params={"source": "pos-sh01", "external_id": "B0"})
    assert missing.status_code == 404  # nothing of a refused call is stored


@pytest.mark.parametrize("kind", ["valid", "invalid"])
def test_a_bulk_call_over_the_limit_is_refused_whole_naming_the_limit(
    api: TestClient, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Refused by its count alone, however its orders read (the count is checked before any
    order is validated), nothing of it stored, in words the console reads in Chinese."""
    from patron.core.settings import get_settings
    from patron.web import i18n
    from patron.web.messages import message_text

    monkeypatch.setenv("PATRON_BULK_MAX_ORDERS", "3")
    get_settings.cache_clear()
    batch: list[Any] = [order_body(f"B{i}") for i in range(4)]
    if kind == "invalid":
        batch[1], batch[2] = 42, order_body("B2", lines=[{**LINE, "quantity": 0}])
    response = api.post("/api/v1/orders/bulk", json={"orders": batch})
    assert response.status_code == 422
    assert response.json()["message"] == "orders: at most 3 orders per call, got 4"
    assert error_fields(response) == ["orders"]
    missing = api.get("/api/v1/orders", params={"source": "pos-sh01", "external_id": "B0"})
    assert missing.status_code == 404
    i18n.use_language(i18n.language_for("zh") or i18n.DEFAULT)
    try:
        said = message_text("too_many_orders_per_call", limit=3, count=4)
    finally:
        i18n.use_language(i18n.DEFAULT)
    assert said == "每次调用最多 3 笔订单，本次 4 笔"


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"this is not json", "body"),
        (b'[{"source": "x"}]', "orders"),
        (b'{"orders": {"source": "x"}}', "orders"),
        (b"{}", "orders"),
    ],
)
def test_a_bulk_body_that_is_not_a_list_of_orders_is_422(
    api: TestClient, content: bytes, field: str
) -> None:
    response = api.post(
        "/api/v1/orders/bulk", content=content, headers={"Content-Type": "application/json"}
    )
    assert error_fields(response) == [field]


def test_an_order_with_an_out_of_range_time_is_one_invalid_result_in_a_batch(
    api: TestClient,
) -> None:
    batch = [order_body("B1"), order_body("B2", ordered_at="0001-01-01T00:00:00")]
    response = api.post("/api/v1/orders/bulk", json={"orders": batch})
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == ["created", "invalid"]


# ------------------------------------------------------------------------------ refunds

# 591 + 1800 − 91 = 2300; the order discount splits 22/69 by the lines' amounts, so the
# customer paid 569 for the apples and 1731 for the milk.
REFUNDABLE = [
    {"sku": "APPLE", "quantity": "0.455", "unit_price_fen": 1299},
    {"sku": "MILK", "quantity": 3, "unit_price_fen": 650, "discount_fen": 150},
]


@pytest.fixture
def sale(api: TestClient) -> dict[str, Any]:
    order = post_order(api, "O1", lines=REFUNDABLE, order_discount_fen=91)
    assert order["total_fen"] == 2300
    return order


def _refund(api: TestClient, external_id: str = "R1", **fields: Any) -> Any:
    return api.post("/api/v1/refunds", json=refund_body(external_id, **fields))


def test_a_refund_with_lines_left_out_returns_the_whole_total(
    api: TestClient, sale: dict[str, Any]
) -> None:
    response = _refund(api, reason="变质")
    assert response.status_code == 201, response.text
    refund = response.json()
    assert refund["amount_fen"] == 2300
    assert refund["order_id"] == sale["id"]
    assert refund["reason"] == "变质"
    assert [(ln["line_no"], ln["quantity"], ln["amount_fen"]) for ln in refund["lines"]] == [
        (1, "0.455", 569),
        (2, "3", 1731),
    ]
    order = api.get(f"/api/v1/orders/{sale['id']}").json()
    assert order["refunded_fen"] == 2300
    assert [ln["refunded_quantity"] for ln in order["lines"]] == ["0.455", "3"]


def test_a_partial_refund_is_pro_rata_of_what_was_paid_and_the_rest_adds_up(
    api: TestClient, sale: dict[str, Any]
) -> None:
    one = _refund(api, "R1", lines=[{"line_no": 2, "quantity": 1}]).json()
    assert one["amount_fen"] == 577  # a third of 1731
    assert one["lines"][0]["quantity"] == "1"
    weighed = _refund(api, "R2", lines=[{"line_no": 1, "quantity": "0.200"}]).json()
    assert weighed["amount_fen"] == 250  # 569 × 0.2 / 0.455 = 250.1
    rest = _refund(api, "R3").json()
    assert one["amount_fen"] + weighed["amount_fen"] + rest["amount_fen"] == sale["total_fen"]
    assert {ln["line_no"]: ln["quantity"] for ln in rest["lines"]} == {1: "0.255", 2: "2"}
    order = api.get(f"/api/v1/orders/{sale['id']}").json()
    assert order["refunded_fen"] == order["total_fen"]
    assert [Decimal(ln["refunded_quantity"]) for ln in order["lines"]] == [
        Decimal("0.455"),
        Decimal(3),
    ]


def test_refunding_more_than_is_left_is_422_naming_that_line_quantity(
    api: TestClient, sale: dict[str, Any]
) -> None:
    assert _refund(api, "R1", lines=[{"line_no": 2, "quantity": 2}]).status_code == 201
    response = _refund(
        api, "R2", lines=[{"line_no": 1, "quantity": "0.1"}, {"line_no": 2, "quantity": 2}]
    )
    assert error_fields(response) == ["lines.1.quantity"]
    assert response.json()["error"] == "refund_too_large"
    order = api.get(f"/api/v1/orders/{sale['id']}").json()
    assert [ln["refunded_quantity"] for ln in order["lines"]] == ["0", "2"]  # R2 stored nothing


def test_a_refund_amount_larger_than_what_is_left_is_422_naming_the_amount(
    api: TestClient, sale: dict[str, Any]
) -> None:
    response = _refund(api, lines=[{"line_no": 1, "amount_fen": 570}])
    assert error_fields(response) == ["lines.0.amount_fen"]


def test_a_second_full_refund_is_422(api: TestClient, sale: dict[str, Any]) -> None:
    assert _refund(api, "R1").status_code == 201
    response = _refund(api, "R2")
    assert error_fields(response) == ["lines"]
    assert "already fully refunded" in response.json()["message"]


def test_a_refund_posted_again_is_200_with_the_first_result(
    api: TestClient, sale: dict[str, Any]
) -> None:
    first = _refund(api, lines=[{"line_no": 2, "quantity": 1}])
    again = _refund(api, lines=[{"line_no": 2, "quantity": "1.000"}])
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    order = api.get(f"/api/v1/orders/{sale['id']}").json()
    assert order["refunded_fen"] == 577  # refunded once


def test_a_refund_key_reused_with_other_content_is_409(
    api: TestClient, sale: dict[str, Any]
) -> None:
    assert _refund(api, lines=[{"line_no": 2, "quantity": 1}]).status_code == 201
    response = _refund(api, lines=[{"line_no": 2, "quantity": 2}])
    assert response.status_code == 409
    assert response.json()["error"] == "idempotency_conflict"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"order_external_id": "NOPE"}, "order_external_id"),
        ({"order_external_id": "O1", "order_source": "shop-web"}, "order_external_id"),
        ({"order_external_id": None, "order_id": 999}, "order_id"),
        ({"refunded_at": "2026-03-01T09:59:59+08:00"}, "refunded_at"),
        ({"lines": [{"line_no": 3}]}, "lines.0.line_no"),
        ({"lines": [{"line_no": 0}]}, "lines.0.line_no"),
        ({"lines": [{"line_no": 1, "quantity": 0}]}, "lines.0.quantity"),
        ({"lines": [{"line_no": 1, "quantity": "0.0001"}]}, "lines.0.quantity"),
        ({"refunded_at": "soon"}, "refunded_at"),
        ({"points": 5}, "points"),
    ],
)
def test_an_invalid_refund_is_422_naming_the_field(
    api: TestClient, sale: dict[str, Any], fields: dict[str, Any], field: str
) -> None:
    body = refund_body("R1", **fields)
    body = {k: v for k, v in body.items() if v is not None}
    response = api.post("/api/v1/refunds", json=body)
    assert error_fields(response) == [field]


def test_a_refund_naming_no_order_is_422(api: TestClient, sale: dict[str, Any]) -> None:
    response = api.post("/api/v1/refunds", json=refund_body("R1", order_external_id=None))
    assert response.status_code == 422
    assert "order_id or order_external_id" in response.json()["message"]


def test_a_refund_finds_the_order_by_id_or_by_another_source(
    api: TestClient, sale: dict[str, Any]
) -> None:
    by_id = _refund(api, "R1", order_external_id=None, order_id=sale["id"], lines=[{"line_no": 1}])
    assert by_id.status_code == 201
    assert by_id.json()["amount_fen"] == 569
    # returned at the service desk, whose system is another source than the till's
    desk = _refund(api, "D1", source="service-desk", order_source="pos-sh01")
    assert desk.status_code == 201
    assert desk.json()["amount_fen"] == 1731


def test_a_refund_at_the_time_of_the_sale_is_accepted(
    api: TestClient, sale: dict[str, Any]
) -> None:
    assert _refund(api, refunded_at=ORDERED_AT).status_code == 201


def test_a_refund_naming_an_order_id_beyond_64_bits_is_422(sqlite_db: Database) -> None:
    with api_client(sqlite_db) as api:
        body = refund_body("R1", order_external_id=None, order_id=2**63)
        response = api.post("/api/v1/refunds", json=body)
    assert error_fields(response) == ["order_id"]
