"""Uplift against the holdout as pure statistics, and the seeded simulation of the issue's
done-when: with a true effect of +3 points the 95 % interval covers it in at least 90 % of
200 runs; with none, the verdict is "no measurable effect" in at least 90 %."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from patron.campaigns.measure import Verdict, measure_uplift, newcombe, welch, wilson

RUNS = 200
AUDIENCE = 20_000  # a demo-sized audience
HOLDOUT_SHARE = 0.10
BASE_RATE = 0.10


def _simulate(rng: np.random.Generator, effect: float) -> tuple[np.ndarray, np.ndarray]:
    """Net sales per assigned customer: buyers spend a log-normal basket, some refund it."""
    holdout_n = int(AUDIENCE * HOLDOUT_SHARE)
    treated_n = AUDIENCE - holdout_n

    def group(n: int, rate: float) -> np.ndarray:
        bought = rng.random(n) < rate
        basket = np.round(rng.lognormal(mean=np.log(12_000), sigma=0.6, size=n))
        refunded = rng.random(n) < 0.05  # refunded in full: net zero, not a conversion
        return np.where(bought & ~refunded, basket, 0).astype(np.int64)

    # the refunds thin both groups alike: the true effect on conversion is effect × 0.95
    return group(treated_n, BASE_RATE + effect), group(holdout_n, BASE_RATE)


def test_with_a_true_effect_of_three_points_the_interval_covers_it_in_at_least_90_percent() -> None:
    rng = np.random.default_rng(20261206)
    true_difference = 0.03 * 0.95
    covered = positive = 0
    for _ in range(RUNS):
        treated, holdout = _simulate(rng, 0.03)
        uplift = measure_uplift(treated_sales_fen=treated, holdout_sales_fen=holdout)
        assert uplift.conversion is not None
        covered += uplift.conversion.low <= true_difference <= uplift.conversion.high
        positive += uplift.verdict == Verdict.POSITIVE
    print(f"\n+3 points: covered {covered}/{RUNS}, verdict positive {positive}/{RUNS}")
    assert covered >= 0.9 * RUNS
    assert positive >= 0.5 * RUNS  # 2,000 held out: the design's power at +3 points


def test_with_no_effect_the_verdict_is_no_measurable_effect_in_at_least_90_percent() -> None:
    rng = np.random.default_rng(7)
    verdicts = []
    for _ in range(RUNS):
        treated, holdout = _simulate(rng, 0.0)
        verdicts.append(
            measure_uplift(treated_sales_fen=treated, holdout_sales_fen=holdout).verdict
        )
    no_effect = sum(v == Verdict.NO_EFFECT for v in verdicts)
    print(f"\nno effect: 'no measurable effect' {no_effect}/{RUNS}")
    assert no_effect >= 0.9 * RUNS


def test_incremental_sales_and_cost_per_incremental_sale_follow_the_differences() -> None:
    treated = [0] * 800 + [10_000] * 200  # 20 % bought, 2,000 fen per customer
    holdout = [0] * 90 + [10_000] * 10  # 10 %, 1,000 fen per customer
    uplift = measure_uplift(treated_sales_fen=treated, holdout_sales_fen=holdout, cost_fen=50_000)

    assert uplift.conversion is not None and uplift.incremental_sales is not None
    assert uplift.conversion.estimate == pytest.approx(0.10)
    assert uplift.incremental_conversions is not None
    assert uplift.incremental_conversions.estimate == pytest.approx(100)
    assert uplift.incremental_sales.estimate == pytest.approx(1_000_000)
    assert uplift.cost_per_incremental_sale_fen == pytest.approx(500)
    assert uplift.verdict == Verdict.POSITIVE
    assert uplift.minimum_detectable_effect is not None and uplift.minimum_detectable_effect > 0.05


def test_an_empty_group_says_nothing_rather_than_guessing() -> None:
    uplift = measure_uplift(treated_sales_fen=[0, 100], holdout_sales_fen=[])
    assert uplift.verdict == Verdict.TOO_SMALL and uplift.conversion is None


def test_the_intervals_agree_with_the_published_ones() -> None:
    # Newcombe (1998), table II, example (a): 56/70 vs 48/80 → 0.0524 to 0.3339
    interval = newcombe(56, 70, 48, 80)
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.0524, 0.3339)
    low, high = wilson(81, 263)  # Wilson (1927) style check against scipy's binomtest
    expected = stats.binomtest(81, 263).proportion_ci(method="wilson")
    assert (low, high) == pytest.approx((expected.low, expected.high))
    a = np.array([3.0, 4.0, 5.0, 8.0, 9.0])
    b = np.array([1.0, 2.0, 2.0, 3.0])
    result = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (welch(a, b).low, welch(a, b).high) == pytest.approx((result.low, result.high))
