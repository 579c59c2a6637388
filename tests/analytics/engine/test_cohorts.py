"""First-purchase cohorts against figures worked out by hand."""

from __future__ import annotations

from datetime import date

from patron.analytics.engine import AnalyticsParams, cohorts
from tests.analytics.engine.helpers import Store, rows

D = date


def test_cohorts_count_returning_customers_and_their_net_sales() -> None:
    s = Store()
    for c in ("A", "B", "C", "D"):
        s.customer(ord(c))
    a, b, c, d = (ord(x) for x in "ABCD")
    s.order(a, D(2025, 1, 15), 1000)
    s.order(a, D(2025, 2, 3), 2000)
    s.order(a, D(2025, 2, 20), 500)
    s.order(a, D(2025, 4, 1), 700)
    s.order(b, D(2025, 1, 31), 3000)
    s.order(b, D(2025, 3, 5), 600, refunded=600)  # no purchase
    s.order(b, D(2025, 3, 10), 450, refunded=50)
    s.order(c, D(2025, 2, 1), 100)
    s.order(c, D(2025, 4, 2), 999)  # after as_of
    s.order(d, D(2024, 12, 31), 900, refunded=900)  # refunded in full: D's cohort is February
    s.order(d, D(2025, 2, 10), 900)
    s.order(None, D(2025, 1, 20), 5000)  # anonymous
    out = rows(
        cohorts(s.tables(), AnalyticsParams(as_of=D(2025, 4, 1))), ["cohort_month", "months_since"]
    )
    got = {
        k: (r["cohort_size"], r["customers"], r["retention"], r["revenue_fen"])
        for k, r in out.items()
    }
    assert got == {
        (D(2025, 1, 1), 0): (2, 2, 1.0, 4000),
        (D(2025, 1, 1), 1): (2, 1, 0.5, 2500),
        (D(2025, 1, 1), 2): (2, 1, 0.5, 400),
        (D(2025, 1, 1), 3): (2, 1, 0.5, 700),
        (D(2025, 2, 1), 0): (2, 2, 1.0, 1000),
    }


def test_cohort_months_run_across_the_year_end() -> None:
    s = Store()
    s.customer(1)
    s.customer(2)
    s.order(1, D(2024, 11, 30), 100)
    s.order(1, D(2025, 2, 1), 200)
    s.order(2, D(2024, 11, 1), 300)
    out = rows(
        cohorts(s.tables(), AnalyticsParams(as_of=D(2025, 2, 1))), ["cohort_month", "months_since"]
    )
    got = {k: (r["customers"], r["retention"], r["revenue_fen"]) for k, r in out.items()}
    assert got == {(D(2024, 11, 1), 0): (2, 1.0, 400), (D(2024, 11, 1), 3): (1, 0.5, 200)}
