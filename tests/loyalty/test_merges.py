"""Points and coupons follow a customer through a merge, and go back on unmerge."""

from __future__ import annotations

from patron.core.db import Database
from patron.customers import service as customers
from patron.loyalty.coupons import list_customer_coupons
from patron.loyalty.points import get_balance, get_ledger_total
from tests.helpers import ACTOR
from tests.loyalty.helpers import TUESDAY, adjust, give_coupon, member, template


def _state(db: Database, customer_id: int) -> tuple[int, int, list[str]]:
    balance = db.read(lambda s: get_balance(session=s, customer_id=customer_id, now=TUESDAY))
    total = db.read(lambda s: get_ledger_total(session=s, customer_id=customer_id))
    coupons = db.read(
        lambda s: list_customer_coupons(session=s, customer_id=customer_id, now=TUESDAY)
    )
    return balance.available, total, sorted(c.code for c in coupons)


def test_a_merge_brings_the_other_profiles_points_and_coupons_and_unmerge_takes_them_back(
    db: Database,
) -> None:
    a, b = member(db), member(db)
    adjust(db, a, 300)
    adjust(db, b, 200)
    code = template(
        db, code="MJ100-20", kind="amount_off", threshold_fen=10_000, amount_off_fen=2_000
    )
    coupon = give_coupon(db, code, b)
    before_a, before_b = _state(db, a), _state(db, b)

    merge = db.write(
        lambda s: customers.merge_customers(
            session=s, actor=ACTOR, survivor_id=a, merged_id=b, reason="同一人"
        )
    )
    assert _state(db, a) == (500, 500, [coupon.code])
    assert _state(db, b) == (0, 0, [])

    db.write(lambda s: customers.unmerge_customers(session=s, actor=ACTOR, merge_id=merge.id))
    assert _state(db, a) == before_a
    assert _state(db, b) == before_b


def test_a_merge_into_a_customer_without_an_account_opens_one(db: Database) -> None:
    a, b = member(db), member(db)
    adjust(db, b, 120)
    db.write(
        lambda s: customers.merge_customers(
            session=s, actor=ACTOR, survivor_id=a, merged_id=b, reason="同一人"
        )
    )
    assert _state(db, a)[:2] == (120, 120)


def test_a_gift_taken_by_a_merged_profile_is_cancelled_on_the_survivor(db: Database) -> None:
    from patron.loyalty.gifts import cancel_redemption, list_redemptions, redeem_reward
    from patron.loyalty.reward_schemas import RedeemIn
    from tests.loyalty.helpers import PLAIN, reward

    a, b = member(db), member(db)
    adjust(db, b, 500)
    code = reward(db, stock=3)
    redeem_in = RedeemIn(customer_id=b, reward_code=code, idempotency_key="merge-0001")
    db.write(lambda s: redeem_reward(session=s, redeem_in=redeem_in, now=TUESDAY, programme=PLAIN))
    db.write(
        lambda s: customers.merge_customers(
            session=s, actor=ACTOR, survivor_id=a, merged_id=b, reason="同一人"
        )
    )
    [row] = db.read(lambda s: list_redemptions(session=s, customer_id=a))
    db.write(lambda s: cancel_redemption(session=s, redemption_id=row.id, actor=ACTOR, now=TUESDAY))
    assert _state(db, a)[0] == 500
