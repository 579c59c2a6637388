"""Store-bound staff and keys see their own stores' customers and orders, and no others'."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from patron.audit import service as audit
from patron.catalog import service as catalog
from patron.catalog.schemas import StoreCreate
from patron.core.db import Database
from patron.core.settings import get_settings
from patron.staff.roles import Role
from tests.helpers import IDENTITY_FIELDS
from tests.web.helpers.api import api_client, make_api_key, order_body, post_order, sign_up

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
        # another store's customer is answered like nobody at all
        assert (other.status_code, other.json()["error"]) == (404, "customer_not_found")
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
        assert other.status_code == 404  # as for nobody: no membership oracle
        basket = {"lines": [{"sku": "X1", "quantity": 1, "unit_price_fen": 1000}]}
        quote = cashier.post(
            "/api/v1/loyalty/quote", json={"member": {"phone": BJ_PHONE}, **basket}
        )
        assert quote.status_code == 404
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


# ------------------------------------------------------------------ writes by store-bound keys
#
# A store-bound key (cashier, store manager) may sign a customer up and attach a sale to an
# existing customer, but changes no profile, identity or tag of another store's customer and
# causes no merge: where a record says two profiles are one person, a merge suggestion waits
# for a privacy officer or chain manager.

STORE_BOUND = [Role.CASHIER, Role.STORE_MANAGER]
BJ_CARD = "BJ-CARD-0001"


def _as_admin(db: Database, customer_id: int) -> dict[str, Any]:
    with api_client(db) as admin:
        response = admin.get(f"/api/v1/customers/{customer_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found


def _ids(db: Database) -> tuple[int, int]:
    with api_client(db) as admin:
        sh = admin.get("/api/v1/customers/lookup", params={"phone": SH_PHONE}).json()["id"]
        bj = admin.get("/api/v1/customers/lookup", params={"phone": BJ_PHONE}).json()["id"]
        # the Beijing customer also holds a member card
        assert sign_up(admin, phone=BJ_PHONE, member_card=BJ_CARD)["id"] == bj
    return sh, bj


def _suggested_pairs(db: Database) -> list[set[int]]:
    with api_client(db) as admin:
        listed = admin.get("/api/v1/merge-suggestions", params={"status": "pending"})
        assert listed.status_code == 200, listed.text
        return [{item["first"]["id"], item["second"]["id"]} for item in listed.json()["items"]]


def _writes(kind: str, n: int, customer: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A sign-up, a sale or a bulk post of one sale at SH01 carrying ``customer``."""
    if kind == "sign-up":
        identities = {k: v for k, v in customer.items() if k in IDENTITY_FIELDS}
        profile = {k: v for k, v in customer.items() if k not in IDENTITY_FIELDS}
        return "/api/v1/customers", {"identities": identities, **profile}
    body = order_body(f"W-{n}", store_code="SH01", customer=customer)
    if kind == "order":
        return "/api/v1/orders", body
    return "/api/v1/orders/bulk", {"orders": [body]}


WRITE_KINDS = ["sign-up", "order", "bulk"]


@pytest.mark.parametrize("kind", WRITE_KINDS)
@pytest.mark.parametrize("role", STORE_BOUND)
def test_a_store_bound_key_cannot_change_another_stores_customer(
    two_stores: Database, role: Role, kind: str
) -> None:
    _sh, bj = _ids(two_stores)
    before = _as_admin(two_stores, bj)
    path, body = _writes(
        kind,
        1,
        {"phone": BJ_PHONE, "wechat_unionid": "UNION-NEW-1", "name": "冒名", "gender": "male"}
        | ({"tags": ["VIP"]} if kind == "sign-up" else {}),
    )
    with api_client(two_stores, role=role, stores=["SH01"]) as till:
        response = till.post(path, json=body)
    assert response.status_code in (200, 201), response.text
    after = _as_admin(two_stores, bj)
    assert after["identities"] == before["identities"]  # no new unionid on Beijing's customer
    assert (after["name"], after["gender"], after["tags"]) == (None, None, [])
    assert after["home_store_code"] == "BJ01" and after["status"] == "active"
    if kind == "sign-up":
        # the sign-up is a profile of its own, in the till's store, suggested for merging
        mine = response.json()
        assert response.status_code == 201 and mine["id"] != bj
        assert (mine["home_store_code"], mine["gender"], mine["tags"]) == ("SH01", "male", ["VIP"])
        assert [i["kind"] for i in mine["identities"]] == ["wechat_unionid"]
        assert _suggested_pairs(two_stores) == [{mine["id"], bj}]
    else:
        # the sale landed on the customer it names
        with api_client(two_stores) as admin:
            sale = admin.get("/api/v1/orders", params={"source": "pos-sh01", "external_id": "W-1"})
        assert sale.json()["customer_id"] == bj
        assert _suggested_pairs(two_stores) == []


@pytest.mark.parametrize("kind", WRITE_KINDS)
@pytest.mark.parametrize("role", STORE_BOUND)
def test_a_store_bound_key_cannot_merge_two_customers_but_raises_a_suggestion(
    two_stores: Database, role: Role, kind: str
) -> None:
    sh, bj = _ids(two_stores)
    path, body = _writes(kind, 2, {"phone": SH_PHONE, "member_card": BJ_CARD})
    with api_client(two_stores, role=role, stores=["SH01"]) as till:
        response = till.post(path, json=body)
        assert response.status_code in (200, 201), response.text
        # Beijing's orders stay out of the till's sight
        own_orders = till.get(f"/api/v1/customers/{sh}/orders").json()["items"]
        assert {o["external_id"] for o in own_orders} <= {"SH-1", "W-2"}
        assert till.get(f"/api/v1/customers/{bj}").status_code == 403
    assert _as_admin(two_stores, bj)["status"] == "active"
    assert _as_admin(two_stores, sh)["status"] == "active"
    assert _suggested_pairs(two_stores) == [{sh, bj}]
    with api_client(two_stores) as admin:
        merges = admin.get(f"/api/v1/customers/{bj}/merges").json()
    assert merges == []


@pytest.mark.parametrize("role", STORE_BOUND)
def test_a_store_bound_key_cannot_attach_a_sale_to_another_stores_customer_by_id(
    two_stores: Database, role: Role
) -> None:
    _sh, bj = _ids(two_stores)
    with api_client(two_stores, role=role, stores=["SH01"]) as till:
        by_id = till.post(
            "/api/v1/orders", json=order_body("W-3", store_code="SH01", customer={"id": bj})
        )
        nobody = till.post(
            "/api/v1/orders", json=order_body("W-4", store_code="SH01", customer={"id": 99999})
        )
    assert by_id.status_code == nobody.status_code == 422
    assert by_id.json()["detail"][0]["field"] == nobody.json()["detail"][0]["field"]
    assert by_id.json()["message"].replace(str(bj), "N") == nobody.json()["message"].replace(
        "99999", "N"
    )


def test_a_chain_wide_key_still_merges_and_the_merge_is_audited(two_stores: Database) -> None:
    sh, bj = _ids(two_stores)
    with api_client(two_stores) as admin:
        admin.post(
            "/api/v1/orders",
            json=order_body("W-5", store_code="SH01",
                            customer={"phone": SH_PHONE, "member_card": BJ_CARD}),
        )  # fmt: skip
    assert _as_admin(two_stores, bj)["status"] == "merged"
    entries = two_stores.read(lambda s: audit.list_audit(session=s, action="customer.merge")).items
    assert [(e.target_id, e.details["merged_id"], e.details["automatic"]) for e in entries] == [
        (str(sh), bj, True)
    ]
    assert "W-5" in (entries[0].reason or "") and entries[0].actor_kind == "api_key"
    assert _suggested_pairs(two_stores) == []


def test_a_customers_order_list_shows_a_store_bound_caller_their_stores_orders_only(
    two_stores: Database,
) -> None:
    _sh, bj = _ids(two_stores)
    with api_client(two_stores, role=Role.CASHIER, stores=["SH01"]) as till:
        post_order(till, "SH-9", store_code="SH01", customer={"phone": BJ_PHONE})
        orders = till.get(f"/api/v1/customers/{bj}/orders")
        bj_order = till.get("/api/v1/orders", params={"source": "pos-sh01", "external_id": "BJ-1"})
    assert orders.status_code == 200
    assert [o["external_id"] for o in orders.json()["items"]] == ["SH-9"]
    assert bj_order.status_code == 403
    with api_client(two_stores) as admin:
        every = admin.get(f"/api/v1/customers/{bj}/orders").json()["items"]
    assert {o["external_id"] for o in every} == {"SH-9", "BJ-1"}


def test_replaying_another_stores_order_or_refund_tells_nothing_about_it(
    two_stores: Database,
) -> None:
    with api_client(two_stores) as admin:
        bj_body = order_body("BJ-7", store_code="BJ01", customer={"phone": BJ_PHONE})
        first = admin.post("/api/v1/orders", json=bj_body).json()
        refund = {"source": "pos-sh01", "external_id": "R-BJ-7", "order_external_id": "BJ-7",
                  "refunded_at": "2026-03-02T10:00:00+08:00"}  # fmt: skip
        assert admin.post("/api/v1/refunds", json=refund).status_code == 201
    with api_client(two_stores, role=Role.CASHIER, stores=["SH01"]) as till:
        same = till.post("/api/v1/orders", json=bj_body)
        other_lines = [{"sku": "SKU-2", "quantity": 2, "unit_price_fen": 500}]
        changed = till.post("/api/v1/orders", json={**bj_body, "lines": other_lines})
        bulk = till.post("/api/v1/orders/bulk", json={"orders": [bj_body]})
        refund_again = till.post("/api/v1/refunds", json=refund)
        refund_changed = till.post("/api/v1/refunds", json={**refund, "reason": "另一个"})
    for response in (same, changed, refund_again, refund_changed):
        assert response.status_code == 403, response.text
        text = response.text
        assert str(first["id"]) not in text and str(first["customer_id"]) not in text
    (item,) = bulk.json()["results"]
    assert item["status"] == "invalid" and item["order_id"] is None


def test_a_look_up_answers_alike_for_another_stores_customer_and_for_nobody(
    two_stores: Database,
) -> None:
    with api_client(two_stores, role=Role.CASHIER, stores=["SH01"]) as till:
        other = till.get("/api/v1/customers/lookup", params={"phone": BJ_PHONE})
        nobody = till.get("/api/v1/customers/lookup", params={"phone": "13600000000"})
        member_other = till.get("/api/v1/loyalty/lookup", params={"phone": BJ_PHONE})
        member_nobody = till.get("/api/v1/loyalty/lookup", params={"phone": "13600000000"})
        basket = {"lines": [{"sku": "X1", "quantity": 1, "unit_price_fen": 1000}]}
        quote_other = till.post(
            "/api/v1/loyalty/quote", json={"member": {"phone": BJ_PHONE}, **basket}
        )
        quote_nobody = till.post(
            "/api/v1/loyalty/quote", json={"member": {"phone": "13600000000"}, **basket}
        )
    for a, b in ((other, nobody), (member_other, member_nobody), (quote_other, quote_nobody)):
        assert a.status_code == b.status_code == 404
        assert a.json() == b.json()


def test_look_ups_are_rate_limited_per_store_bound_key(
    two_stores: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATRON_LOOKUP_RATE_PER_MINUTE", "3")
    get_settings.cache_clear()
    with api_client(two_stores, role=Role.CASHIER, stores=["SH01"]) as till:
        answers = [
            till.get("/api/v1/customers/lookup", params={"phone": SH_PHONE}).status_code,
            till.get("/api/v1/loyalty/lookup", params={"phone": SH_PHONE}).status_code,
            till.get("/api/v1/customers/lookup", params={"phone": BJ_PHONE}).status_code,
            till.get("/api/v1/loyalty/lookup", params={"phone": SH_PHONE}).status_code,
        ]
        other_till = make_api_key(two_stores, Role.CASHIER, ["SH01"])
        fresh = till.get(
            "/api/v1/customers/lookup",
            params={"phone": SH_PHONE},
            headers={"Authorization": f"Bearer {other_till}"},
        )
    assert answers == [200, 200, 404, 429]
    assert fresh.status_code == 200  # per key


def test_a_reveal_is_never_cached(two_stores: Database) -> None:
    with api_client(two_stores, role=Role.SERVICE_AGENT) as agent:
        customer = agent.get("/api/v1/customers/lookup", params={"phone": SH_PHONE}).json()
        shown = agent.post(f"/api/v1/customers/{customer['id']}/reveal", json={"reason": "核实"})
    assert shown.status_code == 200
    assert shown.headers["cache-control"] == "no-store"


def test_what_an_api_key_does_is_logged_with_its_address(two_stores: Database) -> None:
    with api_client(two_stores, role=Role.SERVICE_AGENT) as agent:
        customer = agent.get("/api/v1/customers/lookup", params={"phone": SH_PHONE}).json()
        agent.post(f"/api/v1/customers/{customer['id']}/reveal", json={"reason": "核实"})
    (entry,) = two_stores.read(
        lambda s: audit.list_audit(session=s, action="customer.reveal")
    ).items
    assert entry.actor_kind == "api_key" and entry.ip == "testclient"
