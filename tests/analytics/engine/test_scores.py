"""RFM, value segments and lifecycle stages against figures worked out by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from patron.analytics.engine import SEGMENTS, STAGES, AnalyticsParams, customer_scores
from patron.analytics.models import CustomerScore
from tests.analytics.engine.helpers import Store, rows

AS_OF = date(2025, 6, 30)
D = date


def rfm_store() -> Store:
    """Five buyers in the 365-day window (2024-07-01 … 2025-06-30) and three non-buyers.

    buyer  orders in window (net fen)                R    F  total  average
    1      06-25 10000, 05-01 20000, 03-01 30000      5    3  60000  20000
    2      06-25 5000                                 5    1   5000   5000
    8      06-20 1001, 06-10 2000                    10    2   3001   1501 (1500.5 half up)
    3      01-10 8000 (02-10 8000 refunded in full) 171    1   8000   8000
    4      2024-07-01 1000 less 400 refunded        364    1    600    600
           (and 2024-06-30 50000: one day outside the window)
    5 never bought; 6 bought once, refunded in full; 7 bought only after as_of.
    """
    s = Store()
    for c in range(1, 9):
        s.customer(c)
    s.order(1, D(2025, 6, 25), 10000)
    s.order(1, D(2025, 5, 1), 20000)
    s.order(1, D(2025, 3, 1), 30000)
    s.order(2, D(2025, 6, 25), 5000)
    s.order(8, D(2025, 6, 20), 1001)
    s.order(8, D(2025, 6, 10), 2000)
    s.order(3, D(2025, 1, 10), 8000)
    s.order(3, D(2025, 2, 10), 8000, refunded=8000)
    s.order(4, D(2024, 6, 30), 50000)
    s.order(4, D(2024, 7, 1), 1000, refunded=400)
    s.order(6, D(2025, 6, 1), 3000, refunded=3000)
    s.order(7, D(2025, 7, 1), 9000)
    s.order(None, D(2025, 6, 29), 7000)  # anonymous: never in RFM
    return s


def test_output_has_exactly_the_customer_score_columns() -> None:
    expr = customer_scores(rfm_store().tables(), AnalyticsParams(as_of=AS_OF))
    model_columns = [
        c.name for c in CustomerScore.__table__.columns if c.name not in {"id", "run_id"}
    ]
    assert expr.columns == tuple(model_columns)


def test_recency_frequency_monetary_net_of_refunds_in_the_window() -> None:
    out = rows(customer_scores(rfm_store().tables(), AnalyticsParams(as_of=AS_OF)), "customer_id")
    got = {c: (r["recency_days"], r["frequency"], r["monetary_fen"]) for c, r in out.items()}
    assert got == {
        1: (5, 3, 60000),
        2: (5, 1, 5000),
        8: (10, 2, 3001),
        3: (171, 1, 8000),  # the order refunded in full is no purchase
        4: (364, 1, 600),  # a partial refund nets; the order a day earlier is outside
        5: (None, 0, 0),
        6: (None, 0, 0),  # refunded in full: bought nothing
        7: (None, 0, 0),  # orders after as_of are ignored
    }
    assert all(r["as_of"] == AS_OF for r in out.values())


def test_average_monetary_is_net_per_counted_order_rounded_half_up() -> None:
    params = AnalyticsParams(as_of=AS_OF, monetary="average")
    out = rows(customer_scores(rfm_store().tables(), params), "customer_id")
    got = {c: r["monetary_fen"] for c, r in out.items()}
    assert got == {1: 20000, 2: 5000, 8: 1501, 3: 8000, 4: 600, 5: 0, 6: 0, 7: 0}


def test_quintile_scores_rank_buyers_and_give_ties_the_same_score() -> None:
    # n = 5 buyers, score = min(5, 1 + 5·rank // 4), rank = buyers strictly worse.
    # R (fewer days better): 364 → 0, 171 → 1, 10 → 2, 5 and 5 → 3 (tie) ⇒ 1, 2, 3, 4, 4.
    # F: 1, 1, 1 → 0 (tie), 2 → 3, 3 → 4 ⇒ 1, 1, 1, 4, 5.
    # M: 600, 3001, 5000, 8000, 60000 → 0 … 4 ⇒ 1, 2, 3, 4, 5.
    out = rows(customer_scores(rfm_store().tables(), AnalyticsParams(as_of=AS_OF)), "customer_id")
    got = {c: (r["r_score"], r["f_score"], r["m_score"]) for c, r in out.items()}
    assert got == {
        1: (4, 5, 5),
        2: (4, 1, 3),
        8: (3, 4, 2),
        3: (2, 1, 4),
        4: (1, 1, 1),
        5: (None, None, None),
        6: (None, None, None),
        7: (None, None, None),
    }


def test_a_single_buyer_scores_one_and_everyone_tied_scores_the_same() -> None:
    s = Store()
    for c in (1, 2, 3):
        s.customer(c)
        s.order(c, D(2025, 6, 1), 1000)
    out = rows(customer_scores(s.tables(), AnalyticsParams(as_of=AS_OF)), "customer_id")
    assert {(r["r_score"], r["f_score"], r["m_score"]) for r in out.values()} == {(1, 1, 1)}

    alone = Store()
    alone.customer(1)
    alone.order(1, D(2025, 6, 1), 1000)
    (row,) = rows(
        customer_scores(alone.tables(), AnalyticsParams(as_of=AS_OF)), "customer_id"
    ).values()
    assert (row["r_score"], row["f_score"], row["m_score"]) == (1, 1, 1)


def test_segments_split_at_the_buyers_mean_by_default() -> None:
    # Means over the five buyers: R 555/5 = 111 days, F 8/5 = 1.6, M 76601/5 = 15320.2.
    out = rows(customer_scores(rfm_store().tables(), AnalyticsParams(as_of=AS_OF)), "customer_id")
    assert {c: r["segment"] for c, r in out.items()} == {
        1: "important_value",  # near, F high, M high
        2: "general_develop",  # near, F low, M low
        8: "general_value",  # near, F 2 ≥ 1.6, M low
        3: "general_retain",  # far, F low, M low
        4: "general_retain",
        5: None,
        6: None,
        7: None,
    }


def test_average_monetary_changes_the_m_split() -> None:
    # Average M mean: 35101/5 = 7020.2, so buyer 3's 8000 is now high.
    params = AnalyticsParams(as_of=AS_OF, monetary="average")
    out = rows(customer_scores(rfm_store().tables(), params), "customer_id")
    assert out[3]["segment"] == "important_retain"
    assert out[1]["segment"] == "important_value"
    assert out[8]["segment"] == "general_value"


def test_fixed_split_uses_inclusive_thresholds() -> None:
    params = AnalyticsParams(
        as_of=AS_OF,
        split="fixed",
        fixed_recency_days=5,
        fixed_frequency=2,
        fixed_monetary_fen=5000,
    )
    out = rows(customer_scores(rfm_store().tables(), params), "customer_id")
    assert {c: r["segment"] for c, r in out.items() if r["segment"]} == {
        1: "important_value",  # R 5 ≤ 5, F 3 ≥ 2, M 60000 ≥ 5000
        2: "important_develop",  # R 5, F 1, M 5000 ≥ 5000
        8: "general_keep",  # R 10 > 5, F 2 ≥ 2, M 3001
        3: "important_retain",  # R 171, F 1, M 8000
        4: "general_retain",
    }


@pytest.mark.parametrize(
    ("recency", "orders", "each_fen", "segment"),
    [
        (3, 3, 10000, "important_value"),
        (3, 1, 30000, "important_develop"),
        (40, 3, 10000, "important_keep"),
        (40, 1, 30000, "important_retain"),
        (3, 3, 100, "general_value"),
        (3, 1, 100, "general_develop"),
        (40, 3, 100, "general_keep"),
        (40, 1, 100, "general_retain"),
    ],
)
def test_each_of_the_eight_segments(recency: int, orders: int, each_fen: int, segment: str) -> None:
    s = Store()
    s.customer(1)
    last = date.fromordinal(AS_OF.toordinal() - recency)
    for k in range(orders):
        s.order(1, date.fromordinal(last.toordinal() - 7 * k), each_fen)
    params = AnalyticsParams(as_of=AS_OF, split="fixed")  # 10 days, 3 orders, 20000 fen
    (row,) = rows(customer_scores(s.tables(), params), "customer_id").values()
    assert row["segment"] == segment
    assert segment in SEGMENTS


def test_window_none_reads_all_history() -> None:
    params = AnalyticsParams(as_of=AS_OF, window_days=None)
    out = rows(customer_scores(rfm_store().tables(), params), "customer_id")
    assert (out[4]["recency_days"], out[4]["frequency"], out[4]["monetary_fen"]) == (364, 2, 50600)


def test_business_day_is_order_date_not_the_utc_instant() -> None:
    # 15:59:59 UTC is 23:59:59 in Shanghai (2025-06-30); 16:00:00 UTC is already 07-01.
    s = Store()
    s.customer(1)
    s.customer(2)
    s.order(1, D(2025, 6, 30), 1000, ordered_at=datetime(2025, 6, 30, 15, 59, 59, tzinfo=UTC))
    s.order(2, D(2025, 7, 1), 1000, ordered_at=datetime(2025, 6, 30, 16, 0, 0, tzinfo=UTC))
    # And 00:30 in Shanghai, still 06-29 in UTC: the business day is the 30th.
    s.customer(3)
    s.order(3, D(2025, 6, 30), 1000, ordered_at=datetime(2025, 6, 29, 16, 30, tzinfo=UTC))
    out = rows(customer_scores(s.tables(), AnalyticsParams(as_of=AS_OF)), "customer_id")
    assert (out[1]["recency_days"], out[1]["frequency"]) == (0, 1)
    assert (out[2]["recency_days"], out[2]["frequency"], out[2]["stage"]) == (None, 0, "prospect")
    assert (out[3]["recency_days"], out[3]["last_order_date"]) == (0, D(2025, 6, 30))
    nxt = rows(customer_scores(s.tables(), AnalyticsParams(as_of=D(2025, 7, 1))), "customer_id")
    assert (nxt[2]["recency_days"], nxt[2]["frequency"]) == (0, 1)


def test_customers_signed_up_after_as_of_are_not_scored() -> None:
    s = Store()
    s.customer(1, signup=D(2025, 6, 30))
    s.customer(2, signup=D(2025, 7, 1))
    s.customer(3, signup=D(2025, 7, 1))  # history imported before the sign-up: scored
    s.order(3, D(2025, 6, 1), 500)
    out = rows(customer_scores(s.tables(), AnalyticsParams(as_of=AS_OF)), "customer_id")
    assert set(out) == {1, 3}


def lifecycle_store() -> Store:
    """One customer per rule and boundary, as of 2025-06-30 with the default settings:
    new 30 days, loyal 4 orders in 365, at risk after max(2 × usual gap, 60) days,
    lapsed after 180, won back within 90."""
    s = Store()
    plan: dict[int, list[date]] = {
        1: [D(2025, 1, 5), D(2025, 2, 5), D(2025, 3, 5), D(2025, 6, 20)],  # loyal
        2: [D(2025, 4, 1), D(2025, 4, 11), D(2025, 4, 21)],  # 70 silent > 2 × 10 and 60
        3: [D(2024, 9, 1), D(2024, 12, 30), D(2025, 4, 29)],  # 62 silent < 2 × 120: active
        4: [D(2025, 4, 29)],  # one order, 62 silent > 60 floor: at risk
        5: [D(2025, 5, 1)],  # one order, 60 silent, not more: active
        6: [D(2024, 12, 31)],  # 181 silent: lapsed
        7: [D(2025, 1, 1)],  # 180 silent: at risk, not yet lapsed
        8: [D(2024, 6, 1), D(2025, 6, 1)],  # 365-day silence ended 29 days ago: won back
        9: [D(2024, 1, 1), D(2025, 3, 1), D(2025, 6, 15)],  # won back 121 days ago: active
        10: [D(2025, 6, 1)],  # first purchase 29 days ago: new
        11: [D(2025, 5, 31)],  # 30 days ago: no longer new: active
        12: [],  # prospect
        13: [D(2024, 1, 1), D(2025, 4, 15)],  # silence ended 76 days ago: won back
        14: [D(2025, 4, 21), D(2025, 4, 21)],  # two orders, one day: no gap, the floor rules
    }
    for customer_id, days in plan.items():
        s.customer(customer_id, signup=D(2023, 1, 1))
        for day in days:
            s.order(customer_id, day, 1000)
    s.order(12, D(2025, 6, 1), 800, refunded=800)  # refunded in full: still a prospect
    return s


def test_every_lifecycle_stage_and_its_boundaries() -> None:
    out = rows(
        customer_scores(lifecycle_store().tables(), AnalyticsParams(as_of=AS_OF)), "customer_id"
    )
    assert {c: r["stage"] for c, r in out.items()} == {
        1: "loyal",
        2: "at_risk",
        3: "active",
        4: "at_risk",
        5: "active",
        6: "lapsed",
        7: "at_risk",
        8: "won_back",
        9: "active",
        10: "new",
        11: "active",
        12: "prospect",
        13: "won_back",
        14: "at_risk",
    }
    assert set(r["stage"] for r in out.values()) == set(STAGES)


def test_first_and_last_order_dates_cover_all_history() -> None:
    out = rows(
        customer_scores(lifecycle_store().tables(), AnalyticsParams(as_of=AS_OF)), "customer_id"
    )
    assert (out[9]["first_order_date"], out[9]["last_order_date"]) == (
        D(2024, 1, 1),
        D(2025, 6, 15),
    )
    assert (out[12]["first_order_date"], out[12]["last_order_date"]) == (None, None)


def test_lifecycle_settings_move_the_boundaries() -> None:
    params = replace(AnalyticsParams(as_of=AS_OF), new_days=31, loyal_orders=3, at_risk_min_days=70)
    out = rows(customer_scores(lifecycle_store().tables(), params), "customer_id")
    assert out[11]["stage"] == "new"  # 30 days < 31
    assert out[4]["stage"] == "active"  # 62 silent ≤ the 70-day floor
    assert out[2]["stage"] == "loyal"  # 70 silent is not more than 70; 3 orders ≥ 3
    assert out[3]["stage"] == "loyal"  # 3 orders within 365 days ≥ 3


def test_at_risk_factor_scales_the_customers_own_gap() -> None:
    # Customer 3: usual gap 240 / 2 = 120 days, silent 62. At 0.5 × 120 = 60 (the floor is
    # 60 too) they are at risk; at the default 2 × 120 = 240 they are not.
    params = AnalyticsParams(as_of=AS_OF, at_risk_factor=0.5)
    out = rows(customer_scores(lifecycle_store().tables(), params), "customer_id")
    assert out[3]["stage"] == "at_risk"
    assert out[9]["stage"] == "active"  # silent 15: under any floor of 60
