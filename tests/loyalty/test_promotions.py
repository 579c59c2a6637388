"""Promotions at the till: bonus points for a time, a weekday or some goods; spend-threshold
gifts (满额赠礼) with stock and a per-member limit, shown in the quote and given once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from patron.core.db import Database
from patron.loyalty import promotions
from patron.loyalty.schemas import PromotionCreate, QuoteIn, QuoteRead
from patron.loyalty.till import quote_basket
from tests.helpers import ACTOR
from tests.loyalty.helpers import PLAIN, TUESDAY, member, products, refund, sale

WEEK = {"starts_at": TUESDAY - timedelta(days=3), "ends_at": TUESDAY + timedelta(days=14)}
FRUIT = {"sku": "APPLE", "quantity": 1, "unit_price_fen": 10_000}  # ¥100 of fresh fruit
SOAP = {"sku": "SOAP", "quantity": 1, "unit_price_fen": 5_000}  # ¥50, not fresh


@pytest.fixture
def goods(db: Database) -> Database:
    products(db, ("APPLE", "fresh/fruit"), ("SOAP", "home/cleaning"), ("STORED-VALUE", "wallet"))
    return db


def _promote(db: Database, **fields: Any) -> None:
    model = PromotionCreate.model_validate({**WEEK, **fields})
    db.write(lambda s: promotions.create_promotion(session=s, promotion_in=model, actor=ACTOR))


def _quote(db: Database, customer_id: int, lines: list[dict[str, Any]], at=TUESDAY) -> QuoteRead:
    quote_in = QuoteIn.model_validate(
        {"member": {"customer_id": customer_id}, "lines": lines, "at": at}
    )
    return db.read(lambda s: quote_basket(session=s, quote_in=quote_in, programme=PLAIN))


def test_bonus_points_multiply_the_covered_goods_only_while_it_runs(goods: Database) -> None:
    _promote(
        goods,
        code="FRESH3",
        name="生鲜三倍积分",
        kind="bonus_points",
        categories=["fresh"],
        multiplier_bp=30_000,
    )
    customer = member(goods)
    assert sale(goods, customer, lines=[FRUIT, SOAP]).points_earned == 300 + 50
    quoted = _quote(goods, customer, [FRUIT])
    assert quoted.points_to_earn == 300
    assert [(p.code, p.qualifies) for p in quoted.promotions] == [("FRESH3", True)]
    after = TUESDAY + timedelta(days=15)
    assert sale(goods, customer, lines=[FRUIT], at=after).points_earned == 100


def test_a_weekly_member_day_set_up_as_a_promotion(goods: Database) -> None:
    _promote(
        goods,
        code="TUE2",
        name="周二会员日",
        kind="bonus_points",
        weekdays=[TUESDAY.weekday()],
        multiplier_bp=20_000,
    )
    customer = member(goods)
    assert sale(goods, customer, lines=[SOAP]).points_earned == 100
    assert sale(goods, customer, lines=[SOAP], at=TUESDAY + timedelta(days=1)).points_earned == 50


def test_a_threshold_gift_is_quoted_given_once_and_its_stock_returns_on_refund(
    goods: Database,
) -> None:
    _promote(
        goods,
        code="GIFT100",
        name="满100赠环保袋",
        kind="threshold_gift",
        threshold_fen=10_000,
        gift_sku="BAG",
        gift_name="环保袋",
        stock=1,
    )
    first, second = member(goods), member(goods)

    short = _quote(goods, first, [SOAP]).promotions[0]
    assert (short.qualifies, short.spend_fen, short.short_fen) == (False, 5_000, 5_000)
    assert _quote(goods, first, [FRUIT]).promotions[0].qualifies

    given = sale(goods, first, lines=[FRUIT], key="GIFT-1")
    assert [(g.promotion_code, g.gift_sku) for g in given.gifts] == [("GIFT100", "BAG")]
    assert sale(goods, second, lines=[FRUIT]).gifts == []  # the only one is gone
    assert _quote(goods, second, [FRUIT]).promotions[0].reason == "out of stock"

    refund(goods, "GIFT-1", at=TUESDAY + timedelta(days=1), programme=PLAIN)
    assert [g.gift_sku for g in sale(goods, second, lines=[FRUIT]).gifts] == ["BAG"]


def test_wallet_top_ups_do_not_count_towards_a_gift_and_limits_hold(goods: Database) -> None:
    _promote(
        goods,
        code="GIFT100",
        name="满100赠",
        kind="threshold_gift",
        threshold_fen=10_000,
        gift_sku="BAG",
        per_customer_limit=1,
    )
    customer = member(goods)
    top_up = {"sku": "STORED-VALUE", "quantity": 1, "unit_price_fen": 50_000}
    assert sale(goods, customer, lines=[SOAP, top_up]).gifts == []
    assert len(sale(goods, customer, lines=[FRUIT]).gifts) == 1
    assert sale(goods, customer, lines=[FRUIT]).gifts == []  # once per member
    found = goods.read(lambda s: promotions.list_promotions(session=s, running_at=TUESDAY))
    assert [(p.code, p.awarded) for p in found] == [("GIFT100", 1)]


def test_quotes_see_this_process_s_promotion_changes_at_once(goods: Database) -> None:
    customer = member(goods)
    assert _quote(goods, customer, [FRUIT]).promotions == []
    _promote(goods, code="FRESH2", name="生鲜双倍", kind="bonus_points", multiplier_bp=20_000)
    assert [p.code for p in _quote(goods, customer, [FRUIT]).promotions] == ["FRESH2"]
    goods.write(lambda s: promotions.end_promotion(session=s, code="FRESH2", actor=ACTOR))
    assert _quote(goods, customer, [FRUIT]).promotions == []


def test_another_process_s_promotion_reaches_quotes_within_the_cache_time(
    goods: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = member(goods)
    assert _quote(goods, customer, [FRUIT]).points_to_earn == 100
    # Another server process starts a promotion: this process's copy is not told...
    with monkeypatch.context() as m:
        m.setattr(promotions, "forget_till_promotions", lambda: None)
        _promote(goods, code="FRESH2", name="生鲜双倍", kind="bonus_points", multiplier_bp=20_000)
    assert _quote(goods, customer, [FRUIT]).points_to_earn == 100
    # ...but the order's commit reads afresh, and earns the bonus.
    assert sale(goods, customer, lines=[FRUIT]).points_earned == 200
    monkeypatch.setattr(promotions, "TILL_PROMOTION_SECONDS", 0.0)  # that time has passed
    assert _quote(goods, customer, [FRUIT]).points_to_earn == 200


def test_a_quote_for_an_earlier_time_than_the_copy_reads_afresh(
    goods: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = member(goods)
    # A promotion that ended an hour before the copy is read is not in the copy.
    with monkeypatch.context() as m:
        m.setattr(promotions, "forget_till_promotions", lambda: None)
        _promote(
            goods,
            code="MORNING",
            name="早市双倍",
            kind="bonus_points",
            multiplier_bp=20_000,
            starts_at=TUESDAY - timedelta(hours=3),
            ends_at=TUESDAY - timedelta(hours=1),
        )
    assert _quote(goods, customer, [FRUIT]).points_to_earn == 100
    earlier = _quote(goods, customer, [FRUIT], at=TUESDAY - timedelta(hours=2))
    assert [p.code for p in earlier.promotions] == ["MORNING"]
    assert earlier.points_to_earn == 200


def test_a_promotion_must_make_sense() -> None:
    for fields, field in (
        ({"kind": "bonus_points", "multiplier_bp": 10_000}, "multiplier_bp"),
        ({"kind": "threshold_gift", "gift_sku": "BAG"}, "threshold_fen"),
        ({"kind": "threshold_gift", "threshold_fen": 100}, "gift_sku"),
        (
            {"kind": "bonus_points", "multiplier_bp": 20_000, "ends_at": WEEK["starts_at"]},
            "ends_at",
        ),
    ):
        with pytest.raises(ValueError, match=field):
            PromotionCreate.model_validate({**WEEK, "code": "X", "name": "x", **fields})


def test_promotions_over_http(api: TestClient) -> None:
    body = {
        "code": "DOUBLE",
        "name": "双倍积分",
        "kind": "bonus_points",
        "multiplier_bp": 20_000,
        "starts_at": "2026-01-01T00:00:00Z",
        "ends_at": "2036-01-01T00:00:00Z",
    }
    created = api.post("/api/v1/loyalty/promotions", json=body)
    assert created.status_code == 201, created.text
    assert api.post("/api/v1/loyalty/promotions", json=body).status_code == 409
    running = api.get("/api/v1/loyalty/promotions", params={"running": "true"}).json()
    assert [p["code"] for p in running] == ["DOUBLE"]
    ended = api.post("/api/v1/loyalty/promotions/DOUBLE/end")
    assert ended.status_code == 200 and ended.json()["active"] is False
    assert api.get("/api/v1/loyalty/promotions", params={"running": "true"}).json() == []
    bad = api.post("/api/v1/loyalty/promotions", json=dict(body, code="BAD", multiplier_bp=5))
    assert bad.status_code == 422
