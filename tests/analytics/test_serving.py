"""The serving API: a member's next-basket list and what is bought with a product, as the
nightly run stored them, with product names, scoped to a store-bound role's stores, and
clear errors for an unknown customer, product or store."""

from __future__ import annotations

from datetime import date

from patron.analytics.basket.service import bought_together
from patron.analytics.recommend.service import recommendations_for
from patron.analytics.serving import reason_of
from patron.core.db import Database
from patron.staff.roles import Role
from tests.analytics.helpers import PRODUCTS, BasketShop, build_basket_shop
from tests.web.helpers.api import api_client


def _a_store_member(shop: BasketShop, store: str) -> int:
    return next(c for c in shop.members if shop.home[c] == store)


def test_the_api_serves_what_the_nightly_run_stored_with_names_and_reasons(db: Database) -> None:
    shop = build_basket_shop(db)
    member = shop.members[1]
    stored = db.read(lambda s: recommendations_for(session=s, customer_id=member, limit=20))
    chain = db.read(lambda s: bought_together(session=s, item="BREAD", limit=20))
    a01 = db.read(lambda s: bought_together(session=s, item="BREAD", store_id=1, limit=20))
    assert stored and chain
    with api_client(db) as api:
        listed = api.get(f"/api/v1/customers/{member}/recommendations", params={"limit": 20})
        together = api.get("/api/v1/products/BREAD/bought-together", params={"limit": 20})
        in_a01 = api.get(
            "/api/v1/products/BREAD/bought-together", params={"store": "A01", "limit": 20}
        )
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["run_id"] == shop.run_id and body["as_of"] == "2025-09-30"
    assert [(i["rank"], i["sku"], i["score"]) for i in body["items"]] == [
        (r.rank, r.sku, r.score) for r in stored
    ]
    first = body["items"][0]
    assert first["sku"] == "MILK" and first["name"] == PRODUCTS["MILK"][0]
    assert first["reason"] in ("due", "repeat")
    assert {i["reason"] for i in body["items"]} <= {"due", "repeat", "similar", "rule", "popular"}

    assert together.status_code == 200, together.text
    rules = together.json()
    assert rules["name"] == PRODUCTS["BREAD"][0] and rules["store_code"] is None
    assert rules["run_id"] == shop.run_id
    assert [(i["sku"], i["support"], i["confidence"], i["lift"]) for i in rules["items"]] == [
        (t.consequent, t.support, t.confidence, t.lift) for t in chain
    ]
    jam = next(i for i in rules["items"] if i["sku"] == "JAM")
    assert jam["name"] == PRODUCTS["JAM"][0] and jam["confidence"] == 1.0
    assert in_a01.status_code == 200 and in_a01.json()["store_code"] == "A01"
    assert [i["sku"] for i in in_a01.json()["items"]] == [t.consequent for t in a01]


def test_a_store_bound_role_reads_only_its_stores_customers_and_rules(db: Database) -> None:
    shop = build_basket_shop(db)
    own, other = _a_store_member(shop, "A01"), _a_store_member(shop, "B01")
    with api_client(db, role=Role.CASHIER, stores=["A01"]) as till:
        assert till.get(f"/api/v1/customers/{own}/recommendations").status_code == 200
        refused = till.get(f"/api/v1/customers/{other}/recommendations")
        # refused as every customer read refuses another store's customer
        profile = till.get(f"/api/v1/customers/{other}")
        assert refused.status_code == profile.status_code == 403
        assert refused.json()["error"] == profile.json()["error"]
        mine = till.get("/api/v1/products/BREAD/bought-together")
        assert mine.status_code == 200 and mine.json()["store_code"] == "A01"
        assert {i["sku"] for i in mine.json()["items"]} >= {"JAM"}
        theirs = till.get("/api/v1/products/BREAD/bought-together", params={"store": "B01"})
        assert theirs.status_code == 403 and theirs.json()["error"] == "other_stores_rules"
    with api_client(db, role=Role.STORE_MANAGER, stores=["A01", "B01"]) as manager:
        unnamed = manager.get("/api/v1/products/BREAD/bought-together")
        assert unnamed.status_code == 422
        assert unnamed.json()["detail"][0]["field"] == "store"
        named = manager.get("/api/v1/products/BREAD/bought-together", params={"store": "B01"})
        assert named.status_code == 200 and named.json()["store_code"] == "B01"


def test_unknown_customers_products_and_stores_are_clear_errors(db: Database) -> None:
    shop = build_basket_shop(db)
    with api_client(db) as api:
        missing = api.get("/api/v1/customers/999999/recommendations")
        assert missing.status_code == 404 and missing.json()["error"] == "customer_not_found"
        no_sku = api.get("/api/v1/products/NOPE/bought-together")
        assert no_sku.status_code == 404 and no_sku.json()["error"] == "product_not_found"
        no_store = api.get("/api/v1/products/BREAD/bought-together", params={"store": "Z99"})
        assert no_store.status_code == 404 and no_store.json()["error"] == "store_not_found"
        too_many = api.get(f"/api/v1/customers/{shop.members[0]}/recommendations?limit=101")
        assert too_many.status_code == 422
        # a product nobody bought with anything: an empty list, not an error
        alone = api.get("/api/v1/products/TEA/bought-together")
        assert alone.status_code == 200 and alone.json()["items"] == []
    with api_client(db, role=Role.MARKETER) as marketer:
        assert marketer.get("/api/v1/products/BREAD/bought-together").status_code == 200
    with api_client(db, role=None) as stranger:
        assert stranger.get("/api/v1/products/BREAD/bought-together").status_code == 401


def test_a_repeat_item_is_due_from_its_due_day() -> None:
    today = date(2026, 3, 10)
    assert reason_of("repeat", date(2026, 3, 10), today=today) == "due"
    assert reason_of("repeat", date(2026, 3, 11), today=today) == "repeat"
    assert reason_of("repeat", None, today=today) == "repeat"
    assert reason_of("rule", date(2026, 3, 1), today=today) == "rule"
