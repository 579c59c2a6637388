"""Gifts for points (积分换礼): redemption spends points through the ledger and one unit of
stock, once; cancelling gives both back."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.loyalty.exceptions import (
    InsufficientPoints,
    RedemptionCancelled,
    RewardLimitReached,
    RewardOutOfStock,
    RewardUnavailable,
)
from patron.loyalty.gifts import (
    cancel_redemption,
    list_redemptions,
    list_rewards,
    redeem_reward,
    reward_report,
)
from patron.loyalty.points import get_balance, list_lots
from patron.loyalty.reward_schemas import RedeemIn, RedemptionRead
from tests.helpers import ACTOR, T0, add_store
from tests.loyalty.helpers import (
    PLAIN,
    TUESDAY,
    adjust,
    gold_member,
    member,
    reward,
    template,
)

NOW = TUESDAY + timedelta(hours=1)
_keys = iter(range(10**9))


def redeem(
    db: Database, customer_id: int, code: str, *, now: object = NOW, **fields: object
) -> RedemptionRead:
    redeem_in = RedeemIn.model_validate(
        {"customer_id": customer_id, "reward_code": code,
         "idempotency_key": fields.pop("key", f"key-{next(_keys):08d}"), **fields}
    )  # fmt: skip
    return db.write(
        lambda s: redeem_reward(session=s, redeem_in=redeem_in, now=now, programme=PLAIN)  # type: ignore[arg-type]
    )


def available(db: Database, customer_id: int) -> int:
    return db.read(lambda s: get_balance(session=s, customer_id=customer_id, now=NOW)).available


def test_a_redemption_spends_the_soonest_expiring_points_and_one_unit(db: Database) -> None:
    me = member(db)
    adjust(db, me, 150, at=TUESDAY - timedelta(days=1))
    adjust(db, me, 300)
    code = reward(db, stock=2)
    done = redeem(db, me, code, fulfilment="pickup")
    assert (done.points, done.status, done.created) == (200, "redeemed", True)
    assert available(db, me) == 250
    lots = db.read(lambda s: list_lots(session=s, customer_id=me))
    assert sorted(lot.remaining for lot in lots) == [0, 250]  # the older lot went first
    [gift] = db.read(lambda s: list_rewards(session=s))
    assert (gift.stock, gift.taken) == (2, 1)


def test_the_same_idempotency_key_redeems_once(db: Database) -> None:
    me = member(db)
    adjust(db, me, 1_000)
    code = reward(db)
    first = redeem(db, me, code, key="mini-program-1")
    again = redeem(db, me, code, key="mini-program-1")
    assert again.id == first.id and again.created is False
    assert available(db, me) == 800


def test_cancelling_gives_back_the_points_and_the_unit(db: Database) -> None:
    me = member(db)
    adjust(db, me, 500)
    code = reward(db, stock=1)
    done = redeem(db, me, code)
    with pytest.raises(RewardOutOfStock):
        redeem(db, member(db), code)
    cancelled = db.write(
        lambda s: cancel_redemption(session=s, redemption_id=done.id, actor=ACTOR, now=NOW)
    )
    assert cancelled.status == "cancelled"
    assert available(db, me) == 500
    [gift] = db.read(lambda s: list_rewards(session=s))
    assert gift.taken == 0
    with pytest.raises(RedemptionCancelled):
        db.write(
            lambda s: cancel_redemption(session=s, redemption_id=done.id, actor=ACTOR, now=NOW)
        )
    redeem(db, me, code)  # the unit is there again


def test_not_enough_points_takes_neither_points_nor_stock(db: Database) -> None:
    me = member(db)
    adjust(db, me, 100)
    code = reward(db, stock=5)
    with pytest.raises(InsufficientPoints):
        redeem(db, me, code)
    [gift] = db.read(lambda s: list_rewards(session=s))
    assert gift.taken == 0 and available(db, me) == 100


def test_a_gold_only_gift_is_refused_to_a_plain_member(db: Database) -> None:
    plain, gold = member(db), gold_member(db)
    for who in (plain, gold):
        adjust(db, who, 1_000)
    code = reward(db, tiers=["gold", "platinum"])
    with pytest.raises(RewardUnavailable):
        redeem(db, plain, code)
    assert redeem(db, gold, code).points == 200


def test_the_limit_per_member_counts_within_the_period(db: Database) -> None:
    me = member(db)
    adjust(db, me, 5_000)
    code = reward(db, per_member_limit=1, limit_period="month")
    redeem(db, me, code)
    with pytest.raises(RewardLimitReached):
        redeem(db, me, code, now=NOW + timedelta(days=1))
    assert redeem(db, me, code, now=NOW + timedelta(days=31)).status == "redeemed"


def test_a_gift_outside_its_window_is_not_on_offer(db: Database) -> None:
    me = member(db)
    adjust(db, me, 1_000)
    code = reward(db, starts_at=NOW + timedelta(days=1))
    with pytest.raises(RewardUnavailable):
        redeem(db, me, code)


def test_per_store_stock_is_taken_from_the_named_store(db: Database) -> None:
    add_store(db, "SH01", "静安店")
    add_store(db, "SH02", "徐汇店")
    me = member(db)
    adjust(db, me, 1_000)
    code = reward(
        db, store_stock=[{"store_code": "SH01", "stock": 1}, {"store_code": "SH02", "stock": 0}]
    )
    with pytest.raises(InvalidInput):
        redeem(db, me, code)  # which store?
    with pytest.raises(RewardOutOfStock):
        redeem(db, me, code, store_code="SH02")
    assert redeem(db, me, code, store_code="SH01").store_code == "SH01"
    [gift] = db.read(lambda s: list_rewards(session=s))
    assert [(x.store_code, x.taken) for x in gift.store_stock] == [("SH01", 1), ("SH02", 0)]


def test_a_coupon_gift_issues_the_coupon_and_cancelling_voids_it(db: Database) -> None:
    me = member(db)
    adjust(db, me, 1_000)
    tpl = template(db, code="T10", kind="amount_off", amount_off_fen=1_000)
    code = reward(db, code="C10", kind="coupon", coupon_template_code=tpl)
    done = redeem(db, me, code)
    assert done.coupon_code
    db.write(lambda s: cancel_redemption(session=s, redemption_id=done.id, actor=ACTOR, now=NOW))
    assert available(db, me) == 1_000


def test_the_report_counts_redemptions_points_burned_and_liability_released(db: Database) -> None:
    add_store(db, "SH01", "静安店")
    me = member(db)
    adjust(db, me, 2_000)
    wrap = reward(db)
    cup = reward(db, code="CUP", name="杯子", kind="product", sku="CUP-1", points=500)
    redeem(db, me, wrap, store_code="SH01")
    redeem(db, me, cup, store_code="SH01")
    gone = redeem(db, me, cup)
    db.write(lambda s: cancel_redemption(session=s, redemption_id=gone.id, actor=ACTOR, now=NOW))
    report = db.read(
        lambda s: reward_report(session=s, start=T0, end=NOW + timedelta(days=1), programme=PLAIN)
    )
    assert (report.redemptions, report.cancelled, report.points_burned) == (2, 1, 700)
    assert report.liability_released_fen == 700  # 100 points = ¥1
    assert [(p.reward_code, p.store_code, p.redemptions) for p in report.popular] == [
        ("CUP", "SH01", 1),
        ("WRAP", "SH01", 1),
    ]
    assert len(db.read(lambda s: list_redemptions(session=s))) == 3


def test_concurrent_redemptions_take_stock_and_points_exactly_once(pg_db: Database) -> None:
    """Twenty members race for five units; one member races themself for their points."""
    code = reward(pg_db, stock=5, points=100)
    racers = [member(pg_db) for _ in range(20)]
    for who in racers:
        adjust(pg_db, who, 100)

    def attempt(who: int) -> bool:
        try:
            redeem(pg_db, who, code)
            return True
        except (RewardOutOfStock, InsufficientPoints):
            return False

    with ThreadPoolExecutor(max_workers=10) as pool:
        won = list(pool.map(attempt, racers + racers[:5]))
    assert sum(won) == 5
    [gift] = pg_db.read(lambda s: list_rewards(session=s))
    assert gift.taken == 5
    spent = sum(100 - available(pg_db, who) for who in racers)
    assert spent == 500
    assert all(available(pg_db, who) in (0, 100) for who in racers)
    rows = pg_db.read(lambda s: list_redemptions(session=s))
    assert len(rows) == 5
    for row in rows:  # cancelling every one restores both
        pg_db.write(
            lambda s, rid=row.id: cancel_redemption(
                session=s, redemption_id=rid, actor=ACTOR, now=NOW
            )
        )
    [gift] = pg_db.read(lambda s: list_rewards(session=s))
    assert gift.taken == 0
    assert sum(available(pg_db, who) for who in racers) == 2_000
