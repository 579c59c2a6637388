"""The churn API: the at-risk list (masked, paged, in the caller's stores), the model report,
and a customer's risk history; analytics.read for all three."""

from __future__ import annotations

from fastapi.testclient import TestClient

from patron.core.db import Database
from patron.customers.masking import mask_name
from patron.staff.roles import Role
from tests.analytics.test_pages import (
    RiskShop,
    build_members,
    build_risk_shop,
    member_name,
    member_phone,
)
from tests.web.helpers.api import api_client


def test_before_any_run_the_list_and_report_are_a_clear_not_found(
    db: Database, api: TestClient
) -> None:
    members, _home = build_members(db)
    for path in ("/api/v1/analytics/risk", "/api/v1/analytics/risk/report"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "no_risk_scores"
    assert api.get(f"/api/v1/customers/{members[0]}/risk").json() == []
    assert api.get("/api/v1/customers/999999/risk").status_code == 404


def _shop(db: Database) -> RiskShop:
    return build_risk_shop(db)


def test_the_at_risk_list_report_and_history_over_two_runs(db: Database) -> None:
    shop = _shop(db)
    with api_client(db, role=Role.ANALYST) as analyst:
        listed = analyst.get("/api/v1/analytics/risk")
        paged = analyst.get("/api/v1/analytics/risk", params={"page": 2, "page_size": 4})
        earlier = analyst.get("/api/v1/analytics/risk", params={"run_id": shop.first_run})
        report = analyst.get("/api/v1/analytics/risk/report")
        history = analyst.get(f"/api/v1/customers/{shop.stopped[0]}/risk")
        too_big = analyst.get("/api/v1/analytics/risk", params={"page_size": 10_000})
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert (body["run_id"], body["total"], body["as_of"]) == (shop.second_run, 6, "2026-02-20")
    ids = [item["customer"]["id"] for item in body["items"]]
    assert sorted(ids) == sorted(shop.stopped)
    stakes = [item["alert"]["value_at_stake_fen"] for item in body["items"]]
    assert stakes == sorted(stakes, reverse=True) and stakes[0] > 0
    first = body["items"][0]
    assert first["alert"]["event"] == "customer.churn_risk_high"
    reason = first["alert"]["reasons"][0]
    assert set(reason["text"]) == {"zh-CN", "en"} and reason["text"]["zh-CN"]
    # masked like every other customer answer
    n = shop.members.index(first["customer"]["id"])
    assert first["customer"]["name"] == mask_name(member_name(n)) == "测***"
    assert member_phone(n) not in listed.text and member_name(n) not in listed.text
    assert [i["customer"]["id"] for i in paged.json()["items"]] == ids[4:]
    assert earlier.json()["total"] == 0  # the first run sets the baseline: nobody crossed
    assert too_big.status_code == 422

    assert report.status_code == 200
    figures = report.json()
    assert figures["run_id"] == shop.second_run and figures["mode"] in ("model", "fallback")
    assert figures["report"]["alerts"] == 6
    assert "evaluation" in figures["report"] and "bgnbd" in figures["report"]

    assert [h["run_id"] for h in history.json()] == [shop.second_run, shop.first_run]
    assert history.json()[0]["band"] == "high" and history.json()[0]["clv_fen"] >= 0


def test_a_store_manager_sees_their_stores_and_a_cashier_nothing(db: Database) -> None:
    shop = _shop(db)
    a_members = {cid for cid, code in shop.home.items() if code == "A01"}
    b_member = next(cid for cid, code in shop.home.items() if code == "B01")
    with api_client(db, role=Role.STORE_MANAGER, stores=["A01"]) as manager:
        listed = manager.get("/api/v1/analytics/risk").json()
        other = manager.get(f"/api/v1/customers/{b_member}/risk")
        own = manager.get(f"/api/v1/customers/{min(a_members)}/risk")
    assert listed["total"] == 3
    assert {i["customer"]["id"] for i in listed["items"]} <= a_members
    assert other.status_code == 403 and own.status_code == 200
    with api_client(db, role=Role.CASHIER, stores=["A01"]) as cashier:
        for path in (
            "/api/v1/analytics/risk",
            "/api/v1/analytics/risk/report",
            f"/api/v1/customers/{min(a_members)}/risk",
        ):
            assert cashier.get(path).status_code == 403, path
