"""Coupons scoped to SKUs or categories: they apply to those lines only, their threshold
counts those lines only, and the money they take off falls on those lines (so the points
the other lines earn are untouched)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from patron.core.db import Database
from patron.loyalty import rules
from patron.loyalty.coupons import get_coupon
from patron.loyalty.exceptions import CouponNotApplicable
from patron.loyalty.rules import Basket, BasketLine, CouponKind, CouponTerms
from patron.loyalty.schemas import QuoteIn
from patron.loyalty.till import quote_basket
from tests.loyalty.helpers import (
    PLAIN,
    TUESDAY,
    give_coupon,
    member,
    products,
    refund,
    sale,
    template,
)

# B earns three points a yuan, so where a discount falls shows in the points
TRIPLE_B = replace(PLAIN, sku_multipliers_bp={"B": 30_000})
A, B = BasketLine("A", "food", 8_000), BasketLine("B", "drinks/tea", 2_000)
ON_B = CouponTerms(CouponKind.AMOUNT_OFF, amount_off_fen=1_000, skus=("B",))


def test_a_sku_scoped_coupon_counts_and_discounts_its_lines_only() -> None:
    basket = Basket((A, B), "S01", "pos")
    assert rules.coupon_outcome(PLAIN, ON_B, basket).discount_fen == 1_000
    # 满30减10 on B: the basket's ¥100 does not reach it, B's ¥20 alone is what counts
    manjian = replace(ON_B, threshold_fen=3_000)
    assert rules.coupon_outcome(PLAIN, manjian, basket).reason == "threshold"
    two_b = Basket((A, replace(B, amount_fen=4_000)), "S01", "pos")
    assert rules.coupon_outcome(PLAIN, manjian, two_b).discount_fen == 1_000
    # never more than the lines it covers
    big = replace(ON_B, amount_off_fen=5_000)
    assert rules.coupon_outcome(PLAIN, big, basket).discount_fen == 2_000
    # SKUs and categories together: either covers a line
    either = CouponTerms(CouponKind.PERCENT_OFF, percent_off_bp=1_000, skus=("A",),
                         category_prefixes=("drinks",))  # fmt: skip
    assert rules.coupon_outcome(PLAIN, either, basket).discount_fen == 1_000
    absent = replace(ON_B, skus=("C",))
    assert not rules.coupon_outcome(PLAIN, absent, basket).applicable


def test_a_scoped_coupon_falls_on_its_lines_and_the_rest_on_what_is_left() -> None:
    lines = (A, B)
    assert rules.discount_shares(PLAIN, lines, [(ON_B, 1_000)], 1_000, 0) == [0, 1_000]
    # points (¥5) then fall on what is left of each line: A 8,000, B 1,000
    shares = rules.discount_shares(PLAIN, lines, [(ON_B, 1_000)], 1_000, 500)
    assert shares == [444, 1_056] and sum(shares) == 1_500
    # an unscoped coupon is spread over every redeemable line by amount, as before
    plain = CouponTerms(CouponKind.AMOUNT_OFF, amount_off_fen=1_000)
    assert rules.discount_shares(PLAIN, lines, [(plain, 1_000)], 1_000, 0) == [800, 200]
    # two stackable coupons on the same line never take more than the line
    both = [(ON_B, 1_500), (replace(ON_B, category_prefixes=("drinks",)), 1_500)]
    shares = rules.discount_shares(PLAIN, lines, both, 2_000, 0)
    assert shares == [0, 2_000]
    # a wallet line takes no share
    top_up = BasketLine("STORED-VALUE", "", 5_000)
    shares = rules.discount_shares(PLAIN, (top_up, B), [(ON_B, 1_000)], 1_000, 300)
    assert shares[0] == 0 and sum(shares) == 1_300


def _lines(b_quantity: int = 1) -> list[dict[str, object]]:
    return [
        {"sku": "A", "quantity": 1, "unit_price_fen": 8_000},
        {"sku": "B", "quantity": b_quantity, "unit_price_fen": 2_000},
    ]


@pytest.fixture
def shop(db: Database) -> Database:
    products(db, ("A", "food"), ("B", "drinks/tea"))
    return db


def test_the_till_applies_a_scoped_coupon_to_its_lines_and_earns_on_the_rest(
    shop: Database,
) -> None:
    db = shop
    me = member(db)
    tpl = template(db, code="ON-B", kind="amount_off", amount_off_fen=1_000,
                   scope={"skus": ["B"]})  # fmt: skip
    coupon = give_coupon(db, tpl, me)
    quote_in = QuoteIn.model_validate(
        {"member": {"customer_id": me}, "lines": _lines(), "at": TUESDAY}
    )
    priced = db.read(lambda s: quote_basket(session=s, quote_in=quote_in, programme=TRIPLE_B))
    assert priced.best_coupon_codes == [coupon.code]
    assert priced.coupon_discount_fen == 1_000 and priced.payable_fen == 9_000
    # A paid ¥80 (80 points), B ¥10 at ×3 (30): not 72 + 54 as a spread over both would give
    assert priced.points_to_earn == 110
    result = sale(db, me, key="SCOPED", lines=_lines(), coupon_codes=[coupon.code],
                  order_discount_fen=1_000, programme=TRIPLE_B)  # fmt: skip
    assert (result.coupon_discount_fen, result.points_earned) == (1_000, 110)
    # a partial refund takes back points in proportion to the money; the coupon stays used
    back = refund(db, "SCOPED", lines=[{"line_no": 2, "quantity": 1}], at=TUESDAY,
                  programme=TRIPLE_B)  # fmt: skip
    assert back.coupons_restored == 0
    assert 0 < back.points_taken_back < 110
    # the rest of it: every point back, and the coupon usable again
    rest = refund(db, "SCOPED", lines=[{"line_no": 1, "quantity": 1}],
                  at=TUESDAY + timedelta(days=1), programme=TRIPLE_B)  # fmt: skip
    assert back.points_taken_back + rest.points_taken_back == 110
    assert rest.coupons_restored == 1
    restored = db.read(lambda s: get_coupon(session=s, code=coupon.code))
    assert restored is not None and restored.status == "issued"


def test_a_manjian_on_scoped_lines_counts_those_lines_only(shop: Database) -> None:
    db = shop
    me = member(db)
    tpl = template(db, code="B-MJ", kind="amount_off", threshold_fen=3_000,
                   amount_off_fen=1_000, scope={"skus": ["B"]})  # fmt: skip
    coupon = give_coupon(db, tpl, me)
    with pytest.raises(CouponNotApplicable) as refused:
        sale(db, me, lines=_lines(), coupon_codes=[coupon.code], order_discount_fen=1_000)
    assert refused.value.field == "coupon_codes"
    result = sale(db, me, lines=_lines(2), coupon_codes=[coupon.code], order_discount_fen=1_000,
                  programme=TRIPLE_B)  # fmt: skip
    # A ¥80 → 80; B ¥40 less ¥10 = ¥30 at ×3 → 90
    assert (result.coupon_discount_fen, result.points_earned) == (1_000, 170)
