"""Sales KPIs by day, store, channel and category against figures worked out by hand.

Period: the 30 days 2025-06-01 … 06-30. Customer 1 first bought on 03-01 (returning);
customer 2 first bought in the period (new).

order  who   day    store channel net    lines (category net)
o1     1     06-10  1     pos     10000  食品 6000, 饮料 4000
o2     1     06-10  1     online  0      食品 5000 refunded in full
o3     1     06-20  2     pos     3000   食品 3000
o4     2     06-10  1     pos     2000   饮料 2000
o5     2     06-15  2     online  1000   食品 1500 less 500
o6     anon  06-10  1     pos     4001   食品 4001
outside: 1 on 03-01 (7000), 2 on 07-01, anonymous on 05-31.
"""

from __future__ import annotations

from datetime import date

import pyarrow.compute as pc
import pytest

from patron.analytics.engine import (
    KPI_DIMENSIONS,
    AnalyticsParams,
    AnalyticsParamsError,
    kpis,
    shared_kpi_facts,
)
from tests.analytics.engine.helpers import Store, rows

D = date
PARAMS = AnalyticsParams(as_of=D(2025, 6, 30))
COLUMNS = (
    "net_sales_fen",
    "orders",
    "average_order_value_fen",
    "buyers",
    "repeat_rate",
    "member_sales_fen",
    "member_share",
    "new_customer_sales_fen",
    "returning_customer_sales_fen",
)


def kpi_store() -> Store:
    s = Store()
    s.stores.append((2, "S02", "二号店", "北京", "store"))
    s.customer(1)
    s.customer(2)
    s.order(1, D(2025, 3, 1), 7000)
    s.order(1, D(2025, 6, 10), 10000, lines=[("食品", 6000, 0), ("饮料", 4000, 0)])
    s.order(1, D(2025, 6, 10), 5000, refunded=5000, channel="online")
    s.order(1, D(2025, 6, 20), 3000, store_id=2)
    s.order(2, D(2025, 6, 10), 2000, lines=[("饮料", 2000, 0)])
    s.order(2, D(2025, 6, 15), 1500, refunded=500, store_id=2, channel="online")
    s.order(None, D(2025, 6, 10), 4001)
    s.order(2, D(2025, 7, 1), 8000)
    s.order(None, D(2025, 5, 31), 6000)
    return s


def figures(by: str, key: str) -> dict[object, tuple[object, ...]]:
    out = rows(kpis(kpi_store().tables(), PARAMS, by), key)  # type: ignore[arg-type]
    return {k: tuple(r[c] for c in COLUMNS) for k, r in out.items()}


def test_kpis_by_day() -> None:
    assert figures("day", "order_date") == {
        # 16001 over 3 orders (o2 nets 0) = 5333.67 → 5334
        D(2025, 6, 10): (16001, 3, 5334, 2, 0.0, 12000, 12000 / 16001, 2000, 10000),
        D(2025, 6, 15): (1000, 1, 1000, 1, 0.0, 1000, 1.0, 1000, 0),
        D(2025, 6, 20): (3000, 1, 3000, 1, 0.0, 3000, 1.0, 0, 3000),
    }


def test_kpis_by_store_carry_the_store_code_and_name() -> None:
    out = rows(kpis(kpi_store().tables(), PARAMS, "store"), "store_id")
    assert {k: (r["store_code"], r["store_name"]) for k, r in out.items()} == {
        1: ("S01", "一号店"),
        2: ("S02", "二号店"),
    }
    assert figures("store", "store_id") == {
        1: (16001, 3, 5334, 2, 0.0, 12000, 12000 / 16001, 2000, 10000),
        2: (4000, 2, 2000, 2, 0.0, 4000, 1.0, 1000, 3000),
    }


def test_kpis_by_channel_count_repeat_buyers() -> None:
    assert figures("channel", "channel") == {
        # customer 1 bought twice at the till (o1, o3), customer 2 once: repeat rate ½
        "pos": (19001, 4, 4750, 2, 0.5, 15000, 15000 / 19001, 2000, 13000),
        "online": (1000, 1, 1000, 1, 0.0, 1000, 1.0, 1000, 0),
    }


def test_kpis_by_category_read_the_lines() -> None:
    assert figures("category", "category") == {
        # o2's only line nets 0: no order in 食品
        "食品": (14001, 4, 3500, 2, 0.5, 10000, 10000 / 14001, 1000, 9000),
        "饮料": (6000, 2, 3000, 2, 0.0, 6000, 1.0, 2000, 4000),
    }


def test_kpi_groups_add_up_to_the_same_totals() -> None:
    totals = set()
    for by in KPI_DIMENSIONS:
        out = kpis(kpi_store().tables(), PARAMS, by).to_pyarrow()
        totals.add((pc.sum(out["net_sales_fen"]).as_py(), pc.sum(out["member_sales_fen"]).as_py()))
    assert totals == {(20001, 16000)}


def test_unknown_dimension_is_an_error_naming_it() -> None:
    with pytest.raises(AnalyticsParamsError, match="by"):
        kpis(kpi_store().tables(), PARAMS, "region")  # type: ignore[arg-type]


def test_shared_facts_give_every_dimension_the_same_table() -> None:
    store = kpi_store()
    store.order_attributes.extend(
        [
            (1, "中国", "上海", "上海", "微信", "张三"),
            (4, "中国", "江苏", "南京", "现金", "李四"),
            (6, "中国", "上海", "上海", "微信", None),
        ]
    )
    tables = store.tables()
    with shared_kpi_facts(tables, PARAMS) as shared:
        for by in KPI_DIMENSIONS:
            key = {"day": "order_date", "store": "store_id"}.get(by, by)
            alone = rows(kpis(tables, PARAMS, by), key)
            assert rows(kpis(tables, PARAMS, by, shared=shared), key) == alone, by
