"""Rules and their measures on baskets small enough to count by hand."""

from __future__ import annotations

import math

import pytest

from patron.analytics.basket.mining import Baskets, MiningError, frequent_itemsets, mine_rules

# 10 baskets: bread in 6, milk in 5, both in 4, eggs in 3 (with bread and milk twice).
BASKETS = [
    ["bread", "milk", "eggs"],
    ["bread", "milk", "eggs"],
    ["bread", "milk"],
    ["bread", "milk", "milk"],  # milk twice on the receipt counts once
    ["bread"],
    ["bread", "jam"],
    ["milk"],
    ["eggs"],
    ["tea"],
    [],
]


def _rule(rows: list[dict[str, object]], lhs: list[str], rhs: str) -> dict[str, object]:
    found = [r for r in rows if r["antecedent"] == lhs and r["consequent"] == rhs]
    assert len(found) == 1, (lhs, rhs, rows)
    return found[0]


def test_measures_of_bread_then_milk_are_the_hand_counted_ones() -> None:
    rules = mine_rules(
        Baskets.from_lists(BASKETS), min_support=0.3, min_confidence=0.5, min_items=2
    )
    bread_milk = _rule(rules.rows(), ["bread"], "milk")
    assert bread_milk["rule_count"] == 4
    assert bread_milk["antecedent_count"] == 6
    assert bread_milk["support"] == pytest.approx(0.4)
    assert bread_milk["confidence"] == pytest.approx(4 / 6)
    assert bread_milk["lift"] == pytest.approx((4 / 6) / 0.5)
    assert bread_milk["leverage"] == pytest.approx(0.4 - 0.6 * 0.5)
    assert bread_milk["conviction"] == pytest.approx((1 - 0.5) / (1 - 4 / 6))
    milk_bread = _rule(rules.rows(), ["milk"], "bread")
    assert milk_bread["confidence"] == pytest.approx(4 / 5)


def test_a_rule_with_confidence_one_has_infinite_conviction() -> None:
    rules = mine_rules(
        Baskets.from_lists(BASKETS), min_support=0.2, min_confidence=0.9, min_items=2
    )
    rows = rules.rows()
    eggs = _rule(rows, ["eggs", "milk"], "bread")
    assert eggs["confidence"] == 1.0
    assert math.isinf(eggs["conviction"])


def test_itemsets_below_the_minimum_count_are_not_frequent() -> None:
    itemsets = frequent_itemsets(Baskets.from_lists(BASKETS), min_support=0.2)
    assert itemsets.min_count == 2
    # bread 6, milk 5, eggs 3 (jam and tea: 1 basket each); bread+milk 4, bread+eggs 2,
    # milk+eggs 2; bread+milk+eggs 2.
    found = {
        tuple(sorted(itemsets_labels(itemsets, row))): int(count)
        for k, rows in itemsets.by_size.items()
        for row, count in zip(rows, itemsets.counts[k], strict=True)
    }
    assert found == {
        ("bread",): 6,
        ("milk",): 5,
        ("eggs",): 3,
        ("bread", "milk"): 4,
        ("bread", "eggs"): 2,
        ("eggs", "milk"): 2,
        ("bread", "eggs", "milk"): 2,
    }


def itemsets_labels(itemsets: object, row: object) -> list[str]:
    labels = Baskets.from_lists(BASKETS).labels
    return [labels[int(i)] for i in row]  # type: ignore[attr-defined]


def test_an_empty_antecedent_rule_appears_only_with_one_item_allowed() -> None:
    baskets = Baskets.from_lists(BASKETS)
    with_one = mine_rules(baskets, min_support=0.5, min_confidence=0.55, min_items=1)
    assert [(r["antecedent"], r["consequent"]) for r in with_one.rows()] == [([], "bread")]
    assert not len(mine_rules(baskets, min_support=0.5, min_confidence=0.55, min_items=2))


def test_rules_never_have_more_items_than_asked() -> None:
    rules = mine_rules(
        Baskets.from_lists(BASKETS), min_support=0.2, min_confidence=0.1, max_items=2
    )
    assert len(rules) and max(r["items"] for r in rules.rows()) == 2


def test_pairs_of_order_ids_and_items_make_the_same_baskets_as_lists() -> None:
    ids = [7, 7, 7, 9, 9, 3]
    items = ["b", "a", "b", "a", "c", "c"]
    baskets = Baskets.from_pairs(ids, items)
    assert baskets.count == 3
    got = sorted(
        tuple(baskets.labels[i] for i in baskets.items[baskets.offsets[b] : baskets.offsets[b + 1]])
        for b in range(baskets.count)
    )
    assert got == [("a", "b"), ("a", "c"), ("c",)]


@pytest.mark.parametrize("ids", [[7, 7, 7, 9, 9, 3], [3, 7, 7, 7, 9, 9]])
def test_coded_pairs_in_or_out_of_order_make_the_same_baskets_as_texts(ids: list[int]) -> None:
    """The nightly run's path (codes into labels, pairs sorted or not) and the texts' one."""
    labels = ["a", "b", "c"]
    texts = ["b", "a", "b", "a", "c", "c"] if ids[0] == 7 else ["c", "b", "a", "b", "a", "c"]
    coded = Baskets.from_codes(ids, [labels.index(t) for t in texts], labels)
    plain = Baskets.from_pairs(ids, texts)
    assert coded.count == plain.count == 3
    assert coded.offsets.tolist() == plain.offsets.tolist()
    assert coded.items.tolist() == plain.items.tolist()
    rules = mine_rules(coded, min_support=0.3, min_confidence=0.1, min_items=2)
    assert len(rules)
    assert (
        rules.rows() == mine_rules(plain, min_support=0.3, min_confidence=0.1, min_items=2).rows()
    )


def test_itemsets_grown_past_pairs_match_every_subset_count() -> None:
    """Pairs come from one sparse product, triples from the bit vectors: each counted set's
    count is the number of baskets holding it."""
    itemsets = frequent_itemsets(Baskets.from_lists(BASKETS), min_support=0.2, max_items=4)
    for k, sets in itemsets.by_size.items():
        for row, count in zip(sets.tolist(), itemsets.counts[k].tolist(), strict=True):
            names = {Baskets.from_lists(BASKETS).labels[c] for c in row}
            assert count == sum(names <= set(b) for b in BASKETS)
        assert sets.tolist() == sorted(sets.tolist())


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("min_support", {"min_support": 0.0, "min_confidence": 0.5}),
        ("min_support", {"min_support": 1.5, "min_confidence": 0.5}),
        ("min_confidence", {"min_support": 0.1, "min_confidence": -0.1}),
        ("min_items", {"min_support": 0.1, "min_confidence": 0.5, "min_items": 0}),
        ("max_items", {"min_support": 0.1, "min_confidence": 0.5, "min_items": 3, "max_items": 2}),
    ],
)
def test_out_of_range_thresholds_are_refused_naming_the_field(
    field: str, kwargs: dict[str, float]
) -> None:
    with pytest.raises(MiningError) as caught:
        mine_rules(Baskets.from_lists(BASKETS), **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field
