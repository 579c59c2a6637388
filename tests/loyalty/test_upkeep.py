"""The loyalty programme's nightly upkeep: birthday gifts, expiry, the tier review."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from patron.core.clock import utcnow
from patron.core.db import Database
from patron.loyalty.points import get_balance
from patron.loyalty.tiers import get_tier
from patron.loyalty.upkeep import run_upkeep
from tests.helpers import sign_up
from tests.loyalty.helpers import member, sale

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_the_nightly_loyalty_upkeep_gives_writes_off_and_reviews(db: Database) -> None:
    now = utcnow()
    today = now.astimezone(SHANGHAI).date()
    gold = member(db)  # bought for ¥10,000 400 days ago: gold then, points since expired
    sale(db, gold, lines=[{"sku": "SKU-1", "quantity": 1, "unit_price_fen": 1_000_000}],
         at=now - timedelta(days=400))  # fmt: skip
    born = sign_up(db, phone="13912345678", birthday=today.replace(year=1992))  # leap: 29 Feb too
    assert db.read(lambda s: get_tier(session=s, customer_id=gold)).code == "gold"

    done = run_upkeep(db=db)
    assert done == {
        "birthday gifts": 1,
        "birthday coupons": 0,
        "points expired": 10_000,
        "tiers changed": 1,
        "points expiring notices": 0,
    }
    tier = db.read(lambda s: get_tier(session=s, customer_id=gold))
    assert tier.code == "gold" and tier.downgrade_due_at is not None  # the grace period
    balance = db.read(lambda s: get_balance(session=s, customer_id=gold))
    assert (balance.available, balance.ledger_total, balance.expired_unposted) == (0, 0, 0)
    assert db.read(lambda s: get_balance(session=s, customer_id=born)).available == 100
    # A second process's run the same night finds nothing more to do.
    assert run_upkeep(db=db) == {
        "birthday gifts": 0,
        "birthday coupons": 0,
        "points expired": 0,
        "tiers changed": 0,
        "points expiring notices": 0,
    }
