"""The nightly run keeps basket rules, each member's recommendations and the sales forecast
as rows the API can read."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from patron.analytics import service as analytics
from patron.analytics.basket.service import bought_together
from patron.analytics.forecast.service import backtest_rows, forecast_totals
from patron.analytics.recommend.service import recommendations_for
from patron.catalog import service as catalog
from patron.catalog.schemas import StoreCreate
from patron.core.db import Database
from tests.helpers import post_order, sign_up

START = datetime(2025, 6, 1, 3, tzinfo=UTC)
AS_OF = date(2025, 9, 30)


def _line(sku: str, price: int = 500) -> dict[str, object]:
    return {"sku": sku, "quantity": 1, "unit_price_fen": price}


def test_a_run_writes_rules_recommendations_and_a_forecast(db: Database) -> None:
    db.write(
        lambda s: catalog.create_store(session=s, store_in=StoreCreate(code="A01", name="一店"))
    )
    members = [sign_up(db, phone=f"1390013{8000 + n}", signed_up_at=START) for n in range(12)]
    k = 0
    for day in range(122):
        at = START + timedelta(days=day)
        for n, cid in enumerate(members):
            if (day + n) % 3:
                continue
            # Every shopper buys milk; bread goes with it on even days, and jam with bread.
            lines = [_line("MILK")]
            if day % 2 == 0:
                lines += [_line("BREAD"), _line("JAM")]
            if n == 0 and day > 100:
                lines = [_line("TEA")]
            post_order(db, f"N{k}", store_code="A01", customer={"id": cid}, at=at, lines=lines)
            k += 1
    run = analytics.run_analytics(db=db, as_of=AS_OF)
    assert run.status == "succeeded"
    steps = {s.step: s for s in run.steps}
    assert {"baskets", "recommend", "forecast"} <= set(steps)

    together = db.read(lambda s: bought_together(session=s, item="BREAD"))
    assert {t.consequent for t in together} >= {"JAM"}
    jam = next(t for t in together if t.consequent == "JAM")
    assert jam.confidence == 1.0 and jam.run_id == run.id

    listed = db.read(lambda s: recommendations_for(session=s, customer_id=members[1]))
    assert [r.rank for r in listed] == list(range(1, len(listed) + 1))
    assert listed[0].sku == "MILK" and listed[0].source == "repeat"
    assert listed[0].due_on is not None and listed[0].due_on > AS_OF - timedelta(days=7)

    run_id, days = db.read(lambda s: forecast_totals(session=s))
    assert run_id == run.id and len(days) == 56
    assert days[0].day == AS_OF + timedelta(days=1)
    assert all(d.lower_95_fen <= d.forecast_fen <= d.upper_95_fen for d in days)
    _, backtests = db.read(lambda s: backtest_rows(session=s))
    assert backtests and all(b["days"] == 56 for b in backtests)
