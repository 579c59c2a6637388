"""The rules on Groceries are arules' rules: the same set, the same numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from patron.analytics.basket.mining import Baskets, confidence_floor, min_count, mine_rules
from tests.analytics.basket._groceries import groceries, keyed, reference


@pytest.fixture(scope="module")
def baskets() -> Baskets:
    return Baskets.from_lists(groceries())


def test_groceries_reads_as_arules_does(baskets: Baskets) -> None:
    assert baskets.count == 9835
    assert len(baskets.labels) == 169


def test_support_0_001_confidence_0_8_gives_arules_410_rules(baskets: Baskets) -> None:
    rules = mine_rules(baskets, min_support=0.001, min_confidence=0.8, max_items=10)
    ours = keyed(rules.rows())
    theirs = reference("groceries_s0.001_c0.8.csv")
    assert len(rules) == 410
    assert set(ours) == set(theirs)
    for key, want in theirs.items():
        got = ours[key]
        assert got["rule_count"] == want["count"]
        for measure in ("support", "confidence", "lift"):
            assert got[measure] == pytest.approx(want[measure], abs=1e-9, rel=0), (key, measure)


def test_the_39_rules_exactly_at_confidence_0_8_are_kept_and_equal_exactly(
    baskets: Baskets,
) -> None:
    rules = mine_rules(baskets, min_support=0.001, min_confidence=0.8)
    ours = keyed(rules.rows())
    theirs = reference("groceries_s0.001_c0.8.csv")
    on_threshold = {k for k, v in theirs.items() if v["confidence"] == 0.8}
    assert len(on_threshold) == 39
    for key in on_threshold:
        got = ours[key]
        # 4 in 5 of the antecedent's baskets: exactly on the threshold in counts…
        assert got["rule_count"] * 5 == got["antecedent_count"] * 4
        # …and the same double as arules', bit for bit.
        assert got["confidence"] == theirs[key]["confidence"] == 0.8
        assert got["support"] == theirs[key]["support"]
        assert got["lift"] == theirs[key]["lift"]


def test_support_0_006_confidence_0_25_at_least_2_items_gives_arules_463_rules(
    baskets: Baskets,
) -> None:
    rules = mine_rules(baskets, min_support=0.006, min_confidence=0.25, min_items=2)
    ours = keyed(rules.rows())
    theirs = reference("groceries_s0.006_c0.25_minlen2.csv")
    assert len(rules) == 463
    assert set(ours) == set(theirs)
    for key, want in theirs.items():
        for measure in ("support", "confidence", "lift"):
            assert ours[key][measure] == pytest.approx(want[measure], abs=1e-9, rel=0)
    herbs = ours[(("herbs",), "root vegetables")]
    assert herbs["confidence"] == pytest.approx(0.43125, abs=1e-12)
    pasta = ours[(("pasta",), "whole milk")]
    assert pasta["support"] == pytest.approx(0.006100661, abs=1e-9)
    assert pasta["confidence"] == pytest.approx(0.4054054, abs=1e-7)
    assert pasta["lift"] == pytest.approx(1.586614, abs=1e-6)


def test_thresholds_are_lowered_by_one_ulp_as_arules_does() -> None:
    # 0.006 × 10,000 is 60.000000000000007 in doubles: the count the decimal means is 60.
    assert min_count(10_000, 0.006) == 60
    assert min_count(9835, 0.001) == 10
    assert confidence_floor(0.8) <= 12 / 15
    assert math.nextafter(0.8, 0) - 1e-9 < confidence_floor(0.8)
    assert not np.nextafter(0.8, 0) - 2e-12 >= confidence_floor(0.8)
