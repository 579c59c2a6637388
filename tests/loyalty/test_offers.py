"""Limited-time member offers (限时优惠): the best offer per line, by tier and window, how it
stacks with the tier discount, coupons and points, and quotas taken once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from patron.core.db import Database
from patron.loyalty.exceptions import OfferQuotaUsedUp
from patron.loyalty.offers import OfferTerms, PricedLine, claim_offer, line_saving_fen, list_offers
from tests.helpers import post_order
from tests.loyalty.helpers import (
    PLAIN,
    TUESDAY,
    adjust,
    commit,
    give_coupon,
    gold_member,
    member,
    offer,
    products,
    quote,
    template,
)

TWO_A = [{"sku": "SKU-A", "quantity": 2, "unit_price_fen": 10_000}]


def _terms(price_fen: int | None = None, percent_off_bp: int = 0) -> OfferTerms:
    return OfferTerms("X", "X", price_fen, percent_off_bp, frozenset({"A"}), (), frozenset(),
                      frozenset(), TUESDAY, TUESDAY)  # fmt: skip


@pytest.mark.parametrize(
    ("price_fen", "percent_bp", "quantity_milli", "amount_fen", "saving"),
    [
        (8_000, 0, 2_000, 20_000, 4_000),  # 2 × (100 − 80)
        (12_000, 0, 1_000, 10_000, 0),  # a member price above the price saves nothing
        (8_000, 0, 1_500, 15_000, 3_000),  # 1.5 kg
        (None, 1_500, 1_000, 9_999, 1_500),  # 15 % of 99.99, rounded half up
    ],
)
def test_an_offer_saves_down_to_the_member_price_or_its_percentage(
    price_fen: int | None, percent_bp: int, quantity_milli: int, amount_fen: int, saving: int
) -> None:
    line = PricedLine("A", "", quantity_milli, amount_fen)
    assert line_saving_fen(_terms(price_fen, percent_bp), line) == saving


def test_a_gold_member_gets_the_gold_price_and_the_receipt_line_names_the_offer(
    db: Database,
) -> None:
    products(db, ("SKU-A", "food/snacks"))
    offer(db, price_fen=8_000, tiers=["gold", "platinum"])
    gold, plain = gold_member(db), member(db)
    priced = quote(db, gold, TWO_A)
    assert [(ln.line_no, ln.offer_code, ln.offer_name, ln.discount_fen)
            for ln in priced.offer_lines] == [(0, "FLASH", "会员闪购", 4_000)]  # fmt: skip
    assert priced.offer_discount_fen == 4_000
    assert quote(db, plain, TWO_A).offer_lines == []


def test_the_offer_lowers_the_price_first_then_tier_coupons_and_points_apply(
    db: Database,
) -> None:
    products(db, ("SKU-A", "food/snacks"))
    offer(db, price_fen=8_000)
    gold = gold_member(db)
    adjust(db, gold, 10_000)
    tpl = template(db, code="MJ150", kind="amount_off", threshold_fen=15_000, amount_off_fen=1_000)
    give_coupon(db, tpl, gold)
    priced = quote(db, gold, TWO_A, redeem_points=100)
    assert priced.subtotal_fen == 20_000
    assert priced.offer_discount_fen == 4_000
    assert priced.tier_discount_fen == 800  # gold's 5 % of the 160.00 left
    assert priced.coupon_discount_fen == 1_000  # the threshold is judged after the offer
    assert priced.points_value_fen == 100
    assert priced.payable_fen == 20_000 - 4_000 - 800 - 1_000 - 100


def test_the_best_of_two_offers_prices_the_line(db: Database) -> None:
    products(db, ("SKU-A", "food/snacks"))
    offer(db, price_fen=9_000)
    offer(db, code="SNACKS30", name="零食七折", skus=[], categories=["food/snacks"],
          percent_off_bp=3_000)  # fmt: skip
    priced = quote(db, member(db), TWO_A)
    assert [(ln.offer_code, ln.discount_fen) for ln in priced.offer_lines] == [("SNACKS30", 6_000)]


def test_an_offer_runs_from_its_start_to_its_end_only(db: Database) -> None:
    products(db, ("SKU-A", "food/snacks"))
    # 2026-03-04 00:00 to 2026-03-05 00:00 in Shanghai
    starts = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)
    offer(db, price_fen=8_000, starts_at=starts, ends_at=starts + timedelta(days=1))
    me = member(db)
    assert quote(db, me, TWO_A, at=starts - timedelta(seconds=1)).offer_lines == []
    assert quote(db, me, TWO_A, at=starts).offer_lines != []
    assert quote(db, me, TWO_A, at=starts + timedelta(days=1)).offer_lines == []


def test_committing_takes_the_quota_and_a_used_up_offer_is_no_longer_quoted(
    db: Database,
) -> None:
    products(db, ("SKU-A", "food/snacks"))
    offer(db, price_fen=8_000, quota_units=3)
    me = member(db)
    post_order(db, "Q1", customer={"id": me}, at=TUESDAY,
               lines=[{"sku": "SKU-A", "quantity": 2, "unit_price_fen": 10_000,
                       "discount_fen": 4_000}])  # fmt: skip
    commit(db, "Q1", now=TUESDAY)
    assert db.read(lambda s: list_offers(session=s))[0].units_taken == 0  # not applied: no claim
    post_order(db, "Q2", customer={"id": me}, at=TUESDAY,
               lines=[{"sku": "SKU-A", "quantity": 2, "unit_price_fen": 10_000,
                       "discount_fen": 4_000}])  # fmt: skip
    db.write(lambda s: _commit_with_offer(s, "Q2"))
    assert db.read(lambda s: list_offers(session=s))[0].units_taken == 2
    assert quote(db, me, TWO_A).offer_lines == []  # 2 more would pass the quota of 3
    post_order(db, "Q3", customer={"id": me}, at=TUESDAY, lines=TWO_A)
    with pytest.raises(OfferQuotaUsedUp):
        db.write(lambda s: _commit_with_offer(s, "Q3"))


def _commit_with_offer(session: object, key: str) -> object:
    from patron.loyalty.schemas import CommitIn
    from patron.loyalty.till import commit_order

    commit_in = CommitIn(source="pos-test", external_id=key, offer_codes=["FLASH"])
    return commit_order(session=session, commit_in=commit_in, now=TUESDAY, programme=PLAIN)  # type: ignore[arg-type]


def test_concurrent_tills_never_pass_a_quota_of_units_or_members(pg_db: Database) -> None:
    offer(pg_db, price_fen=8_000, quota_units=7)
    offer(pg_db, code="FIRST3", name="前三名", price_fen=7_000, quota_members=3)
    racers = [member(pg_db) for _ in range(12)]
    orders = [post_order(pg_db, f"R{n}", customer={"id": who}).order.id
              for n, who in enumerate(racers)]  # fmt: skip

    def attempt(code: str, n: int) -> bool:
        try:
            pg_db.write(
                lambda s: claim_offer(
                    session=s,
                    code=code,
                    customer_id=racers[n],
                    order_id=orders[n],
                    units_taken=1,
                    now=TUESDAY,
                    programme=PLAIN,
                )
            )
            return True
        except OfferQuotaUsedUp:
            return False

    with ThreadPoolExecutor(max_workers=8) as pool:
        units = list(pool.map(lambda n: attempt("FLASH", n), range(12)))
        members = list(pool.map(lambda n: attempt("FIRST3", n), range(12)))
    assert (sum(units), sum(members)) == (7, 3)
    by_code = {o.code: o for o in pg_db.read(lambda s: list_offers(session=s))}
    assert by_code["FLASH"].units_taken == 7
    assert by_code["FIRST3"].members_taken == 3
