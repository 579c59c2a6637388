"""Net sales mean one thing everywhere: the dashboard, the analytics KPIs, a customer's spend.

Built through the services: sales in two stores, a refund made days after its sale (and in
another store), a return without a known sale, then an analytics run; the dashboard's
figures and the run's KPIs must agree day by day, store by store and channel by channel.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from patron.analytics import service as analytics
from patron.catalog import service as catalog
from patron.catalog.schemas import StoreCreate
from patron.core.db import Database
from patron.orders import returns, sales
from patron.orders import service as orders
from patron.orders.schemas import RefundIn, ReturnLineIn
from tests.helpers import post_order

T = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
LINES = [
    {"sku": "APPLE", "quantity": 2, "unit_price_fen": 1500},
    {"sku": "TISSUE", "quantity": 1, "unit_price_fen": 800},
]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PATRON_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _shop(db: Database) -> dict[str, int]:
    for code, name in (("SH01", "上海一店"), ("SH02", "上海二店")):
        db.write(
            lambda s, c=code, n=name: catalog.create_store(
                session=s, store_in=StoreCreate(code=c, name=n)
            )
        )
    ids = {}
    ids["a"] = post_order(
        db, "A", customer={"phone": "13800138000"}, lines=LINES, at=T, store_code="SH01"
    ).order.id
    ids["b"] = post_order(
        db,
        "B",
        customer={"phone": "13900139000"},
        lines=LINES[:1],
        at=T + timedelta(days=1),
        store_code="SH02",
        channel="online",
    ).order.id
    post_order(db, "C", lines=LINES[1:], at=T + timedelta(days=2), store_code="SH01")
    # A refund of A's apples three days later, paid back by the other store.
    refund = RefundIn.model_validate(
        {
            "source": "pos-test",
            "external_id": "R1",
            "order_id": ids["a"],
            "refunded_at": T + timedelta(days=3),
            "store_code": "SH02",
            "lines": [{"line_no": 1, "quantity": 1}],
        }
    )
    db.write(lambda s: orders.record_refund(session=s, refund_in=refund))
    # A return without a known sale by A's customer.
    a = db.read(lambda s: orders.get_order(session=s, order_id=ids["a"]))
    assert a is not None
    back = ReturnLineIn.model_validate(
        {
            "source": "import",
            "external_id": "C9",
            "line_no": 1,
            "store_code": "SH01",
            "customer_id": a.customer_id,
            "returned_at": T + timedelta(days=4),
            "sku": "TISSUE",
            "quantity": 1,
            "amount_fen": 500,
        }
    )
    db.write(lambda s: returns.record_returns(session=s, returns_in=[back]))
    return ids


def test_the_dashboard_and_the_analytics_run_agree_on_net_sales(
    db: Database, data_dir: Path
) -> None:
    _shop(db)
    first, last = date(2026, 3, 1), date(2026, 3, 10)
    figures = db.read(lambda s: sales.summarise_sales(session=s, start_on=first, end_on=last))
    run = analytics.run_analytics(db=db, as_of=last)

    def by(key: str) -> dict[object, int]:
        out: dict[object, int] = {}
        for cell in figures.cells:
            k = {"day": cell.day, "store": cell.store_id, "channel": cell.channel}[key]
            out[k] = out.get(k, 0) + cell.net_fen
        return out

    for dimension, column in (("day", "order_date"), ("store", "store_id"), ("channel", "channel")):
        kept = db.read(lambda s, d=dimension: analytics.read_kpis(session=s, by=d, run_id=run.id))
        from_run = {row[column]: row["net_sales_fen"] for row in kept.rows}
        if dimension == "day":
            from_run = {date.fromisoformat(str(k)[:10]): v for k, v in from_run.items()}
        assert from_run == by(dimension), dimension
    # 3800 + 1500 + 800 sold, 1500 refunded three days later, 500 returned without a sale
    assert sum(c.net_fen for c in figures.cells) == 3800 + 3000 + 800 - 1500 - 500
    assert by("day") == {
        date(2026, 3, 2): 3800,
        date(2026, 3, 3): 3000,
        date(2026, 3, 4): 800,
        date(2026, 3, 5): -1500,
        date(2026, 3, 6): -500,
    }


def test_a_return_without_a_known_sale_lowers_the_customers_spend(
    db: Database, data_dir: Path
) -> None:
    ids = _shop(db)
    run = analytics.run_analytics(db=db, as_of=date(2026, 3, 10))
    a = db.read(lambda s: orders.get_order(session=s, order_id=ids["a"]))
    assert a is not None and a.customer_id is not None

    (score,) = db.read(
        lambda s: analytics.scores_for_customer(session=s, customer_id=a.customer_id)
    )

    assert score.run_id == run.id
    assert score.monetary_fen == 3800 - 1500 - 500


def test_last_years_data_is_described_as_of_its_last_day(db: Database, data_dir: Path) -> None:
    old = datetime(2011, 12, 9, 4, 0, tzinfo=UTC)
    post_order(db, "OLD1", customer={"phone": "13800138000"}, at=old - timedelta(days=40))
    post_order(db, "OLD2", customer={"phone": "13800138000"}, at=old)

    run = analytics.run_analytics(db=db)

    assert run.as_of == date(2011, 12, 9)
    segments = db.read(lambda s: analytics.segment_summary(session=s))
    buyers = sum(g.customers for g in segments.groups if g.code is not None)
    assert buyers == 1  # not "no purchase in the window"


def test_what_an_export_said_of_its_orders_can_group_the_kpis(
    db: Database, data_dir: Path, tmp_path: Path
) -> None:
    from tests.imports.helpers import UCI_HEADER, import_file, write_csv

    rows = [
        ["1", "A", "a", "2", "3/5/2026 10:00", "1.50", "17850", "France"],
        ["2", "A", "a", "1", "3/6/2026 10:00", "1.50", "17851", "Germany"],
        ["3", "A", "a", "4", "3/6/2026 11:00", "1.00", "17852", "France"],
    ]
    import_file(db, "orders", write_csv(tmp_path / "s.csv", UCI_HEADER, rows))

    run = analytics.run_analytics(db=db, as_of=date(2026, 3, 10))

    kept = db.read(lambda s: analytics.read_kpis(session=s, by="country", run_id=run.id))
    assert {r["country"]: r["net_sales_fen"] for r in kept.rows} == {
        "France": 300 + 400,
        "Germany": 150,
    }
