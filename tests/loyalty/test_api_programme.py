"""Referrals, lotteries and the programme report over HTTP; tills commit only their stores'
orders; adjustments are audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from patron.catalog import service as catalog
from patron.catalog.schemas import StoreCreate
from patron.core.db import Database
from patron.staff.roles import Role
from tests.web.helpers.api import api_client, post_order, sign_up


def test_a_referral_over_http_rewards_both_on_the_first_purchase(api: TestClient) -> None:
    referrer = sign_up(api, phone="13700000001")["id"]
    newcomer = sign_up(api, phone="13700000002")["id"]
    code = api.post(f"/api/v1/loyalty/customers/{referrer}/referral-code").json()["code"]
    made = api.post("/api/v1/loyalty/referrals", json={"customer_id": newcomer, "code": code})
    assert made.status_code == 201, made.text
    own = api.post("/api/v1/loyalty/referrals", json={"customer_id": referrer, "code": code})
    assert own.status_code == 422 and own.json()["detail"][0]["field"] == "code"

    post_order(
        api,
        "REF-1",
        customer={"id": newcomer},
        lines=[{"sku": "SKU-1", "quantity": 1, "unit_price_fen": 8_000}],
    )
    committed = api.post(
        "/api/v1/loyalty/commit", json={"source": "pos-sh01", "external_id": "REF-1"}
    )
    assert committed.status_code == 201, committed.text
    [row] = api.get(f"/api/v1/loyalty/customers/{referrer}/referrals").json()
    assert (row["status"], row["referee_id"], row["referrer_points"]) == (
        "rewarded",
        newcomer,
        500,
    )


def test_a_lottery_over_http(api: TestClient) -> None:
    now = datetime.now(UTC)
    body = {
        "code": "LUCKY",
        "name": "周年庆抽奖",
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(),
        "cost_points": 0,
        "prizes": [
            {"code": "P", "name": "50积分", "kind": "points", "points": 50, "chance_ppm": 500_000}
        ],
    }
    created = api.post("/api/v1/loyalty/lotteries", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["seed"] is None and len(created.json()["seed_sha256"]) == 64
    assert api.post("/api/v1/loyalty/lotteries", json=body).status_code == 409

    member = sign_up(api, phone="13700000003")["id"]
    first = api.post(
        "/api/v1/loyalty/lotteries/LUCKY/draws",
        json={"customer_id": member, "idempotency_key": "a"},
    )
    assert first.status_code == 201, first.text
    again = api.post(
        "/api/v1/loyalty/lotteries/LUCKY/draws",
        json={"customer_id": member, "idempotency_key": "a"},
    )
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    listed = api.get("/api/v1/loyalty/lotteries/LUCKY/draws", params={"customer_id": member})
    assert [d["draw_no"] for d in listed.json()] == [1]
    check = api.get("/api/v1/loyalty/lotteries/LUCKY/check").json()
    assert (check["draws_checked"], check["mismatches"]) == (1, [])
    missing = api.post(
        "/api/v1/loyalty/lotteries/NOPE/draws", json={"customer_id": member, "idempotency_key": "b"}
    )
    assert missing.status_code == 404

    bad = dict(body, code="BAD", ends_at=body["starts_at"])
    refused = api.post("/api/v1/loyalty/lotteries", json=bad)
    assert refused.status_code == 422


def test_the_programme_report_and_an_audited_adjustment(api: TestClient) -> None:
    member = sign_up(api, phone="13700000004")["id"]
    adjusted = api.post(
        f"/api/v1/loyalty/customers/{member}/adjustments",
        json={"points": 2_500, "reason": "补偿：收银系统故障", "staff": "王店长"},
    )
    assert adjusted.status_code == 201, adjusted.text
    report = api.get("/api/v1/loyalty/report").json()
    assert report["liability"]["points_available"] == 2_500
    assert report["liability"]["liability_fen"] == 2_500
    assert sum(t["members"] for t in report["tiers"]) == 1
    entries = api.get("/api/v1/audit", params={"action": "loyalty.adjust"}).json()["items"]
    assert [(e["target_id"], e["reason"]) for e in entries] == [(str(member), "补偿：收银系统故障")]


def test_a_till_commits_and_refunds_only_its_own_stores_orders(db: Database) -> None:
    for code in ("SH01", "BJ01"):
        db.write(
            lambda s, c=code: catalog.create_store(
                session=s, store_in=StoreCreate(code=c, name=c, city="上海")
            )
        )
    with api_client(db) as admin:
        customer = sign_up(admin, phone="13700000005")["id"]
        post_order(admin, "BJ-9", source="pos-bj01", store_code="BJ01", customer={"id": customer})
    with api_client(db, role=Role.CASHIER, stores=["SH01"]) as till:
        refused = till.post(
            "/api/v1/loyalty/commit", json={"source": "pos-bj01", "external_id": "BJ-9"}
        )
        assert refused.status_code == 403, refused.text
    with api_client(db, role=Role.CASHIER, stores=["BJ01"]) as till:
        ok = till.post("/api/v1/loyalty/commit", json={"source": "pos-bj01", "external_id": "BJ-9"})
        assert ok.status_code == 201, ok.text


def test_a_coupon_for_a_whole_lifecycle_stage(db: Database) -> None:
    from datetime import date

    from patron.analytics import service as analytics
    from tests.analytics.pipeline.helpers import build_chain

    build_chain(db)
    analytics.run_analytics(db=db, as_of=date(2026, 3, 20))
    with api_client(db) as admin:
        admin.post(
            "/api/v1/loyalty/coupon-templates",
            json={
                "code": "WELCOME",
                "name": "新客满50减10",
                "kind": "amount_off",
                "threshold_fen": 5_000,
                "amount_off_fen": 1_000,
                "valid_days": 30,
                "per_customer_limit": 1,
            },
        )
        body = {"template_code": "WELCOME", "stage": "new"}
        first = admin.post("/api/v1/loyalty/coupons/bulk", json=body)
        assert first.status_code == 201, first.text
        assert (first.json()["asked"], first.json()["issued"]) == (3, 3)
        assert first.json()["audience"].startswith("stage new")
        again = admin.post("/api/v1/loyalty/coupons/bulk", json=body).json()
        assert (again["issued"], again["skipped_at_limit"]) == (0, 3)
        unknown = admin.post(
            "/api/v1/loyalty/coupons/bulk", json={"template_code": "WELCOME", "segment": "vip"}
        )
        assert unknown.status_code == 422 and unknown.json()["detail"][0]["field"] == "segment"
        both = admin.post(
            "/api/v1/loyalty/coupons/bulk",
            json={"template_code": "WELCOME", "stage": "new", "customer_ids": [1]},
        )
        assert both.status_code == 422
