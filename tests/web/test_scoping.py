"""Store-bound staff and keys see their own stores' customers and orders, and no others'."""

from __future__ import annotations

import logging

import pytest

from patron.audit import service as audit
from patron.catalog import service as catalog
from patron.catalog.schemas import StoreCreate
from patron.core.db import Database
from patron.staff.roles import Role
from tests.web.helpers.api import api_client, order_body, post_order, sign_up

SH_PHONE = "+8613800138000"
BJ_PHONE = "+8613900139000"


@pytest.fixture
def two_stores(db: Database) -> Database:
    for code, city in (("SH01", "上海"), ("BJ01", "北京")):
        db.write(
            lambda s, c=code, city=city: catalog.create_store(
                session=s, store_in=StoreCreate(code=c, name=f"{city}店", city=city)
            )
        )
    with api_client(db) as admin:
        post_order(admin, "SH-1", store_code="SH01", customer={"phone": SH_PHONE})
        post_order(admin, "BJ-1", store_code="BJ01", customer={"phone": BJ_PHONE})
    return db


def test_a_cashier_finds_their_stores_customer_and_is_refused_another_stores(
    two_stores: Database,
) -> None:
    with api_client(two_stores, role=Role.CASHIER, stores=["SH01"]) as cashier:
        own = cashier.get("/api/v1/customers/lookup", params={"phone": SH_PHONE})
        assert own.status_code == 200
        other = cashier.get("/api/v1/customers/lookup", params={"phone": BJ_PHONE})
        assert (other.status_code, other.json()["error"]) == (403, "out_of_scope")
        listed = cashier.get("/api/v1/customers").json()["items"]
        assert [c["id"] for c in listed] == [own.json()["id"]]
        bj_order = cashier.get(
            "/api/v1/orders", params={"source": "pos-sh01", "external_id": "BJ-1"}
        )
        assert bj_order.status_code == 403


def test_a_cashier_sells_only_in_their_own_store(two_stores: Database) -> None:
    with api_client(two_stores, role=Role.CASHIER, stores=["SH01"]) as cashier:
        ok = cashier.post("/api/v1/orders", json=order_body("SH-2", store_code="SH01"))
        assert ok.status_code == 201
        elsewhere = cashier.post("/api/v1/orders", json=order_body("BJ-2", store_code="BJ01"))
        assert elsewhere.status_code == 422
        assert elsewhere.json()["detail"][0]["field"] == "store_code"
        bulk = cashier.post(
            "/api/v1/orders/bulk",
            json={
                "orders": [
                    order_body("SH-3", store_code="SH01"),
                    order_body("BJ-3", store_code="BJ01"),
                ]
            },
        ).json()
        assert [r["status"] for r in bulk["results"]] == ["created", "invalid"]


def test_a_cashier_cannot_refund_another_stores_order(two_stores: Database) -> None:
    with api_client(two_stores, role=Role.CASHIER, stores=["SH01"]) as cashier:
        refund = {
            "source": "pos-sh01",
            "external_id": "R-BJ",
            "order_external_id": "BJ-1",
            "refunded_at": "2026-03-02T10:00:00+08:00",
        }
        assert cashier.post("/api/v1/refunds", json=refund).status_code == 403


def test_a_store_bound_key_needs_stores(two_stores: Database) -> None:
    with api_client(two_stores) as admin:
        response = admin.post("/api/v1/api-keys", json={"name": "till", "role": "cashier"})
        assert response.status_code == 422
        assert response.json()["detail"][0]["field"] == "store_codes"


def test_a_reveal_needs_a_reason_and_leaves_an_audit_entry(two_stores: Database) -> None:
    with api_client(two_stores, role=Role.SERVICE_AGENT) as agent:
        customer = agent.get("/api/v1/customers/lookup", params={"phone": SH_PHONE}).json()
        assert customer["identities"][0]["value"] == "138****8000"
        no_reason = agent.post(f"/api/v1/customers/{customer['id']}/reveal", json={})
        assert no_reason.status_code == 422
        shown = agent.post(
            f"/api/v1/customers/{customer['id']}/reveal", json={"reason": "回电核实退货"}
        ).json()
        assert shown["identities"][0]["value"] == SH_PHONE
    entries = two_stores.read(lambda s: audit.list_audit(session=s, action="customer.reveal")).items
    assert [(e.target_id, e.reason, e.actor_kind) for e in entries] == [
        (str(customer["id"]), "回电核实退货", "api_key")
    ]


def test_a_cashier_may_not_reveal(two_stores: Database) -> None:
    with api_client(two_stores, role=Role.CASHIER, stores=["SH01"]) as cashier:
        customer = cashier.get("/api/v1/customers/lookup", params={"phone": SH_PHONE}).json()
        response = cashier.post(
            f"/api/v1/customers/{customer['id']}/reveal", json={"reason": "想看看"}
        )
        assert response.status_code == 403


def test_merges_and_unmerges_are_audited(db: Database) -> None:
    with api_client(db) as admin:
        a = sign_up(admin, phone=SH_PHONE)
        b = sign_up(admin, member_card="VIP-1")
        merge = admin.post(
            f"/api/v1/customers/{a['id']}/merge", json={"other_id": b["id"], "reason": "同一人"}
        ).json()
        admin.post(f"/api/v1/merges/{merge['id']}/undo")
    actions = [e.action for e in db.read(lambda s: audit.list_audit(session=s)).items]
    assert actions[:2] == ["customer.unmerge", "customer.merge"]


def test_no_log_line_carries_an_unmasked_phone(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with api_client(db) as admin:
        post_order(admin, "L1", customer={"phone": "13800138000"})
        admin.get("/api/v1/customers/lookup", params={"phone": "13800138000"})
        admin.post("/api/v1/orders", json=order_body("L2", customer={"phone": "1380013800"}))
        admin.post("/api/v1/customers", json={"identities": {"phone": "12345"}})
    # the test client's own request log is not Patron's (the server runs without access log)
    text = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "13800138000" not in text and "1380013800" not in text


def test_a_cashier_sees_loyalty_only_for_their_stores_customers(two_stores: Database) -> None:
    with api_client(two_stores, role=Role.CASHIER, stores=["SH01"]) as cashier:
        own = cashier.get("/api/v1/loyalty/lookup", params={"phone": SH_PHONE})
        assert own.status_code == 200
        other = cashier.get("/api/v1/loyalty/lookup", params={"phone": BJ_PHONE})
        assert other.status_code == 403
        basket = {"lines": [{"sku": "X1", "quantity": 1, "unit_price_fen": 1000}]}
        quote = cashier.post(
            "/api/v1/loyalty/quote", json={"member": {"phone": BJ_PHONE}, **basket}
        )
        assert quote.status_code == 403
        nobody = cashier.get("/api/v1/loyalty/lookup", params={"phone": "13600000000"})
        assert nobody.status_code == 404
    with api_client(two_stores) as admin:
        bj_id = admin.get("/api/v1/customers/lookup", params={"phone": BJ_PHONE}).json()["id"]
    with api_client(two_stores, role=Role.CASHIER, stores=["SH01"]) as cashier:
        assert cashier.get(f"/api/v1/loyalty/customers/{bj_id}/balance").status_code == 403
        by_id = cashier.get("/api/v1/loyalty/lookup", params={"customer_id": bj_id})
        assert by_id.status_code == 403
    with api_client(two_stores, role=Role.CASHIER, stores=["BJ01"]) as beijing:
        assert beijing.get("/api/v1/loyalty/lookup", params={"phone": BJ_PHONE}).status_code == 200
        assert (
            beijing.get("/api/v1/loyalty/lookup", params={"customer_id": bj_id}).json()[
                "customer_id"
            ]
            == bj_id
        )
