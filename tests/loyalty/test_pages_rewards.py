"""Console screens of the member rewards: gifts for points, member offers, early access and
birthday coupons, and the till check, by role, in Chinese."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from patron.audit import service as audit
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.loyalty.gifts import list_redemptions
from patron.staff.roles import Role
from tests.loyalty.helpers import adjust, sale
from tests.web.helpers.console import Shop, console, make_shop, text_of


@pytest.fixture
def shop(db: Database) -> Shop:
    return make_shop(db)


def _local(days: float) -> str:
    from patron.core.settings import get_settings

    at = utcnow() + timedelta(days=days)
    return at.astimezone(get_settings().zone).strftime("%Y-%m-%dT%H:%M")


def _gold(shop: Shop) -> None:
    """Member A spends ¥10,000 an hour ago (gold) and holds 1,000 points."""
    now = utcnow()
    sale(shop.db, shop.a_customer, at=now - timedelta(hours=1), now=now,
         lines=[{"sku": "SKU-9", "quantity": 1, "unit_price_fen": 1_000_000}])  # fmt: skip
    adjust(shop.db, shop.a_customer, 1_000, at=now - timedelta(minutes=30))


GIFT = {"code": "WRAP", "name": "免费礼品包装", "kind": "service", "points": "300",
        "tiers": "gold", "fulfilment": ["pickup"], "store_stock": "A01:5, B01:2"}  # fmt: skip
OFFER = {"code": "GOLD88", "name": "金卡会员价", "price": "80", "skus": "SKU-1",
         "tiers": "gold, platinum", "quota_units": "100"}  # fmt: skip


def test_a_manager_adds_a_gift_and_an_offer_and_a_cashier_quotes_both(shop: Shop) -> None:
    _gold(shop)
    with console(shop.db, "manager", Role.CHAIN_MANAGER) as (client, csrf):
        gift = client.post("/loyalty/gifts", data={**GIFT, "starts_at": _local(-1),
                                                   "csrf_token": csrf}, follow_redirects=False)  # fmt: skip
        assert gift.status_code == 303, text_of(gift.text)
        offer = client.post("/loyalty/offers", data={**OFFER, "starts_at": _local(-1),
                            "ends_at": _local(7), "csrf_token": csrf}, follow_redirects=False)  # fmt: skip
        assert offer.status_code == 303, text_of(offer.text)
        page = client.get("/loyalty/offers?done=created")
        assert "金卡会员价" in page.text and "0 / 100" in page.text and "进行中" in page.text
    with console(shop.db, "cashier", Role.CASHIER, ["A01"]) as (client, csrf):
        stock = client.get("/loyalty/gifts")
        assert "A01 0 / 5" in stock.text and "B01" not in text_of(stock.text).split("目录")[-1]
        quoted = client.post("/loyalty/till", data={"phone": shop.a_phone, "store_code": "A01",
                             "lines": "SKU-1 2 100", "csrf_token": csrf})  # fmt: skip
        assert quoted.status_code == 200, text_of(quoted.text)
        offers = re.findall(r'class="quote-offer">(.*?)</tr>', quoted.text, re.DOTALL)
        assert len(offers) == 1 and "金卡会员价" in offers[0] and "¥40.00" in offers[0]
        assert "免费礼品包装" in quoted.text and "gold" in quoted.text


def test_a_console_redemption_is_cancelled_whole_and_both_are_audited(shop: Shop) -> None:
    _gold(shop)
    with console(shop.db, "manager", Role.CHAIN_MANAGER) as (client, csrf):
        client.post("/loyalty/gifts", data={**GIFT, "starts_at": _local(-1), "csrf_token": csrf})
        done = client.post("/loyalty/gifts/redeem", data={
            "customer_id": str(shop.a_customer), "reward_code": "WRAP", "store_code": "A01",
            "fulfilment": "pickup", "idempotency_key": "console-0001", "csrf_token": csrf,
        }, follow_redirects=False)  # fmt: skip
        assert done.status_code == 303, text_of(done.text)
        [row] = shop.db.read(lambda s: list_redemptions(session=s))
        cancel = client.post(f"/loyalty/gifts/redemptions/{row.id}/cancel",
                             data={"csrf_token": csrf}, follow_redirects=False)  # fmt: skip
        assert cancel.status_code == 303
        assert "A01 0 / 5" in client.get("/loyalty/gifts").text
    actions = sorted(
        e.action for e in shop.db.read(lambda s: audit.list_audit(session=s)).items
        if e.action.startswith("reward.")
    )  # fmt: skip
    assert actions == ["reward.cancel", "reward.create"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price": "", "percent": ""}, "price"),
        ({"skus": ""}, "skus"),
        ({"ends_at": ""}, "ends_at"),
        ({"quota_units": "many"}, "quota_units"),
    ],
)
def test_a_bad_offer_form_shows_the_error_next_to_its_field(
    shop: Shop, change: dict[str, str], field: str
) -> None:
    form = {**OFFER, "starts_at": _local(0), "ends_at": _local(5), **change}
    with console(shop.db) as (client, csrf):
        response = client.post("/loyalty/offers", data={**form, "csrf_token": csrf})
    assert response.status_code == 422
    assert re.findall(r'id="([a-z_]+)-error"', response.text) == [field]


def test_early_access_refuses_the_sale_at_the_till_check_with_the_day_it_opens(
    shop: Shop,
) -> None:
    with console(shop.db) as (client, csrf):
        saved = client.post("/loyalty/early-access", data={
            "target_kind": "sku", "target": "SKU-1", "opens_at": _local(1),
            "tier_days": "gold:0", "everyone_day": "3", "csrf_token": csrf,
        }, follow_redirects=False)  # fmt: skip
        assert saved.status_code == 303, text_of(saved.text)
        assert "SKU-1" in client.get("/loyalty/early-access").text
        refused = client.post("/loyalty/till", data={"phone": shop.a_phone,
                              "lines": "SKU-1 1 10", "csrf_token": csrf})  # fmt: skip
        assert refused.status_code == 422
        assert "仅限优先购买会员购买" in refused.text
