"""Gifts for points, member offers and early access over HTTP: a mini-program redeems, a
till asks whether a member may buy, store roles see their own stores."""

from __future__ import annotations

from fastapi.testclient import TestClient

from patron.core.db import Database
from patron.staff.roles import Role
from tests.helpers import add_store
from tests.web.helpers.api import api_client, sign_up


def _member(api: TestClient, phone: str, points: int) -> int:
    customer_id: int = sign_up(api, phone=phone)["id"]
    if not points:
        return customer_id
    response = api.post(
        f"/api/v1/loyalty/customers/{customer_id}/adjustments",
        json={"points": points, "reason": "welcome", "staff": "ann"},
    )
    assert response.status_code == 201, response.text
    return customer_id


def test_a_mini_program_redeems_a_gift_once_and_a_manager_cancels_it(api: TestClient) -> None:
    me = _member(api, "13700137001", 1_000)
    created = api.post(
        "/api/v1/loyalty/rewards",
        json={"code": "MUG", "name": "马克杯", "kind": "product", "sku": "MUG-1", "points": 300,
              "cash_fen": 990, "stock": 10, "starts_at": "2026-01-01T00:00:00+08:00",
              "fulfilment": ["pickup", "delivery"], "image_url": "https://img.example.cn/mug.png"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    body = {"customer_id": me, "reward_code": "MUG", "idempotency_key": "wx-0001-mug",
            "fulfilment": "delivery"}  # fmt: skip
    first = api.post("/api/v1/loyalty/redemptions", json=body)
    assert first.status_code == 201, first.text
    again = api.post("/api/v1/loyalty/redemptions", json=body)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    balance = api.get(f"/api/v1/loyalty/customers/{me}/balance").json()
    assert balance["available"] == 700
    cancelled = api.post(f"/api/v1/loyalty/redemptions/{first.json()['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert api.get(f"/api/v1/loyalty/customers/{me}/balance").json()["available"] == 1_000
    report = api.get("/api/v1/loyalty/rewards/report").json()
    assert (report["redemptions"], report["cancelled"]) == (0, 1)


def test_a_gift_beyond_the_balance_is_a_409_with_its_code(api: TestClient) -> None:
    me = _member(api, "13700137002", 100)
    api.post(
        "/api/v1/loyalty/rewards",
        json={"code": "WRAP", "name": "礼品包装", "kind": "service", "points": 200,
              "starts_at": "2026-01-01T00:00:00+08:00"},
    )  # fmt: skip
    refused = api.post(
        "/api/v1/loyalty/redemptions",
        json={"customer_id": me, "reward_code": "WRAP", "idempotency_key": "wx-0002-wrap"},
    )
    assert refused.status_code == 409 and refused.json()["error"] == "insufficient_points"


def test_a_store_role_sees_its_own_stores_stock_and_redemptions(db: Database) -> None:
    add_store(db, "SH01", "静安店")
    add_store(db, "SH02", "徐汇店")
    with api_client(db) as admin:
        me = _member(admin, "13700137003", 1_000)
        admin.post(
            "/api/v1/loyalty/rewards",
            json={"code": "CUP", "name": "杯子", "kind": "service", "points": 100,
                  "starts_at": "2026-01-01T00:00:00+08:00",
                  "store_stock": [{"store_code": "SH01", "stock": 5},
                                  {"store_code": "SH02", "stock": 5}]},
        )  # fmt: skip
        for n, store in enumerate(("SH01", "SH02")):
            done = admin.post(
                "/api/v1/loyalty/redemptions",
                json={"customer_id": me, "reward_code": "CUP", "store_code": store,
                      "idempotency_key": f"till-{n:04d}-cup", "channel": "till"},
            )  # fmt: skip
            assert done.status_code == 201, done.text
    with api_client(db, role=Role.STORE_MANAGER, stores=["SH01"]) as manager:
        [gift] = manager.get("/api/v1/loyalty/rewards").json()
        assert [s["store_code"] for s in gift["store_stock"]] == ["SH01"]
        rows = manager.get("/api/v1/loyalty/redemptions").json()
        assert [r["store_code"] for r in rows] == ["SH01"]


def test_a_till_asks_whether_a_member_may_buy_and_the_quote_refuses_with_a_code(
    api: TestClient,
) -> None:
    me = _member(api, "13700137004", 0)
    opens = "2030-01-04T10:00:00+08:00"  # far ahead: nobody may buy yet but gold
    response = api.put(
        "/api/v1/loyalty/early-access",
        json={"target_kind": "sku", "target": "SKU-1", "opens_at": opens,
              "tier_days": {"gold": 0}, "everyone_day": 3},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    answer = api.get(f"/api/v1/loyalty/customers/{me}/may-buy", params={"sku": "SKU-1"}).json()
    assert answer["allowed"] is False and answer["from_at"].startswith("2030-01-06T16:00")
    refused = api.post(
        "/api/v1/loyalty/quote",
        json={"member": {"customer_id": me},
              "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_fen": 1_000}]},
    )  # fmt: skip
    assert refused.status_code == 409 and refused.json()["error"] == "early_access_only"


def test_an_offer_made_over_the_api_prices_the_quote(api: TestClient) -> None:
    me = _member(api, "13700137005", 0)
    made = api.post(
        "/api/v1/loyalty/offers",
        json={"code": "HALF", "name": "半价", "percent_off_bp": 5_000, "skus": ["SKU-1"],
              "starts_at": "2026-01-01T00:00:00+08:00", "ends_at": "2036-01-01T00:00:00+08:00"},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    priced = api.post(
        "/api/v1/loyalty/quote",
        json={"member": {"customer_id": me},
              "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_fen": 1_000}]},
    ).json()  # fmt: skip
    assert priced["offer_lines"][0]["offer_code"] == "HALF" and priced["payable_fen"] == 500
