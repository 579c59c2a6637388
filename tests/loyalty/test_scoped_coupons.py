"""Coupons scoped to SKUs or categories: they apply to those lines only, their threshold
counts those lines only, and the money they take off falls on those lines (so the points
the other lines earn are untouched)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patron.core.db import Database
from patron.loyalty import rules
from patron.loyalty.coupons import get_coupon
from patron.loyalty.exceptions import CouponNotApplicable
from patron.loyalty.rules import Basket, BasketLine, CouponKind, CouponTerms
from patron.loyalty.schemas import QuoteIn
from patron.loyalty.till import quote_basket
from patron.orders import service as orders
from patron.orders.schemas import RefundIn
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


def _refund_lines(db: Database, order_key: str, line_nos: list[int], at: datetime) -> int:
    """Post a refund of the whole quantity of ``line_nos``; the money it takes back."""
    refund_in = RefundIn.model_validate(
        {
            "source": "pos-test",
            "external_id": f"R-{order_key}-{'-'.join(map(str, line_nos))}",
            "order_external_id": order_key,
            "refunded_at": at,
            "lines": [{"line_no": n} for n in line_nos],
        }
    )
    return db.write(
        lambda s: orders.record_refund(session=s, refund_in=refund_in)
    ).refund.amount_fen


def test_a_refund_of_some_lines_takes_back_the_scoped_coupon_on_those_lines_only(
    shop: Database,
) -> None:
    db = shop
    me = member(db)
    tpl = template(db, code="ON-B-REFUND", kind="amount_off", amount_off_fen=1_000,
                   scope={"skus": ["B"]})  # fmt: skip
    coupon = give_coupon(db, tpl, me)
    sale(db, me, key="SCOPED-R", lines=_lines(), coupon_codes=[coupon.code],
         order_discount_fen=1_000)  # fmt: skip
    # B cost ¥20 and the coupon took ¥10 off it: B's refund is ¥10, not ¥18 (a spread of the
    # ¥10 over both lines by amount), and A's is its full ¥80
    assert _refund_lines(db, "SCOPED-R", [2], TUESDAY) == 1_000
    assert _refund_lines(db, "SCOPED-R", [1], TUESDAY) == 8_000


_sale_keys = itertools.count()


@st.composite
def _scoped_sales(draw: st.DrawFn) -> tuple[list[int], list[bool], int, int, list[int]]:
    """Line prices, which lines the coupon covers (at least one), the coupon's ¥ off, the
    shop's own order discount (抹零) and the lines refunded first."""
    n = draw(st.integers(2, 5))
    prices = draw(st.lists(st.integers(1, 50_000), min_size=n, max_size=n))
    covered = draw(st.lists(st.booleans(), min_size=n, max_size=n).filter(any))
    room = sum(p for p, c in zip(prices, covered, strict=True) if c)
    off = draw(st.integers(1, room))
    rounding = draw(st.integers(0, min(99, sum(prices) - off)))
    first = draw(st.lists(st.integers(1, n), min_size=1, max_size=n, unique=True))
    return prices, covered, off, rounding, sorted(first)


@given(case=_scoped_sales())
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_refunds_split_a_scoped_coupon_over_its_lines_to_the_fen(
    shop: Database, case: tuple[list[int], list[bool], int, int, list[int]]
) -> None:
    prices, covered, off, rounding, first = case
    db = shop
    me = member(db)
    k = next(_sale_keys)
    skus = [f"P{k}-{i}" for i in range(len(prices))]
    products(db, *((sku, "food") for sku in skus))
    tpl = template(db, code=f"PROP-{k}", kind="amount_off", amount_off_fen=off,
                   scope={"skus": [s for s, c in zip(skus, covered, strict=True) if c]})  # fmt: skip
    coupon = give_coupon(db, tpl, me)
    key = f"PROP-{k}"
    lines = [
        {"sku": s, "quantity": 1, "unit_price_fen": p} for s, p in zip(skus, prices, strict=True)
    ]
    result = sale(db, me, key=key, lines=lines, coupon_codes=[coupon.code],
                  order_discount_fen=off + rounding)  # fmt: skip
    assert result.coupon_discount_fen == off
    rest = [n for n in range(1, len(prices) + 1) if n not in first]
    back = {n: _refund_lines(db, key, [n], TUESDAY) for n in first}
    if rest:
        back.update({n: _refund_lines(db, key, [n], TUESDAY) for n in rest})
    # every fen paid comes back, no more
    assert sum(back.values()) == sum(prices) - off - rounding
    # what a line lost is its share of the coupon (its lines only, by amount, to the fen)
    # plus its share of the shop's own rounding (every line, by what the coupon left of it)
    total = sum(prices)
    covered_total = sum(p for p, c in zip(prices, covered, strict=True) if c)
    coupon_taken = 0
    for n, (price, on) in enumerate(zip(prices, covered, strict=True), start=1):
        lost = price - back[n]
        assert 0 <= lost <= price
        coupon_share = off * price / covered_total if on else 0.0
        # (a coupon taking the whole basket leaves nothing to round)
        left = total - off
        rounding_share = rounding * (price - coupon_share) / left if left else 0.0
        # each of the two shares is rounded to the fen on its own (a fen each, at most)
        assert abs(lost - rounding_share - coupon_share) < 3
        if not on:
            assert abs(lost - rounding_share) < 1
        else:
            coupon_taken += lost
    # with no rounding, the lines the coupon does not cover come back whole, and the coupon's
    # money is taken back on its own lines to the fen
    if rounding == 0:
        assert all(
            back[n] == p for n, (p, on) in enumerate(zip(prices, covered, strict=True), 1) if not on
        )
        assert coupon_taken == off
