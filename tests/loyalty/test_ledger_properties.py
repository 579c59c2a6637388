"""Random sequences of earn, redeem, expire, refund and adjust never break the ledger."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from patron.core.db import Database
from patron.loyalty import rules
from patron.loyalty.exceptions import InsufficientPoints
from patron.loyalty.models import PointsLot
from patron.loyalty.points import (
    accounts_due_for_expiry,
    expire_points,
    get_balance,
    get_ledger_total,
    list_lots,
    redeem_points,
)
from patron.loyalty.schemas import MemberRef
from patron.loyalty.till import lookup_member
from patron.orders.exceptions import RefundTooLarge
from tests.loyalty.helpers import PLAIN, TUESDAY, adjust, member, refund, sale

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_keys = itertools.count()

ops = st.lists(
    st.one_of(
        st.tuples(st.just("sale"), st.integers(1, 5), st.integers(1, 30_000), st.integers(0, 100)),
        st.tuples(st.just("redeem"), st.integers(1, 3_000)),
        st.tuples(st.just("adjust"), st.integers(-3_000, 3_000).filter(bool)),
        st.tuples(st.just("advance"), st.integers(0, 400)),  # past a lot's expiry, at times
        st.tuples(st.just("expire")),
        st.tuples(st.just("refund"), st.integers(0, 20), st.booleans()),
    ),
    min_size=1,
    max_size=14,
)


def _check(db: Database, customer_id: int, now: datetime) -> None:
    balance = db.read(lambda s: get_balance(session=s, customer_id=customer_id, now=now))
    total = db.read(lambda s: get_ledger_total(session=s, customer_id=customer_id))
    lots = db.read(lambda s: list_lots(session=s, customer_id=customer_id))
    assert balance.ledger_total == total
    assert balance.available + balance.pending + balance.expired_unposted == total
    assert all(0 <= lot.remaining <= lot.points for lot in lots)
    assert min(balance.available, balance.pending, balance.expired_unposted) >= 0
    # The till reads the balance in one SQL aggregate; it must say what the lots say.
    till = db.read(
        lambda s: lookup_member(session=s, member=MemberRef(customer_id=customer_id), now=now)
    )
    assert till.balance == balance
    # The expiry run's mark: a settled lot is empty, and a lot past its expiry with points
    # left is never settled (so the run's worklist, read from the mark, finds it).
    settled = db.read(
        lambda s: {
            lot_id: at is not None
            for lot_id, at in s.execute(
                select(PointsLot.id, PointsLot.settled_at).where(
                    PointsLot.id.in_([lot.id for lot in lots])
                )
            ).all()
        }
    )
    for lot in lots:
        if settled[lot.id]:
            assert lot.remaining == 0
        if lot.expires_at <= now and lot.remaining > 0:
            assert not settled[lot.id]
    if balance.expired_unposted:
        assert db.read(lambda s: accounts_due_for_expiry(session=s, now=now))


def _sale(db: Database, me: int, now: datetime, qty: int, price: int, share: int) -> str:
    available = db.read(lambda s: get_balance(session=s, customer_id=me, now=now)).available
    usable = rules.max_points_usable(PLAIN, qty * price, available)
    points = usable * share // 100
    key = f"P{next(_keys)}"
    sale(
        db,
        me,
        key=key,
        lines=[{"sku": "SKU-1", "quantity": qty, "unit_price_fen": price}],
        redeem_points=points,
        order_discount_fen=rules.points_value_fen(PLAIN, points),
        at=now,
    )
    return key


@SETTINGS
@given(steps=ops)
# Points spent from a lot come back into it after the lot expired and was written off.
@example(
    steps=[
        ("sale", 1, 20_000, 0),
        ("advance", 8),
        ("sale", 1, 10_000, 50),
        ("advance", 400),
        ("expire",),
        ("refund", 1, True),
        ("expire",),
    ]
)
def test_the_balance_always_equals_the_ledger_and_never_goes_negative(
    db: Database, steps: list[tuple]
) -> None:
    me = member(db)
    now = TUESDAY
    orders: list[str] = []
    for step in steps:
        kind = step[0]
        try:
            if kind == "sale":
                orders.append(_sale(db, me, now, step[1], step[2], step[3]))
            elif kind == "redeem":
                db.write(
                    lambda s, n=step[1], at=now: redeem_points(
                        session=s, customer_id=me, points=n, now=at, programme=PLAIN
                    )
                )
            elif kind == "adjust":
                adjust(db, me, step[1], at=now)
            elif kind == "advance":
                now += timedelta(days=step[1])
            elif kind == "expire":
                db.write(lambda s, at=now: expire_points(session=s, now=at))
            elif kind == "refund" and orders:
                key = orders[step[1] % len(orders)]
                lines = None if step[2] else [{"line_no": 1, "quantity": 1}]
                refund(db, key, lines=lines, at=now)
        except (InsufficientPoints, RefundTooLarge):
            pass  # refused, and nothing moved: the checks below still hold
        _check(db, me, now)


@SETTINGS
@given(
    start=st.integers(0, 20_000),
    qty=st.integers(1, 4),
    price=st.integers(1, 50_000),
    share=st.integers(0, 100),
    days=st.integers(0, 30),
)
def test_a_full_refund_returns_the_customer_to_where_they_were(
    db: Database, start: int, qty: int, price: int, share: int, days: int
) -> None:
    me = member(db)
    if start:
        adjust(db, me, start)
    before = db.read(lambda s: get_balance(session=s, customer_id=me, now=TUESDAY))
    lots_before = {
        lot.id: lot.remaining for lot in db.read(lambda s: list_lots(session=s, customer_id=me))
    }
    key = _sale(db, me, TUESDAY, qty, price, share)
    refund(db, key, at=TUESDAY + timedelta(days=days))
    after = db.read(lambda s: get_balance(session=s, customer_id=me, now=TUESDAY))
    assert after == before
    lots_after = {
        lot.id: lot.remaining
        for lot in db.read(lambda s: list_lots(session=s, customer_id=me))
        if lot.id in lots_before or lot.remaining
    }
    assert lots_after == lots_before
