"""Referrals: both sides rewarded once, on the new member's first qualifying purchase; never
for referring oneself; taken back when that purchase is returned within its window."""

from __future__ import annotations

from datetime import timedelta

import pytest

from patron.core.db import Database
from patron.customers import service as customers
from patron.loyalty import referrals
from patron.loyalty.exceptions import ReferralCodeNotFound, ReferralRefused
from patron.loyalty.points import get_balance, get_ledger_total
from patron.loyalty.schemas import ReferralIn, ReferralRead
from tests.helpers import ACTOR, sign_up
from tests.loyalty.helpers import PLAIN, TUESDAY, member, refund, sale

BIG = [{"sku": "SKU-1", "quantity": 1, "unit_price_fen": 10_000}]  # ¥100: qualifies (≥ ¥50)
SMALL = [{"sku": "SKU-1", "quantity": 1, "unit_price_fen": 2_000}]  # ¥20: does not


def _code(db: Database, customer_id: int) -> str:
    return db.write(lambda s: referrals.get_referral_code(session=s, customer_id=customer_id)).code


def _refer(db: Database, referee: int, code: str) -> ReferralRead:
    return db.write(
        lambda s: referrals.record_referral(
            session=s, referral_in=ReferralIn(customer_id=referee, code=code), now=TUESDAY
        )
    )


def _points(db: Database, customer_id: int, days: int = 30) -> tuple[int, int]:
    """(available, pending) ``days`` after Tuesday."""
    b = db.read(
        lambda s: get_balance(
            session=s, customer_id=customer_id, now=TUESDAY + timedelta(days=days)
        )
    )
    return b.available, b.pending


def _status(db: Database, referee: int) -> ReferralRead:
    [row] = [
        r
        for r in db.read(lambda s: referrals.list_referrals(session=s, customer_id=referee))
        if r.referee_id == referee
    ]
    return row


def test_a_members_code_is_stable_and_readable_aloud(db: Database) -> None:
    a = member(db)
    code = _code(db, a)
    assert code == _code(db, a)
    assert len(code) == 8 and not set(code) & set("01IOL")


def test_both_sides_are_rewarded_once_on_the_first_qualifying_purchase(db: Database) -> None:
    referrer, newcomer = member(db), member(db)
    _refer(db, newcomer, _code(db, referrer).lower())  # codes are read case-blind

    sale(db, newcomer, lines=SMALL)  # below the minimum: nothing yet
    assert _status(db, newcomer).status == "pending"
    assert _points(db, referrer) == (0, 0)

    sale(db, newcomer, lines=BIG)
    row = _status(db, newcomer)
    assert row.status == "rewarded"
    assert (row.referrer_points, row.referee_points) == (
        PLAIN.referrer_reward_points,
        PLAIN.referee_reward_points,
    )
    # Pending through the return window, like the order's own points.
    assert _points(db, referrer, days=1) == (0, PLAIN.referrer_reward_points)
    assert _points(db, referrer) == (PLAIN.referrer_reward_points, 0)
    newcomer_points = 20 + 100 + PLAIN.referee_reward_points  # ¥20 + ¥100 earn 1 point per yuan
    assert _points(db, newcomer) == (newcomer_points, 0)

    sale(db, newcomer, lines=BIG)  # a second qualifying purchase rewards nobody again
    assert _points(db, referrer) == (PLAIN.referrer_reward_points, 0)


def test_a_full_refund_inside_the_window_takes_both_rewards_back(db: Database) -> None:
    referrer, newcomer = member(db), member(db)
    _refer(db, newcomer, _code(db, referrer))
    sale(db, newcomer, lines=BIG, key="REF-ORDER")
    refund(db, "REF-ORDER", at=TUESDAY + timedelta(days=2), programme=PLAIN)
    assert _status(db, newcomer).status == "reversed"
    assert _points(db, referrer) == (0, 0)
    assert _points(db, newcomer) == (0, 0)
    total = db.read(lambda s: get_ledger_total(session=s, customer_id=referrer))
    assert total == 0


def test_a_refund_after_the_window_leaves_the_rewards(db: Database) -> None:
    referrer, newcomer = member(db), member(db)
    _refer(db, newcomer, _code(db, referrer))
    sale(db, newcomer, lines=BIG, key="REF-LATE")
    refund(db, "REF-LATE", at=TUESDAY + timedelta(days=20), programme=PLAIN)
    assert _status(db, newcomer).status == "rewarded"
    assert _points(db, referrer) == (PLAIN.referrer_reward_points, 0)


def test_own_code_and_own_phone_card_or_wechat_are_refused(db: Database) -> None:
    referrer = sign_up(db, phone="13911110000", member_card="C-9001", wechat_unionid="U-77")
    code = _code(db, referrer)
    with pytest.raises(ReferralRefused, match="own"):
        _refer(db, referrer, code)
    # A "new" sign-up with the referrer's phone, card or WeChat id is the referrer's profile.
    for identity in (
        {"phone": "139 1111 0000", "email": "new@example.com"},
        {"member_card": "C-9001", "email": "other@example.com"},
        {"wechat_unionid": "U-77", "phone": "13922220000"},
    ):
        again = sign_up(db, **identity)
        with pytest.raises(ReferralRefused) as refused:
            _refer(db, again, code)
        assert refused.value.field == "code"


def test_referred_twice_after_buying_mutual_and_unknown_codes_are_refused(db: Database) -> None:
    a, b, c, shopper = member(db), member(db), member(db), member(db)
    _refer(db, b, _code(db, a))
    with pytest.raises(ReferralRefused, match="already been referred"):
        _refer(db, b, _code(db, c))
    with pytest.raises(ReferralRefused, match="each other"):
        _refer(db, a, _code(db, b))
    sale(db, shopper, lines=SMALL)
    with pytest.raises(ReferralRefused, match="first purchase"):
        _refer(db, shopper, _code(db, a))
    with pytest.raises(ReferralCodeNotFound):
        _refer(db, c, "ZZZZZZZZ")


def test_profiles_merged_before_the_reward_are_one_person_and_get_nothing(db: Database) -> None:
    referrer, newcomer = member(db), member(db)
    _refer(db, newcomer, _code(db, referrer))
    db.write(
        lambda s: customers.merge_customers(
            session=s, actor=ACTOR, survivor_id=referrer, merged_id=newcomer, reason="同一人"
        )
    )
    sale(db, referrer, lines=BIG)
    assert _status(db, referrer).status == "refused"
    assert _points(db, referrer) == (100, 0)  # the order's own points only


def test_a_referral_follows_the_new_member_through_a_merge_and_back(db: Database) -> None:
    referrer, newcomer, duplicate = member(db), member(db), member(db)
    _refer(db, newcomer, _code(db, referrer))
    merge = db.write(
        lambda s: customers.merge_customers(
            session=s, actor=ACTOR, survivor_id=duplicate, merged_id=newcomer, reason="同一人"
        )
    )
    assert _status(db, duplicate).referee_id == duplicate
    db.write(lambda s: customers.unmerge_customers(session=s, actor=ACTOR, merge_id=merge.id))
    assert _status(db, newcomer).referee_id == newcomer
    sale(db, newcomer, lines=BIG)
    assert _points(db, referrer) == (PLAIN.referrer_reward_points, 0)
