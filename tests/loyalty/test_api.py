"""The POS calls over HTTP: look-up, quote, commit (idempotent), refund; 422s name the field."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.web.helpers.api import (
    ORDERED_AT,
    error_fields,
    order_body,
    post_order,
    refund_body,
    sign_up,
)

PHONE = "13700137000"
BASKET = [{"sku": "SKU-1", "quantity": 2, "unit_price_fen": 6_000}]


def _member_with_points(api: TestClient, points: int = 5_000) -> int:
    customer_id: int = sign_up(api, phone=PHONE)["id"]
    response = api.post(
        f"/api/v1/loyalty/customers/{customer_id}/adjustments",
        json={"points": points, "reason": "welcome", "staff": "ann"},
    )
    assert response.status_code == 201, response.text
    return customer_id


def test_lookup_by_phone_shows_tier_balance_and_usable_coupons(api: TestClient) -> None:
    customer_id = _member_with_points(api)
    api.post(
        "/api/v1/loyalty/coupon-templates",
        json={
            "code": "MJ",
            "name": "满100减20",
            "kind": "amount_off",
            "threshold_fen": 10_000,
            "amount_off_fen": 2_000,
            "valid_days": 30,
        },
    )
    issued = api.post(
        "/api/v1/loyalty/coupons", json={"template_code": "MJ", "customer_id": customer_id}
    )
    assert issued.status_code == 201, issued.text
    found = api.get("/api/v1/loyalty/lookup", params={"phone": PHONE}).json()
    assert found["customer_id"] == customer_id
    assert found["tier"]["code"] == "member"
    assert found["balance"]["available"] == 5_000
    assert [c["code"] for c in found["coupons"]] == [issued.json()["code"]]


def test_lookup_of_an_unknown_member_is_404_and_of_nobody_is_422(api: TestClient) -> None:
    assert api.get("/api/v1/loyalty/lookup", params={"phone": "13600000000"}).status_code == 404
    assert error_fields(api.get("/api/v1/loyalty/lookup")) == ["customer_id"]


def test_quote_gives_the_best_coupons_the_points_usable_and_the_points_to_earn(
    api: TestClient,
) -> None:
    customer_id = _member_with_points(api, 100_000)
    api.post(
        "/api/v1/loyalty/coupon-templates",
        json={
            "code": "MJ",
            "name": "满100减20",
            "kind": "amount_off",
            "threshold_fen": 10_000,
            "amount_off_fen": 2_000,
            "valid_days": 30,
        },
    )
    code = api.post(
        "/api/v1/loyalty/coupons", json={"template_code": "MJ", "customer_id": customer_id}
    ).json()["code"]
    quote = api.post(
        "/api/v1/loyalty/quote",
        json={
            "member": {"phone": PHONE},
            "lines": BASKET,
            "redeem_points": 1_000,
        },
    )
    assert quote.status_code == 200, quote.text
    body = quote.json()
    assert body["best_coupon_codes"] == [code] and body["coupon_discount_fen"] == 2_000
    assert body["max_points_usable"] == 5_000  # half of ¥120 − ¥20
    assert body["points_value_fen"] == 1_000
    assert body["payable_fen"] == 12_000 - 2_000 - 1_000
    # ¥90 paid in money; the default programme doubles points on member day (Wednesday)
    assert body["points_to_earn"] == 90 * (2 if body["member_day"] else 1)


def test_quote_refuses_more_points_than_allowed_naming_the_field(api: TestClient) -> None:
    _member_with_points(api, 100_000)
    response = api.post(
        "/api/v1/loyalty/quote",
        json={"member": {"phone": PHONE}, "lines": BASKET, "redeem_points": 6_001},
    )
    assert error_fields(response) == ["redeem_points"]
    bad_line = api.post(
        "/api/v1/loyalty/quote",
        json={
            "member": {"phone": PHONE},
            "lines": [{"sku": "A", "quantity": 1, "unit_price_fen": -1}],
        },
    )
    assert error_fields(bad_line) == ["lines.0.unit_price_fen"]


def test_commit_is_idempotent_and_refund_reverses_it(api: TestClient) -> None:
    customer_id = _member_with_points(api)
    post_order(
        api,
        "T1",
        lines=BASKET,
        customer={"phone": PHONE},
        order_discount_fen=1_500,
        ordered_at=ORDERED_AT,
    )
    commit = {"source": "pos-sh01", "external_id": "T1", "redeem_points": 1_500}
    first = api.post("/api/v1/loyalty/commit", json=commit)
    assert first.status_code == 201, first.text
    assert first.json()["points_spent"] == 1_500
    again = api.post("/api/v1/loyalty/commit", json=commit)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["points_earned"] == first.json()["points_earned"] == 105
    other = api.post("/api/v1/loyalty/commit", json={**commit, "redeem_points": 1_000})
    assert other.status_code == 409

    assert (
        api.post("/api/v1/refunds", json=refund_body("R1", order_external_id="T1")).status_code
        == 201
    )
    back = api.post("/api/v1/loyalty/refunds", json={"source": "pos-sh01", "external_id": "R1"})
    assert back.status_code == 201, back.text
    assert (back.json()["points_taken_back"], back.json()["points_returned"]) == (105, 1_500)
    balance = api.get(f"/api/v1/loyalty/customers/{customer_id}/balance").json()
    assert balance["ledger_total"] == 5_000


def test_commit_of_an_anonymous_sale_is_refused_naming_the_order(api: TestClient) -> None:
    assert api.post("/api/v1/orders", json=order_body("ANON")).status_code == 201
    response = api.post(
        "/api/v1/loyalty/commit", json={"source": "pos-sh01", "external_id": "ANON"}
    )
    assert error_fields(response) == ["external_id"]


def test_an_adjustment_without_a_reason_is_refused(api: TestClient) -> None:
    customer_id = sign_up(api, phone=PHONE)["id"]
    response = api.post(
        f"/api/v1/loyalty/customers/{customer_id}/adjustments", json={"points": 5, "staff": "ann"}
    )
    assert error_fields(response) == ["reason"]
