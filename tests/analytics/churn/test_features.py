"""Churn features and reasons on small shops worked out by hand, and the time split."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from patron.analytics.churn.features import FEATURES, compute_columns, in_sample, store_tables
from patron.analytics.churn.reasons import render_reason
from patron.analytics.churn.scoring import LABEL_DAYS, cutoff_at, score_churn
from patron.analytics.clv import summarise_transactions
from patron.analytics.value_scores import histories
from patron.core.errors import InvalidInput
from tests.analytics.churn.helpers import Shop, synthetic_population

AS_OF = date(2025, 6, 30)


def _days(n: int) -> date:
    return AS_OF - timedelta(days=n)


@pytest.fixture
def shop() -> Shop:
    shop = Shop()
    # 1: every 10 days for 90 days, then silent for 30: three times the usual gap.
    shop.customer(1)
    for back in range(120, 29, -10):
        shop.order(1, _days(back))
    # 2: one order, 20 days ago.
    shop.customer(2)
    shop.order(2, _days(20))
    # 3: signed up, never bought.
    shop.customer(3)
    # 4: three orders; half of the first refunded at once, the second refunded in full
    # 55 days ago.
    shop.customer(4)
    shop.order(4, _days(200), 10000, refund=5000, refunded_on=_days(199))
    shop.order(4, _days(100), 10000, refund=10000, refunded_on=_days(55))
    shop.order(4, _days(50), 10000)
    return shop


def _row(columns: dict[str, np.ndarray], customer_id: int) -> dict[str, float]:
    i = int(np.flatnonzero(columns["customer_id"] == customer_id)[0])
    return {k: float(v[i]) for k, v in columns.items()}


def test_a_customer_at_three_times_their_usual_gap_gets_that_reason_with_the_number_3(
    shop: Shop,
) -> None:
    result = score_churn(shop.connect(), as_of=AS_OF)
    reasons = result.reasons_for(1)
    gap = next(r for r in reasons if r.code == "long_gap")
    assert gap.numbers == {"ratio": 3, "days": 30, "usual_days": 10}
    assert gap.action == "win_back_coupon"
    assert render_reason(gap.code, gap.numbers, "zh-CN") == (
        "购买间隔已是平时的3倍（已30天未购买，平时约10天一次）"
    )
    assert render_reason(gap.code, gap.numbers, "en").startswith(
        "It has been 3× their usual gap since the last purchase"
    )


def test_purchase_columns_are_worked_out_from_orders_and_refunds(shop: Shop) -> None:
    con = shop.connect()
    columns = compute_columns(con, cutoff=AS_OF, tables=store_tables(con))
    assert columns["customer_id"].tolist() == [1, 2, 4], "customer 3 never bought"
    one = _row(columns, 1)
    assert one["purchase_days"] == 10
    assert one["median_gap_days"] == 10
    assert one["days_since_last"] == 30
    assert one["tenure_days"] == 120
    # Recent window (AS_OF − 90, AS_OF]: the orders 80 … 30 days back.
    assert one["recent_purchase_days"] == 6
    assert one["earlier_purchase_days"] == 4
    four = _row(columns, 4)
    assert (four["paid_fen"], four["refunded_fen"], four["net_fen"]) == (30000, 15000, 15000)
    assert four["repeat_net_fen"] == 0 + 10000


def test_a_customer_with_one_order_has_no_usual_gap_and_says_so(shop: Shop) -> None:
    result = score_churn(shop.connect(), as_of=AS_OF)
    frame = result.customers.set_index("customer_id")
    assert frame.loc[2, "p_alive"] == 1.0, "BG/NBD: no repeat purchase, no sign of leaving"
    codes = [r.code for r in result.reasons_for(2)]
    assert "long_gap" not in codes
    assert codes[:2] == ["new_customer", "single_purchase"]
    assert result.reasons_for(2)[0].numbers == {"days": 20}


def test_a_customer_who_never_bought_is_not_scored(shop: Shop) -> None:
    result = score_churn(shop.connect(), as_of=AS_OF)
    assert 3 not in result.customers["customer_id"].tolist()
    with pytest.raises(InvalidInput, match="customer_id"):
        result.reasons_for(3)


def test_refunds_count_only_once_dated_by_the_cutoff(shop: Shop) -> None:
    con = shop.connect()
    tables = store_tables(con)
    # 60 days back: two orders paid 20,000, of which only the 5,000 refunded on day −199 is
    # known; the full refund of the second order comes 5 days later (orders.refunded_fen
    # already holds it, and must not be read).
    then = _row(compute_columns(con, cutoff=_days(60), tables=tables), 4)
    assert (then["paid_fen"], then["refunded_fen"]) == (20000, 5000)
    now = score_churn(con, as_of=AS_OF)
    refunds = next(r for r in now.reasons_for(4) if r.code == "refunds")
    assert refunds.numbers == {"percent": 50}
    assert render_reason("refunds", refunds.numbers, "zh-CN") == "退款金额占消费的50%"


def test_an_empty_store_scores_nobody_without_crashing() -> None:
    result = score_churn(Shop().connect(), as_of=AS_OF)
    assert len(result.customers) == 0
    assert result.report["mode"] == "fallback"


def test_summary_columns_match_the_clv_packages_summary() -> None:
    population = synthetic_population(customers=800, seed=3)
    con = population.con
    cutoff = population.as_of - timedelta(days=120)
    columns = compute_columns(con, cutoff=cutoff, tables=store_tables(con))
    x, t_x, age, monetary = histories(columns)
    rows = con.execute(
        "SELECT o.customer_id, o.order_date, o.paid_fen - coalesce(r.amount_fen, 0) "
        "FROM orders o LEFT JOIN (SELECT order_id, sum(amount_fen) AS amount_fen FROM refunds "
        "WHERE refund_date <= ? GROUP BY order_id) r USING (order_id) WHERE o.order_date <= ?",
        [cutoff, cutoff],
    ).fetchall()
    ids, days, spend = zip(*rows, strict=True)
    summary = summarise_transactions(
        customer_ids=np.array(ids),
        purchased_on=np.array(days, dtype="datetime64[D]"),
        spend=np.array(spend, dtype=float),
        calibration_end=cutoff,
        unit="weeks",
    )
    assert summary.customer_ids.tolist() == columns["customer_id"].tolist()
    np.testing.assert_allclose(x, summary.frequency)
    np.testing.assert_allclose(t_x, summary.recency)
    np.testing.assert_allclose(age, summary.age)
    np.testing.assert_allclose(monetary, summary.monetary)


def test_training_features_do_not_change_when_the_future_changes() -> None:
    """Moving every order after the training cut-off and refunding old orders after it
    leaves the features (and P(alive)) at the cut-off exactly as they were."""
    population = synthetic_population(customers=1500, seed=4)
    con = population.con
    cutoff = population.as_of - timedelta(days=LABEL_DAYS)
    tables = store_tables(con)
    features = list(FEATURES)
    before, _ = cutoff_at(con, cutoff, tables, features, upto=population.as_of)

    con.execute(
        "UPDATE orders SET order_date = least(order_date + 17, ?::DATE), "
        "ordered_at = ordered_at + INTERVAL 17 DAY WHERE order_date > ?",
        [population.as_of, cutoff],
    )
    con.execute(
        "INSERT INTO refunds SELECT 100000 + order_id, order_id, ?::TIMESTAMP, ?::DATE, paid_fen "
        "FROM orders WHERE order_date <= ? AND order_id % 5 = 0",
        [cutoff + timedelta(days=3), cutoff + timedelta(days=3), cutoff],
    )
    con.execute(
        "UPDATE orders SET refunded_fen = paid_fen, net_fen = 0 "
        "WHERE order_date <= ? AND order_id % 5 = 0",
        [cutoff],
    )
    after, _ = cutoff_at(con, cutoff, tables, features, upto=population.as_of)
    assert before.ids.tolist() == after.ids.tolist()
    np.testing.assert_array_equal(before.raw, after.raw)
    np.testing.assert_array_equal(before.columns["p_alive"], after.columns["p_alive"])
    # …while the scoring-day features did see the change.
    now_before, _ = cutoff_at(synthetic_population(customers=1500, seed=4).con, population.as_of,
                        tables, features)  # fmt: skip
    now_after, _ = cutoff_at(con, population.as_of, tables, features)
    assert not np.array_equal(now_before.raw, now_after.raw, equal_nan=True)


def test_a_training_sample_keeps_the_same_customers_at_every_cutoff() -> None:
    population = synthetic_population(customers=1500, seed=5)
    con = population.con
    tables = store_tables(con)
    later = population.as_of - timedelta(days=90)
    earlier = population.as_of - timedelta(days=180)
    full = compute_columns(con, cutoff=later, tables=tables)
    sample = compute_columns(con, cutoff=later, tables=tables, sample_per_mille=300)
    expected = full["customer_id"][in_sample(full["customer_id"], 300)]
    assert sample["customer_id"].tolist() == expected.tolist()
    assert 0.2 < len(expected) / len(full["customer_id"]) < 0.4
    before = compute_columns(con, cutoff=earlier, tables=tables, sample_per_mille=300)
    assert set(before["customer_id"].tolist()) <= set(sample["customer_id"].tolist())
