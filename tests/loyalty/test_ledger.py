"""The points ledger: lots, maturing, redemption order, expiry, adjustments, refunds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from patron.core.db import Database
from patron.loyalty.exceptions import InsufficientPoints, PointsOverLimit
from patron.loyalty.points import (
    accounts_due_for_expiry,
    expire_points,
    get_balance,
    list_entries,
    list_lots,
    redeem_points,
)
from patron.loyalty.refunds import apply_refund
from patron.loyalty.schemas import AdjustmentIn, LoyaltyRefundIn
from tests.loyalty.helpers import PLAIN, TUESDAY, adjust, commit, member, refund, sale

LATER = TUESDAY + timedelta(days=8)  # past the 7-day return window


def balance(db: Database, customer_id: int, at=LATER):  # type: ignore[no-untyped-def]
    return db.read(lambda s: get_balance(session=s, customer_id=customer_id, now=at))


def redeem(db: Database, customer_id: int, points: int, at=LATER):  # type: ignore[no-untyped-def]
    return db.write(
        lambda s: redeem_points(
            session=s, customer_id=customer_id, points=points, now=at, programme=PLAIN
        )
    )


def test_earned_points_are_pending_during_the_return_window_then_available(db: Database) -> None:
    me = member(db)
    result = sale(db, me)
    assert result.points_earned == 100
    during = balance(db, me, TUESDAY + timedelta(days=6))
    assert (during.pending, during.available) == (100, 0)
    after = balance(db, me, TUESDAY + timedelta(days=7))
    assert (after.pending, after.available) == (0, 100)


def test_pending_points_cannot_be_redeemed(db: Database) -> None:
    me = member(db)
    sale(db, me)
    with pytest.raises(InsufficientPoints):
        redeem(db, me, 10, TUESDAY + timedelta(days=1))


def test_redemption_is_partial_and_takes_the_soonest_expiring_lot_first(db: Database) -> None:
    me = member(db)
    sale(db, me, at=TUESDAY)  # lot A, expires first
    sale(db, me, at=TUESDAY + timedelta(days=1))  # lot B
    moved = redeem(db, me, 130)
    assert moved.points == -130
    lots = db.read(lambda s: list_lots(session=s, customer_id=me))
    assert [lot.remaining for lot in lots] == [0, 70]
    assert moved.balance.available == 70


def test_redeeming_more_than_the_balance_is_refused_and_changes_nothing(db: Database) -> None:
    me = member(db)
    sale(db, me)
    with pytest.raises(InsufficientPoints):
        redeem(db, me, 101)
    assert balance(db, me).available == 100


def test_points_expire_after_the_configured_period(db: Database) -> None:
    me = member(db)
    sale(db, me)
    year_on = TUESDAY + timedelta(days=PLAIN.expiry_days)
    assert balance(db, me, year_on).expired_unposted == 100
    expired = db.write(lambda s: expire_points(session=s, now=year_on))
    assert expired == 100
    after = balance(db, me, year_on)
    assert (after.available, after.expired_unposted, after.ledger_total) == (0, 0, 0)
    kinds = [e.kind for e in db.read(lambda s: list_entries(session=s, customer_id=me))]
    assert kinds == ["expire", "earn"]


def test_expired_points_cannot_be_spent(db: Database) -> None:
    me = member(db)
    sale(db, me)
    with pytest.raises(InsufficientPoints):
        redeem(db, me, 1, TUESDAY + timedelta(days=PLAIN.expiry_days + 1))


def test_staff_adjustment_needs_a_reason_and_never_takes_the_balance_below_zero(
    db: Database,
) -> None:
    me = member(db)
    with pytest.raises(ValueError, match="reason"):
        AdjustmentIn.model_validate({"points": 5, "reason": "", "staff": "ann"})
    adjust(db, me, 50)
    with pytest.raises(InsufficientPoints):
        adjust(db, me, -51)
    adjust(db, me, -20)
    entries = db.read(lambda s: list_entries(session=s, customer_id=me))
    assert [(e.kind, e.points, e.reason, e.staff) for e in entries] == [
        ("adjust", -20, "goodwill", "manager"),
        ("adjust", 50, "goodwill", "manager"),
    ]
    assert balance(db, me, TUESDAY).available == 30


def test_an_order_earns_only_once_however_often_it_is_committed(db: Database) -> None:
    me = member(db)
    first = sale(db, me, key="ONCE")
    again = commit(db, "ONCE")
    assert first.created and not again.created
    assert again.points_earned == first.points_earned == 100
    assert balance(db, me).ledger_total == 100


def test_partial_redemption_at_the_till_pays_part_of_the_order(db: Database) -> None:
    me = member(db)
    adjust(db, me, 3_000)
    # ¥100 of goods; 1,234 points = ¥12.34 taken off the order, the rest paid in money.
    result = sale(db, me, redeem_points=1_234, order_discount_fen=1_234)
    assert (result.points_spent, result.points_value_fen) == (1_234, 1_234)
    assert result.balance.available == 3_000 - 1_234
    # earned on the ¥87.66 paid in money, not on the points
    assert result.points_earned == 87


def test_points_cannot_pay_more_than_half_the_order(db: Database) -> None:
    me = member(db)
    adjust(db, me, 10_000)
    with pytest.raises(PointsOverLimit) as raised:
        sale(db, me, redeem_points=5_001, order_discount_fen=5_001)
    assert raised.value.field == "redeem_points"


def test_a_full_refund_takes_back_the_points_earned_and_returns_those_spent(
    db: Database,
) -> None:
    me = member(db)
    adjust(db, me, 1_000)
    before = balance(db, me, TUESDAY)
    sale(db, me, key="FULL", redeem_points=500, order_discount_fen=500)
    result = refund(db, "FULL", at=TUESDAY + timedelta(days=1))
    assert (result.points_taken_back, result.points_returned, result.points_short) == (95, 500, 0)
    assert balance(db, me, TUESDAY + timedelta(days=1)) == before


def test_a_partial_refund_reverses_in_proportion_and_the_parts_add_up_to_the_whole(
    db: Database,
) -> None:
    me = member(db)
    adjust(db, me, 1_000)
    lines = [
        {"sku": "A", "quantity": 3, "unit_price_fen": 3_333},
        {"sku": "B", "quantity": 1, "unit_price_fen": 1},
    ]
    sale(db, me, key="PART", lines=lines, redeem_points=333, order_discount_fen=333)
    # paid 10,000 − 333 = 9,667 fen → 96 points earned
    first = refund(db, "PART", lines=[{"line_no": 1, "quantity": 1}], at=TUESDAY)
    second = refund(db, "PART", lines=[{"line_no": 1, "quantity": 1}], at=TUESDAY)
    third = refund(db, "PART", at=TUESDAY)
    taken = [r.points_taken_back for r in (first, second, third)]
    returned = [r.points_returned for r in (first, second, third)]
    assert sum(taken) == 96 and sum(returned) == 333
    assert all(t > 0 for t in taken[:2]) and all(r > 0 for r in returned[:2])
    assert balance(db, me, TUESDAY).ledger_total == 1_000


def test_a_refund_after_the_points_were_spent_records_the_shortfall_and_never_goes_negative(
    db: Database,
) -> None:
    me = member(db)
    sale(db, me, key="SPENT")
    redeem(db, me, 80)
    result = refund(db, "SPENT", at=LATER)
    assert (result.points_taken_back, result.points_short) == (20, 80)
    assert result.balance.ledger_total == 0


def test_applying_the_same_refund_twice_moves_points_once(db: Database) -> None:
    me = member(db)
    sale(db, me, key="TWICE")
    result = refund(db, "TWICE", at=TUESDAY, key="R-TWICE")
    again = db.write(
        lambda s: apply_refund(
            session=s,
            refund_in=LoyaltyRefundIn(source="pos-test", external_id="R-TWICE"),
            now=TUESDAY,
        )
    )
    assert result.created and not again.created
    assert again.points_taken_back == result.points_taken_back == 100
    assert balance(db, me).ledger_total == 0


def _due(db: Database, at):  # type: ignore[no-untyped-def]
    return db.read(lambda s: accounts_due_for_expiry(session=s, now=at))


def test_the_expiry_run_visits_a_lot_once_and_again_only_if_points_come_back(
    db: Database,
) -> None:
    me = member(db)
    other = member(db)
    sale(db, me)  # lot A: 100 points, expiring a year on
    sale(db, other)
    spent = sale(db, me, at=LATER, redeem_points=60, order_discount_fen=600, key="SPEND")
    assert spent.points_spent == 60  # 60 of lot A's points on an order
    year_on = TUESDAY + timedelta(days=PLAIN.expiry_days)
    assert len(_due(db, year_on)) == 2  # both members' first lots

    assert db.write(lambda s: expire_points(session=s, now=year_on)) > 0
    # Settled: however many lots have ever expired, the next run's worklist is empty.
    assert _due(db, year_on) == []
    assert db.write(lambda s: expire_points(session=s, now=year_on)) == 0

    # The order is refunded after lot A expired: its 60 points go back into lot A, dead
    # on arrival; the account is on the worklist again and the next run writes them off.
    day_after = year_on + timedelta(days=1)
    refund(db, "SPEND", at=day_after)
    assert balance(db, me, day_after).expired_unposted == 60
    assert len(_due(db, day_after)) == 1
    assert db.write(lambda s: expire_points(session=s, now=day_after)) == 60
    assert _due(db, day_after) == []
    assert balance(db, me, day_after).ledger_total == 0


def test_a_lot_spent_before_it_expired_is_visited_once(db: Database) -> None:
    me = member(db)
    sale(db, me)
    redeem(db, me, 100)  # lot A emptied before its expiry
    year_on = TUESDAY + timedelta(days=PLAIN.expiry_days)
    assert len(_due(db, year_on)) == 1
    assert db.write(lambda s: expire_points(session=s, now=year_on)) == 0
    assert _due(db, year_on) == []
