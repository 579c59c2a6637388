"""On PostgreSQL, concurrent tills never spend a point or a coupon twice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from patron.core.db import Database
from patron.loyalty.coupons import get_coupon, redeem_coupon
from patron.loyalty.exceptions import CouponAlreadyUsed, InsufficientPoints
from patron.loyalty.points import get_balance, get_ledger_total, redeem_points
from tests.helpers import post_order
from tests.loyalty.helpers import PLAIN, TUESDAY, adjust, give_coupon, member, template


def test_fifty_concurrent_redemptions_let_through_exactly_what_the_balance_allows(
    pg_db: Database,
) -> None:
    me = member(pg_db)
    adjust(pg_db, me, 1_000)
    now = TUESDAY + timedelta(hours=1)

    def redeem(_: int) -> bool:
        try:
            pg_db.write(
                lambda s: redeem_points(
                    session=s, customer_id=me, points=30, now=now, programme=PLAIN
                )
            )
            return True
        except InsufficientPoints:
            return False

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(redeem, range(50)))
    assert sum(results) == 33  # 33 × 30 = 990 ≤ 1,000 < 34 × 30
    balance = pg_db.read(lambda s: get_balance(session=s, customer_id=me, now=now))
    assert balance.available == 10
    assert pg_db.read(lambda s: get_ledger_total(session=s, customer_id=me)) == 10


def test_a_coupon_redeemed_from_two_tills_at_once_is_used_once(pg_db: Database) -> None:
    me = member(pg_db)
    tpl = template(pg_db, code="T5", kind="amount_off", amount_off_fen=500)
    order_ids = [post_order(pg_db, f"TILL{n}", customer={"id": me}).order.id for n in range(2)]

    for _ in range(5):  # a fresh coupon each round, so the race is really run
        code = give_coupon(pg_db, tpl, me).code

        def redeem(order_id: int, code: str = code) -> bool:
            try:
                pg_db.write(lambda s: redeem_coupon(session=s, code=code, order_id=order_id))
                return True
            except CouponAlreadyUsed:
                return False

        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(redeem, order_ids))
        assert sorted(results) == [False, True]
        coupon = pg_db.read(lambda s, code=code: get_coupon(session=s, code=code))
        assert coupon is not None and coupon.status == "redeemed"
        assert coupon.order_id == order_ids[results.index(True)]
