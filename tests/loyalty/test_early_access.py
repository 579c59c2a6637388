"""Priority purchase (优先购买权): gold from day 0, everyone from day 3, days counted in
Asia/Shanghai; the quote refuses the others with a coded error naming the line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from patron.core.db import Database
from patron.loyalty.early_access import check_access, set_early_access
from patron.loyalty.exceptions import EarlyAccessOnly
from patron.loyalty.reward_schemas import EarlyAccessCreate
from tests.helpers import ACTOR
from tests.loyalty.helpers import PLAIN, gold_member, member, offer, products, quote

# Friday 2026-03-06 10:00 in Shanghai; day 3 starts Monday 2026-03-09 00:00 there, which is
# Sunday 16:00 UTC.
OPENS = datetime(2026, 3, 6, 2, 0, tzinfo=UTC)
DAY_3 = datetime(2026, 3, 8, 16, 0, tzinfo=UTC)
LINE = [{"sku": "SKU-NEW", "quantity": 1, "unit_price_fen": 50_000}]


def _set(db: Database, **fields: object) -> None:
    body = {"target_kind": "sku", "target": "SKU-NEW", "opens_at": OPENS,
            "tier_days": {"gold": 0}, "everyone_day": 3, **fields}  # fmt: skip
    access_in = EarlyAccessCreate.model_validate(body)
    db.write(lambda s: set_early_access(session=s, access_in=access_in, actor=ACTOR))


def test_a_plain_member_is_refused_before_day_3_in_shanghai_and_served_after(
    db: Database,
) -> None:
    products(db, ("SKU-NEW", "shoes/limited"))
    _set(db)
    me = member(db)
    with pytest.raises(EarlyAccessOnly) as refused:
        quote(db, me, LINE, at=DAY_3 - timedelta(seconds=1))
    assert refused.value.facts["field"] == "lines.0.sku"
    assert refused.value.facts["from_at"] == "2026-03-09 00:00"
    assert quote(db, me, LINE, at=DAY_3).payable_fen == 50_000


def test_gold_buys_from_the_opening_and_not_before(db: Database) -> None:
    products(db, ("SKU-NEW", "shoes/limited"))
    gold = gold_member(db)
    _set(db)
    with pytest.raises(EarlyAccessOnly):
        quote(db, gold, LINE, at=OPENS - timedelta(minutes=1))
    assert quote(db, gold, LINE, at=OPENS).tier_code == "gold"


def test_a_higher_tier_inherits_the_day_of_the_tier_below_it(db: Database) -> None:
    products(db, ("SKU-NEW", "shoes/limited"))
    gold = gold_member(db)
    _set(db, tier_days={"silver": 1})
    with pytest.raises(EarlyAccessOnly):
        quote(db, gold, LINE, at=OPENS)
    assert quote(db, gold, LINE, at=datetime(2026, 3, 6, 16, 0, tzinfo=UTC)).tier_code == "gold"


def test_a_category_rule_covers_the_goods_under_it(db: Database) -> None:
    products(db, ("SKU-NEW", "shoes/limited/spring"))
    _set(db, target_kind="category", target="shoes/limited")
    with pytest.raises(EarlyAccessOnly):
        quote(db, member(db), LINE, at=OPENS)


def test_the_api_question_answers_who_may_buy_now_and_from_when(db: Database) -> None:
    products(db, ("SKU-NEW", "shoes/limited"))
    _set(db)
    me = member(db)
    before = db.read(
        lambda s: check_access(session=s, customer_id=me, sku="SKU-NEW", at=OPENS, programme=PLAIN)
    )
    assert (before.allowed, before.from_at) == (False, DAY_3)
    after = db.read(
        lambda s: check_access(session=s, customer_id=me, sku="SKU-NEW", at=DAY_3, programme=PLAIN)
    )
    assert after.allowed
    free = db.read(
        lambda s: check_access(session=s, customer_id=me, sku="SKU-1", at=OPENS, programme=PLAIN)
    )
    assert free.allowed and free.from_at is None


def test_an_offer_under_early_access_prices_only_for_members_whose_day_has_come(
    db: Database,
) -> None:
    products(db, ("SKU-A", "food"))
    offer(db, price_fen=8_000)
    _set(db, target_kind="offer", target="FLASH")
    two = [{"sku": "SKU-A", "quantity": 2, "unit_price_fen": 10_000}]
    gold, plain = gold_member(db), member(db)
    assert quote(db, gold, two, at=OPENS).offer_discount_fen == 4_000
    assert quote(db, plain, two, at=OPENS).offer_discount_fen == 0
    assert quote(db, plain, two, at=DAY_3).offer_discount_fen == 4_000
