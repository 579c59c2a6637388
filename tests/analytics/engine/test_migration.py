"""Segment migration from the previous month end to as_of, worked out by hand."""

from __future__ import annotations

from datetime import date

import ibis

from patron.analytics.engine import AnalyticsParams, customer_scores, segment_migration
from patron.analytics.engine._migration import previous_month_end
from tests.analytics.engine.helpers import Store, rows

D = date


def test_previous_month_end() -> None:
    assert previous_month_end(D(2025, 6, 30)) == D(2025, 5, 31)
    assert previous_month_end(D(2025, 3, 1)) == D(2025, 2, 28)
    assert previous_month_end(D(2025, 1, 15)) == D(2024, 12, 31)


def migration_store() -> Store:
    s = Store()
    s.customer(1)  # 05-31: R 3, F 2, M 13000 → value;  06-30: R 33 → keep
    s.order(1, D(2025, 5, 25), 12000)
    s.order(1, D(2025, 5, 28), 1000)
    s.customer(2)  # 05-31: R 1, F 1, M 500 → general develop; 06-30: R 1, F 2, M 20500
    s.order(2, D(2025, 5, 30), 500)
    s.order(2, D(2025, 6, 29), 20000)
    s.customer(3, signup=D(2025, 4, 1))  # no purchase by 05-31; 06-25 3000 → general develop
    s.order(3, D(2025, 6, 25), 3000)
    s.customer(4, signup=D(2025, 6, 10))  # not yet a customer on 05-31, never bought
    s.customer(5)  # never bought
    s.customer(6)  # 2024-06-15: in the window ending 05-31, not in the one ending 06-30
    s.order(6, D(2024, 6, 15), 5000)
    return s


def test_migration_matrix() -> None:
    # Fixed split: near ≤ 10 days, high F ≥ 2 orders, high M ≥ 10000 fen; window 365 days.
    params = AnalyticsParams(
        as_of=D(2025, 6, 30),
        split="fixed",
        fixed_recency_days=10,
        fixed_frequency=2,
        fixed_monetary_fen=10000,
    )
    s = migration_store()
    out = rows(segment_migration(s.tables(), params), ["from_segment", "to_segment"])
    assert {k: r["customers"] for k, r in out.items()} == {
        ("important_value", "important_keep"): 1,
        ("general_develop", "important_value"): 1,
        (None, "general_develop"): 1,
        (None, None): 2,
        ("general_retain", None): 1,
    }


def test_migration_from_the_scores_segments_is_the_same() -> None:
    tables = migration_store().tables()
    params = AnalyticsParams(as_of=D(2025, 6, 30))
    now = ibis.memtable(customer_scores(tables, params).to_pyarrow())
    key = ["from_segment", "to_segment"]
    from_scores = rows(segment_migration(tables, params, now=now), key)
    assert from_scores == rows(segment_migration(tables, params), key)
