"""A return without a known sale lowers the member's spend in the tier window."""

from __future__ import annotations

from datetime import timedelta

from patron.core.db import Database
from patron.loyalty import ledger
from patron.loyalty import tiers as loyalty
from patron.orders import returns
from patron.orders.schemas import ReturnLineIn
from tests.loyalty.helpers import PLAIN, TUESDAY, member, sale


def _return(db: Database, customer_id: int, amount: int, days: int, key: str) -> None:
    line = ReturnLineIn.model_validate(
        {
            "source": "import",
            "external_id": key,
            "line_no": 1,
            "customer_id": customer_id,
            "returned_at": TUESDAY + timedelta(days=days),
            "sku": "SKU-1",
            "quantity": 1,
            "amount_fen": amount,
        }
    )
    db.write(lambda s: returns.record_returns(session=s, returns_in=[line]))


def test_a_return_without_a_known_sale_lowers_the_tier_windows_spend(db: Database) -> None:
    who = member(db)
    sale(db, who)  # 100.00
    _return(db, who, 3000, days=2, key="C1")
    _return(db, who, 5000, days=-500, key="C0")  # long before the window: not counted
    now = TUESDAY + timedelta(days=3)

    tier = db.read(lambda s: loyalty.get_tier(session=s, customer_id=who, now=now, programme=PLAIN))
    by_account = db.read(
        lambda s: ledger.window_figures_by_account(s, now, now - timedelta(days=365))
    )

    assert tier.spend_12m_fen == 10_000 - 3000
    # The nightly tier review reads the same window, every account at once.
    assert [spend for spend, _earned in by_account.values()] == [10_000 - 3000]
