"""Lucky draws: chances, stock, points cost, daily limits, idempotent draws, and outcomes that
anyone can recompute from the seed once it is revealed."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.core.db import Database
from patron.core.errors import Conflict
from patron.loyalty import lottery
from patron.loyalty.coupons import list_customer_coupons
from patron.loyalty.exceptions import (
    DrawLimitReached,
    InsufficientPoints,
    LotteryClosed,
)
from patron.loyalty.models import LotteryPrize
from patron.loyalty.points import get_balance
from patron.loyalty.schemas import DrawIn, DrawRead, LotteryCreate, LotteryRead
from tests.helpers import ACTOR
from tests.loyalty.helpers import PLAIN, TUESDAY, adjust, member, template

OPEN = TUESDAY - timedelta(days=1)
CLOSE = TUESDAY + timedelta(days=7)


def _lottery(db: Database, **overrides: object) -> LotteryRead:
    fields: dict[str, object] = {
        "code": "SPRING",
        "name": "新春抽奖",
        "starts_at": OPEN,
        "ends_at": CLOSE,
        "cost_points": 10,
        "prizes": [
            {
                "code": "P100",
                "name": "100积分",
                "kind": "points",
                "points": 100,
                "chance_ppm": 300_000,
            },
            {
                "code": "GIFT",
                "name": "帆布袋",
                "kind": "gift",
                "gift_sku": "BAG-1",
                "chance_ppm": 200_000,
                "stock": 2,
            },
        ],
    }
    fields.update(overrides)
    model = LotteryCreate.model_validate(fields)
    return db.write(
        lambda s: lottery.create_lottery(session=s, lottery_in=model, actor=ACTOR, now=OPEN)
    )


def _draw(
    db: Database, customer_id: int, key: str, *, code: str = "SPRING", at=TUESDAY
) -> DrawRead:
    return db.write(
        lambda s: lottery.draw(
            session=s,
            lottery_code=code,
            draw_in=DrawIn(customer_id=customer_id, idempotency_key=key),
            now=at,
            programme=PLAIN,
        )
    )


def _available(db: Database, customer_id: int) -> int:
    return db.read(lambda s: get_balance(session=s, customer_id=customer_id, now=TUESDAY)).available


def _prize(code: str, chance: int, position: int) -> LotteryPrize:
    return LotteryPrize(code=code, chance_ppm=chance, position=position)


@given(st.integers(min_value=0, max_value=999_999))
def test_a_roll_lands_on_the_prize_whose_slice_holds_it(value: int) -> None:
    prizes = [_prize("A", 100_000, 0), _prize("B", 250_000, 1)]
    expected = "A" if value < 100_000 else "B" if value < 350_000 else None
    found = lottery.prize_for(prizes, value)
    assert (found.code if found else None) == expected


def test_rolls_follow_the_declared_chances() -> None:
    seed = "ab" * 32
    prizes = [_prize("A", 100_000, 0), _prize("B", 400_000, 1)]
    counts = Counter(
        (p.code if (p := lottery.prize_for(prizes, lottery.roll(seed, "L", n))) else None)
        for n in range(1, 20_001)
    )
    assert abs(counts["A"] / 20_000 - 0.10) < 0.015
    assert abs(counts["B"] / 20_000 - 0.40) < 0.02
    assert abs(counts[None] / 20_000 - 0.50) < 0.02


def test_a_draw_costs_points_awards_its_prize_and_respects_stock(db: Database) -> None:
    created = _lottery(db)
    assert created.seed is None  # secret while the lottery runs
    customer = member(db)
    adjust(db, customer, 1_000)
    results = [_draw(db, customer, f"k{n}") for n in range(60)]
    assert [r.draw_no for r in results] == list(range(1, 61))
    gifts = [r for r in results if r.prize_code == "GIFT"]
    assert sum(r.awarded for r in gifts) == 2  # the stock
    assert all(not r.awarded for r in gifts[2:])
    won = sum(r.points_won for r in results)
    assert won == 100 * sum(r.prize_code == "P100" for r in results)
    assert _available(db, customer) == 1_000 - 60 * 10 + won
    state = db.read(lambda s: lottery.get_lottery(session=s, code="SPRING", now=TUESDAY))
    assert state.draws == 60
    assert {p.code: p.awarded for p in state.prizes}["GIFT"] == 2


def test_a_repeated_key_returns_the_first_draw_and_pays_nothing_more(db: Database) -> None:
    _lottery(db)
    customer, other = member(db), member(db)
    adjust(db, customer, 100)
    adjust(db, other, 100)
    first = _draw(db, customer, "same")
    again = _draw(db, customer, "same")
    assert again.created is False
    assert again.model_dump(exclude={"created"}) == first.model_dump(exclude={"created"})
    assert _available(db, customer) == 90 + first.points_won
    with pytest.raises(Conflict):
        _draw(db, other, "same")


def test_no_points_no_draw_and_nothing_recorded(db: Database) -> None:
    _lottery(db)
    customer = member(db)
    adjust(db, customer, 5)
    with pytest.raises(InsufficientPoints):
        _draw(db, customer, "poor")
    state = db.read(lambda s: lottery.get_lottery(session=s, code="SPRING", now=TUESDAY))
    assert state.draws == 0


def test_closed_lotteries_and_daily_limits_refuse_draws(db: Database) -> None:
    _lottery(db, daily_draws_per_customer=2, cost_points=0)
    customer = member(db)
    _draw(db, customer, "a")
    _draw(db, customer, "b")
    with pytest.raises(DrawLimitReached):
        _draw(db, customer, "c")
    assert _draw(db, customer, "d", at=TUESDAY + timedelta(days=1)).draw_no == 3
    with pytest.raises(LotteryClosed):
        _draw(db, customer, "e", at=CLOSE)


def test_a_coupon_prize_issues_the_coupon(db: Database) -> None:
    code = template(
        db, code="LUCKY-10", kind="amount_off", threshold_fen=5_000, amount_off_fen=1_000
    )
    _lottery(
        db,
        cost_points=0,
        prizes=[
            {
                "code": "C",
                "name": "满50减10",
                "kind": "coupon",
                "coupon_template_code": code,
                "chance_ppm": 1_000_000,
            }
        ],
    )
    customer = member(db)
    result = _draw(db, customer, "c1")
    assert result.awarded and result.coupon_code
    held = db.read(lambda s: list_customer_coupons(session=s, customer_id=customer, now=TUESDAY))
    assert [c.code for c in held] == [result.coupon_code]


def test_every_draw_checks_out_against_the_revealed_seed(db: Database) -> None:
    created = _lottery(db, cost_points=0)
    customer = member(db)
    draws = [_draw(db, customer, f"v{n}") for n in range(25)]
    ended = db.read(lambda s: lottery.get_lottery(session=s, code="SPRING", now=CLOSE))
    assert ended.seed is not None
    assert hashlib.sha256(bytes.fromhex(ended.seed)).hexdigest() == created.seed_sha256
    for d in draws:
        assert lottery.roll(ended.seed, "SPRING", d.draw_no) == d.roll
    check = db.read(lambda s: lottery.check_draws(session=s, lottery_code="SPRING"))
    assert (check.draws_checked, check.mismatches) == (25, [])


def test_prize_chances_over_100_percent_and_unknown_templates_are_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="prizes"):
        LotteryCreate.model_validate(
            {
                "code": "X",
                "name": "x",
                "starts_at": OPEN,
                "ends_at": CLOSE,
                "prizes": [
                    {
                        "code": "A",
                        "name": "a",
                        "kind": "points",
                        "points": 1,
                        "chance_ppm": 600_000,
                    },
                    {
                        "code": "B",
                        "name": "b",
                        "kind": "points",
                        "points": 1,
                        "chance_ppm": 500_000,
                    },
                ],
            }
        )
    from patron.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as bad:
        _lottery(
            db,
            prizes=[
                {
                    "code": "C",
                    "name": "c",
                    "kind": "coupon",
                    "coupon_template_code": "NOPE",
                    "chance_ppm": 10,
                }
            ],
        )
    assert bad.value.field == "prizes.0.coupon_template_code"


def test_store_staff_see_only_their_stores_members_draws(db: Database) -> None:
    from patron.catalog import service as catalog
    from patron.catalog.schemas import StoreCreate
    from tests.helpers import sign_up

    stores = {
        code: db.write(
            lambda s, c=code: catalog.create_store(
                session=s, store_in=StoreCreate(code=c, name=c, city="上海")
            )
        ).id
        for code in ("SH01", "BJ01")
    }
    _lottery(db, cost_points=0)
    sh = sign_up(db, phone="13600000011", home_store_code="SH01")
    bj = sign_up(db, phone="13600000012", home_store_code="BJ01")
    _draw(db, sh, "sh")
    _draw(db, bj, "bj")

    def seen(store_ids: frozenset[int] | None) -> list[int]:
        return [
            d.customer_id
            for d in db.read(
                lambda s: lottery.list_draws(session=s, lottery_code="SPRING", store_ids=store_ids)
            )
        ]

    assert seen(None) == [bj, sh]
    assert seen(frozenset({stores["SH01"]})) == [sh]
