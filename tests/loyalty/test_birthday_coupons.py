"""Birthday coupons by tier: the tier's coupon on the birthday, once a year, valid around
it; 29 February follows the birthday-points rule (the 28th in other years)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.loyalty.birthdays import (
    birthday_coupon_of,
    give_birthday_coupons,
    set_birthday_coupon,
)
from patron.loyalty.coupons import list_customer_coupons
from patron.loyalty.reward_schemas import BirthdayCouponIn
from tests.helpers import ACTOR, sign_up
from tests.loyalty.helpers import PLAIN, template

MORNING = datetime(2026, 5, 20, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def _rule(db: Database, tier: str, code: str, valid_days: int = 7) -> None:
    rule_in = BirthdayCouponIn(tier_code=tier, template_code=code, valid_days=valid_days)
    db.write(lambda s: set_birthday_coupon(session=s, rule_in=rule_in, actor=ACTOR))


def _run(db: Database, now: datetime = MORNING) -> int:
    return db.write(lambda s: give_birthday_coupons(session=s, now=now, programme=PLAIN)).issued


def test_the_tiers_coupon_comes_on_the_birthday_once_a_year(db: Database) -> None:
    tpl = template(db, code="BDAY20", kind="amount_off", amount_off_fen=2_000)
    _rule(db, "member", tpl, valid_days=7)
    me = sign_up(db, phone="13500000011", birthday="1990-05-20")
    sign_up(db, phone="13500000012", birthday="1990-05-21")
    assert _run(db) == 1
    assert _run(db) == 0  # the same year: once
    [coupon] = db.read(lambda s: list_customer_coupons(session=s, customer_id=me, now=MORNING))
    assert coupon.template_code == "BDAY20"
    # valid until the end of 27 May in Shanghai: the birthday and 7 days after
    assert coupon.expires_at == datetime(2026, 5, 27, 16, 0, tzinfo=UTC)
    assert (
        db.read(lambda s: birthday_coupon_of(session=s, customer_id=me, year=2026)) == coupon.code
    )
    assert _run(db, datetime(2027, 5, 20, 1, 0, tzinfo=UTC)) == 1


def test_a_tier_without_a_birthday_coupon_gets_none(db: Database) -> None:
    tpl = template(db, code="GOLDBDAY", kind="amount_off", amount_off_fen=5_000)
    _rule(db, "gold", tpl)
    sign_up(db, phone="13500000013", birthday="1990-05-20")
    assert _run(db) == 0


def test_a_29_february_birthday_gets_its_coupon_on_28_february_in_other_years(
    db: Database,
) -> None:
    tpl = template(db, code="LEAP", kind="amount_off", amount_off_fen=1_000)
    _rule(db, "member", tpl)
    leap = sign_up(db, phone="13500000014", birthday="2000-02-29")
    assert _run(db, datetime(2027, 2, 28, 1, 0, tzinfo=UTC)) == 1
    assert _run(db, datetime(2027, 3, 1, 1, 0, tzinfo=UTC)) == 0
    assert _run(db, datetime(2028, 2, 29, 1, 0, tzinfo=UTC)) == 1
    assert (
        len(
            db.read(
                lambda s: list_customer_coupons(
                    session=s, customer_id=leap, now=datetime(2028, 2, 29, 2, 0, tzinfo=UTC)
                )
            )
        )
        == 1
    )


def test_an_unknown_template_is_refused_naming_the_field(db: Database) -> None:
    rule_in = BirthdayCouponIn(tier_code="gold", template_code="NOPE")
    with pytest.raises(InvalidInput) as refused:
        db.write(lambda s: set_birthday_coupon(session=s, rule_in=rule_in, actor=ACTOR))
    assert refused.value.field == "template_code"
