"""Earn rules, points limits, coupon terms and tiers as pure functions: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from patron.loyalty import rules
from patron.loyalty.rules import Basket, BasketLine, CouponKind, CouponTerms, Programme, TierState

PLAIN = Programme(member_weekdays=frozenset(), max_points_per_order=None)
MEMBER = PLAIN.base_tier
TUESDAY = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
WEDNESDAY = TUESDAY + timedelta(days=1)


def line(sku: str = "A", amount: int = 10_000, category: str = "food") -> BasketLine:
    return BasketLine(sku, category, amount)


def earn(lines: list[BasketLine], paid: list[int] | None = None, **kw) -> int:  # type: ignore[no-untyped-def]
    programme = kw.pop("programme", PLAIN)
    return rules.points_to_earn(
        programme,
        lines,
        paid if paid is not None else [ln.amount_fen for ln in lines],
        tier=kw.pop("tier", MEMBER),
        at=kw.pop("at", TUESDAY),
    )


def test_one_point_per_yuan_paid_floored_once_for_the_whole_order() -> None:
    # three lines of ¥1.50 earn 4 points (4.5 floored once), not 3 (each line floored)
    assert earn([line(amount=150)] * 3) == 4


def test_a_discount_line_never_earns_points() -> None:
    assert earn([line("DISCOUNT", 5_000)]) == 0
    assert earn([line("A", 10_000), line("DISCOUNT", 5_000)]) == 100


def test_the_discounted_part_of_a_line_never_earns() -> None:
    assert earn([line(amount=10_000)], paid=[7_000]) == 70


def test_wallet_lines_neither_earn_nor_can_be_paid_with_points_or_coupons() -> None:
    top_up = line("STORED-VALUE", 50_000, "")
    gift_card = line("X", 20_000, "wallet/gift")
    assert earn([top_up, gift_card]) == 0
    assert not rules.redeemable(PLAIN, top_up) and not rules.redeemable(PLAIN, gift_card)
    assert rules.redeemable_fen(PLAIN, Basket((top_up, line()), "S", "pos")) == 10_000


def test_points_used_to_pay_never_earn_points() -> None:
    lines = [line(amount=10_000), line("STORED-VALUE", 10_000, "")]
    shares = rules.spread_discount(PLAIN, lines, 5_000)  # ¥50 paid with points
    assert shares == [5_000, 0]
    paid = [ln.amount_fen - s for ln, s in zip(lines, shares, strict=True)]
    assert earn(lines, paid) == 50


@pytest.mark.parametrize(
    ("programme", "sku", "category", "points"),
    [
        (
            Programme(member_weekdays=frozenset(), sku_multipliers_bp={"A": 30_000}),
            "A",
            "food",
            300,
        ),
        (
            Programme(member_weekdays=frozenset(), category_multipliers_bp={"food": 20_000}),
            "A",
            "food/fruit",
            200,
        ),
        (
            Programme(
                member_weekdays=frozenset(),
                category_multipliers_bp={"food": 20_000, "food/fruit": 15_000},
            ),
            "A",
            "food/fruit",
            150,
        ),
        (Programme(member_weekdays=frozenset(), excluded_skus=frozenset({"A"})), "A", "food", 0),
        (Programme(member_weekdays=frozenset()), "A", "tobacco/cigarettes", 0),
        (Programme(member_weekdays=frozenset(), max_points_per_order=40), "A", "food", 40),
    ],
)
def test_multipliers_exclusions_and_caps(
    programme: Programme, sku: str, category: str, points: int
) -> None:
    assert earn([line(sku, 10_000, category)], programme=programme) == points


def test_member_day_and_tier_multiply_the_points() -> None:
    programme = Programme(max_points_per_order=None)  # Wednesday is member day, ×2
    gold = programme.tier("gold")  # ×1.5
    assert earn([line()], programme=programme, at=WEDNESDAY) == 200
    assert earn([line()], programme=programme, at=TUESDAY, tier=gold) == 150
    assert earn([line()], programme=programme, at=WEDNESDAY, tier=gold) == 300


def test_at_most_half_the_order_can_be_paid_with_points() -> None:
    assert rules.max_points_usable(PLAIN, 10_001, 1_000_000) == 5_000
    assert rules.max_points_usable(PLAIN, 10_000, 1_234) == 1_234
    assert rules.points_value_fen(PLAIN, 1_234) == 1_234


def test_a_coarser_points_rate_only_accepts_whole_fen() -> None:
    programme = Programme(redeem_points_per_yuan=200)
    assert rules.points_step(programme) == 2
    assert rules.max_points_usable(programme, 10_001, 9_999) == 9_998


BASKET = Basket((line("A", 8_000, "food"), line("B", 4_000, "drinks")), "S01", "pos", 800)
MANJIAN = CouponTerms(CouponKind.AMOUNT_OFF, threshold_fen=10_000, amount_off_fen=2_000)


@pytest.mark.parametrize(
    ("terms", "applicable", "discount"),
    [
        (MANJIAN, True, 2_000),
        (CouponTerms(CouponKind.AMOUNT_OFF, threshold_fen=12_001, amount_off_fen=2_000), False, 0),
        (CouponTerms(CouponKind.PERCENT_OFF, percent_off_bp=1_250), True, 1_500),
        (CouponTerms(CouponKind.PERCENT_OFF, percent_off_bp=5_000, cap_fen=3_000), True, 3_000),
        (
            CouponTerms(CouponKind.AMOUNT_OFF, amount_off_fen=500, category_prefixes=("drinks",)),
            True,
            500,
        ),
        (
            CouponTerms(
                CouponKind.AMOUNT_OFF,
                threshold_fen=5_000,
                amount_off_fen=500,
                category_prefixes=("drinks",),
            ),
            False,
            0,
        ),
        (CouponTerms(CouponKind.AMOUNT_OFF, amount_off_fen=500, store_codes=("S02",)), False, 0),
        (CouponTerms(CouponKind.AMOUNT_OFF, amount_off_fen=500, channels=("online",)), False, 0),
        (CouponTerms(CouponKind.FREE_DELIVERY), True, 0),
        (CouponTerms(CouponKind.GIFT_ITEM, gift_sku="GIFT"), True, 0),
    ],
)
def test_coupon_terms_against_a_basket(terms: CouponTerms, applicable: bool, discount: int) -> None:
    outcome = rules.coupon_outcome(PLAIN, terms, BASKET)
    assert (outcome.applicable, outcome.discount_fen) == (applicable, discount)


def test_a_coupon_cannot_pay_for_a_wallet_top_up() -> None:
    top_up = Basket((line("STORED-VALUE", 50_000, ""),), "S01", "pos")
    assert not rules.coupon_outcome(PLAIN, MANJIAN, top_up).applicable


def test_best_combination_keeps_non_stacking_coupons_alone_and_stacks_the_rest() -> None:
    stack_a = CouponTerms(CouponKind.AMOUNT_OFF, amount_off_fen=1_200, stackable=True)
    stack_b = CouponTerms(CouponKind.AMOUNT_OFF, amount_off_fen=1_000, stackable=True)
    free = CouponTerms(CouponKind.FREE_DELIVERY, stackable=True)
    codes, saving = rules.best_combination(
        PLAIN, [("M", MANJIAN), ("A", stack_a), ("B", stack_b), ("F", free)], BASKET
    )
    assert sorted(codes) == ["A", "B", "F"] and saving == 3_000
    assert rules.combined_discount_fen(PLAIN, [MANJIAN, stack_a], BASKET) is None
    codes, saving = rules.best_combination(PLAIN, [("M", MANJIAN), ("B", stack_b)], BASKET)
    assert (codes, saving) == (["M"], 2_000)


def test_tier_is_judged_on_spend_or_points_earned() -> None:
    assert rules.qualifying_tier(PLAIN, spend_fen=1_000_000, points_earned=0).code == "gold"
    by_points = Programme(tier_basis=rules.TierBasis.POINTS)
    assert rules.qualifying_tier(by_points, spend_fen=0, points_earned=2_000).code == "silver"


def test_upgrade_is_immediate_and_downgrade_waits_for_review_and_grace() -> None:
    gold, member = PLAIN.tier("gold"), PLAIN.base_tier
    up = rules.review_tier(
        PLAIN, current=TierState("member", None), qualifying=gold, now=TUESDAY, at_review=False
    )
    assert up == TierState("gold", None)
    held = rules.review_tier(PLAIN, current=up, qualifying=member, now=TUESDAY, at_review=False)
    assert held == up
    graced = rules.review_tier(PLAIN, current=up, qualifying=member, now=TUESDAY, at_review=True)
    assert graced == TierState("gold", TUESDAY + timedelta(days=30))
    early = TUESDAY + timedelta(days=29)
    assert (
        rules.review_tier(PLAIN, current=graced, qualifying=member, now=early, at_review=True)
        == graced
    )
    late = TUESDAY + timedelta(days=30)
    assert rules.review_tier(
        PLAIN, current=graced, qualifying=member, now=late, at_review=True
    ) == TierState("member", None)


@pytest.mark.parametrize(
    ("total", "refunded", "paid", "full", "share"),
    [
        (96, 3_333, 9_667, False, 33),
        (96, 6_666, 9_667, False, 66),
        (96, 9_000, 9_667, True, 96),
        (5, 0, 0, False, 0),
    ],
)
def test_refund_shares_round_half_up_on_the_cumulative_amount(
    total: int, refunded: int, paid: int, full: bool, share: int
) -> None:
    assert rules.refunded_share(total, refunded, paid, full=full) == share
