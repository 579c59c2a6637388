"""The metric code against numbers worked out by hand, and the baselines' definitions."""

from __future__ import annotations

import math

import pytest

from patron.analytics.recommend.evaluation import (
    baselines,
    ndcg_at,
    recall_at,
    score_lists,
    split_last,
)


def test_recall_and_ndcg_of_a_hand_computed_list() -> None:
    ranked = [5, 1, 9, 2, 7]
    target = {1, 2, 3}
    # Hits at ranks 2 and 4: recall 2/3; DCG = 1/log2(3) + 1/log2(5); ideal = ranks 1..3.
    assert recall_at(ranked, target, 5) == pytest.approx(2 / 3)
    assert recall_at(ranked, target, 2) == pytest.approx(1 / 3)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at(ranked, target, 5) == pytest.approx(dcg / ideal)
    # At k = 2 the ideal has only two slots.
    assert ndcg_at(ranked, target, 2) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert recall_at(ranked, set(), 5) == 0.0 and ndcg_at(ranked, set(), 5) == 0.0


def test_scores_split_into_repeat_and_new_items() -> None:
    histories = {"a": [[1, 2], [2, 3]], "b": [[7]]}
    targets = {"a": [2, 4], "b": [8]}
    ranked = {"a": [4, 9, 2], "b": [7, 8]}
    s = score_lists(ranked, targets, histories, ks=(1, 3))
    # a: target {2 (repeat), 4 (new)}; b: target {8 (new)}.
    assert s.members == 2 and s.members_with_repeat == 1 and s.members_with_new == 2
    assert s.recall[1] == pytest.approx((1 / 2 + 0) / 2)
    assert s.recall[3] == pytest.approx((2 / 2 + 1) / 2)
    assert s.recall_repeat[1] == 0.0 and s.recall_repeat[3] == pytest.approx(1.0)
    assert s.recall_new[1] == pytest.approx((1 + 0) / 2)
    assert s.ndcg_new[3] == pytest.approx((1 + 1 / math.log2(3)) / 2)


def test_the_baselines_rank_by_baskets_and_fill_from_the_global_list() -> None:
    histories = {"a": [[3, 1], [1]], "b": [[2], [2, 5], [2]]}
    lists = baselines(histories, 3)
    # Global: 2 in 3 baskets, 1 in 2, then 3 and 5 in one each (smaller id first).
    assert lists["G-TopFreq"]["a"] == [2, 1, 3]
    assert lists["P-TopFreq"]["a"] == [1, 3]
    assert lists["GP-TopFreq"]["a"] == [1, 3, 2]
    assert lists["GP-TopFreq"]["b"] == [2, 5, 1]


def test_the_inner_split_drops_the_last_basket_before_choosing_the_target() -> None:
    data = {"a": [[1], [2], [3]], "b": [[1], [2]]}
    histories, targets = split_last(data)
    assert targets == {"a": [3], "b": [2]} and histories["a"] == [[1], [2]]
    inner_h, inner_t = split_last(data, drop_last=1)
    assert inner_t == {"a": [2]} and inner_h == {"a": [[1]]}
