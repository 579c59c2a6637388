"""The recommender's signals on histories small enough to reason about."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from patron.analytics.recommend.model import (
    SOURCES,
    Histories,
    RecommendParams,
    RecommendParamsError,
    _context,
    recommend,
)
from patron.analytics.recommend.similarity import (
    ITEM_NEIGHBOURS,
    _exact_similar,
    _item_neighbours,
    _item_similar,
    _normalised,
    _repeat_vectors,
)


def _lists(h: Histories, params: RecommendParams, **kw: object) -> dict[object, list[str]]:
    return recommend(h, params, **kw).lists(h)  # type: ignore[arg-type]


def test_a_member_gets_back_what_they_keep_buying_first() -> None:
    h = Histories.from_baskets(
        {
            "a": [["milk", "bread"], ["milk"], ["milk", "eggs"]],
            "b": [["tea"], ["tea", "milk"]],
            "c": [["bread"], ["jam"]],
        }
    )
    lists = _lists(h, RecommendParams(top_n=3, neighbours=1))
    assert lists["a"][0] == "milk"
    assert lists["b"][0] == "tea"


def test_an_item_not_due_yet_is_pushed_down_and_can_be_left_out() -> None:
    # Rice every 30 days, bought yesterday; salt every 5 days, last bought 10 days ago.
    times = {"a": [0, 5, 10, 30, 40, 60, 69]}
    baskets = {"a": [["rice"], ["salt"], ["salt"], ["rice"], ["salt"], ["rice"], ["x"]]}
    h = Histories.from_baskets(baskets, times)
    params = RecommendParams(
        top_n=3, due_power=1.0, neighbour_weight=0, popular_weight=0, recent_popular_weight=0
    )
    ranked = _lists(h, params, now=70.0)["a"]
    assert ranked.index("salt") < ranked.index("rice")
    found = recommend(h, params, now=70.0)
    rice = int(np.flatnonzero(h.labels == "rice")[0])
    row = int(np.flatnonzero(found.item == rice)[0])
    assert SOURCES[found.source[row]] == "repeat"
    assert found.due[row] == pytest.approx(90.0)  # last bought on day 60, every 30 days


def test_shelf_life_caps_the_interval_of_items_without_an_own_rhythm() -> None:
    baskets = {"a": [["yogurt"], ["x"]], "b": [["yogurt"], ["yogurt"]]}
    times = {"a": [0, 1], "b": [0, 20]}
    h = Histories.from_baskets(baskets, times)
    shelf = np.array([3.0 if label == "yogurt" else np.nan for label in h.labels])
    params = RecommendParams(
        due_power=1.0, neighbour_weight=0, popular_weight=0, recent_popular_weight=0
    )
    found = recommend(h, params, now=2.0, shelf_life=shelf)
    yogurt = int(np.flatnonzero(h.labels == "yogurt")[0])
    a = int(np.flatnonzero(h.members == "a")[0])
    row = int(np.flatnonzero((found.member == a) & (found.item == yogurt))[0])
    assert found.due[row] == pytest.approx(3.0)  # bought on day 0, lasts 3 days


def test_similar_members_bring_items_new_to_the_member() -> None:
    h = Histories.from_baskets(
        {
            "a": [["beer", "chips"], ["beer"]],
            "b": [["beer", "chips"], ["beer", "salsa"]],
            "c": [["tea"], ["tea", "cake"]],
        }
    )
    params = RecommendParams(top_n=5, neighbours=1, popular_weight=0, recent_popular_weight=0)
    found = recommend(h, params)
    a = int(np.flatnonzero(h.members == "a")[0])
    mine = {
        h.labels[i]: SOURCES[s]
        for m, i, s in zip(found.member, found.item, found.source, strict=True)
        if m == a
    }
    assert mine.get("salsa") == "similar"
    assert "cake" not in mine


def test_rows_from_dated_lines_make_one_basket_per_member_and_day() -> None:
    h = Histories.from_rows([7, 7, 7, 9], [3.0, 3.0, 5.0, 3.0], ["a", "b", "a", "a"])
    assert h.member_count == 2 and len(h.times) == 3
    assert h.times.tolist() == [3.0, 5.0, 3.0]


def test_rows_given_as_dictionary_codes_make_the_same_histories_as_their_texts() -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    members, days = [7, 7, 7, 9, 9], [3.0, 3.0, 5.0, 3.0, 4.0]
    skus = ["b", "a", "b", "c", "a"]
    encoded = pc.dictionary_encode(pa.array(skus))
    coded = Histories.from_rows(
        members,
        days,
        encoded.indices.to_numpy(),
        labels=encoded.dictionary.to_numpy(zero_copy_only=False),
    )
    plain = Histories.from_rows(members, days, skus)
    assert coded.labels.tolist() == plain.labels.tolist() == ["a", "b", "c"]
    assert coded.items.tolist() == plain.items.tolist()
    assert coded.basket_offsets.tolist() == plain.basket_offsets.tolist()
    assert coded.times.tolist() == plain.times.tolist()


@pytest.mark.parametrize(
    ("field", "value"), [("top_n", 0), ("decay", 0.0), ("neighbour_weight", -1)]
)
def test_bad_settings_are_refused_naming_the_field(field: str, value: float) -> None:
    with pytest.raises(RecommendParamsError) as caught:
        RecommendParams(**{field: value})  # type: ignore[arg-type]
    assert caught.value.field == field


@pytest.mark.parametrize(
    "values",
    [
        np.array([9, 3, 3, 1_000_007, 9, -4], dtype=np.int64),  # a wide span: a sort
        np.array([-4, 3, 3, 9, 1_000_007, 1_000_007], dtype=np.int64),  # in order: no sort
        np.array(["2025-01-02", "2025-01-01", "2025-01-02"], dtype="datetime64[D]"),
        np.array([20_000, 19_990, 20_000, 20_005], dtype=np.int64),  # member ids, days
        np.array([20_000.0, 19_990.0, 20_000.0]),  # days as floats
        np.array([1.5, 0.5, 1.5]),  # not whole: np.unique
        np.array(["b", "a", "b"]),
    ],
)
def test_coded_values_are_np_uniques(values: np.ndarray) -> None:  # type: ignore[type-arg]
    from patron.analytics.codes import dense_codes

    uniques, codes = dense_codes(values)
    expected, inverse = np.unique(values, return_inverse=True)
    assert uniques.dtype == expected.dtype
    assert uniques.tolist() == expected.tolist()
    assert codes.tolist() == inverse.ravel().tolist()


def test_rows_read_with_their_repeats_make_the_same_histories_as_distinct_rows() -> None:
    """The nightly read leaves repeats in (a member's item bought twice on a day)."""
    members = [5, 5, 5, 2, 2, 5]
    days = [10.0, 10.0, 12.0, 11.0, 11.0, 10.0]
    items = ["milk", "tea", "milk", "jam", "jam", "milk"]
    plain = Histories.from_rows(members[:3] + members[3:4], days[:3] + days[3:4], items[:4])
    repeated = Histories.from_rows(members, days, items)
    for name in ("members", "member_offsets", "basket_offsets", "items", "times", "labels"):
        assert getattr(repeated, name).tolist() == getattr(plain, name).tolist(), name


def _store(members: int = 400, items: int = 60, seed: int = 3) -> Histories:
    """A small shop: skewed popularity, favourites, 1–6 baskets of 1–6 items a member (few
    items, so scores tie now and then)."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, items + 1) ** 0.9
    popularity /= popularity.sum()
    baskets = rng.integers(1, 7, size=members)
    sizes = rng.integers(1, 7, size=int(baskets.sum()))
    basket_member = np.repeat(np.arange(members), baskets)
    line_member = np.repeat(basket_member, sizes)
    favourites = rng.choice(items, size=(members, 4), p=popularity)
    lines = len(line_member)
    item = np.where(
        rng.random(lines) < 0.5,
        favourites[line_member, rng.integers(0, 4, size=lines)],
        rng.choice(items, size=lines, p=popularity),
    )
    position = np.arange(len(basket_member)) - np.repeat(np.cumsum(baskets) - baskets, baskets)
    day = np.repeat(position * 7 + rng.integers(0, 3, size=len(basket_member)), sizes)
    return Histories.from_rows(line_member, day.astype(np.float64), item)


def _reference(h: Histories, p: RecommendParams, exact_neighbours: int) -> list[tuple[Any, ...]]:
    """Each member's rows straight from the module doc, one member at a time on dense
    signals: own items score their timed rate, the others similar + rules + popular (the
    candidates: the signals' items and the wanted most popular ones), best first, an own
    item first on a tie, then the lower item."""
    context, repeat = _context(h, p, None, None, False)
    n, n_items = h.member_count, h.item_count
    k = min(p.top_n, n_items)
    has_similar = p.neighbour_weight > 0 and n > 1
    similar = np.zeros((n, n_items))
    if has_similar:
        blocks = (
            _exact_similar(repeat, p.neighbours, p.neighbour_weight)
            if n <= exact_neighbours
            else _item_similar(repeat, p.neighbour_weight, 97)
        )
        for members, block in blocks:
            similar[members] = block.toarray()
    rule = np.zeros((n, n_items))
    if context.rules is not None and context.last_matrix is not None:
        rule = (context.last_matrix @ context.rules).toarray() * p.rule_weight
    rows = []
    for m in range(n):
        start, end = context.bought.indptr[m], context.bought.indptr[m + 1]
        own_items = context.bought.indices[start:end].tolist()
        entries = (context.bought.data[start:end].astype(np.int64) - 1).tolist()
        in_pop = sum(bool(context.in_popular[i]) for i in own_items)
        wanted = min(k + in_pop, len(context.ranked_popular))
        new: dict[int, float] = {}
        for i in np.flatnonzero((similar[m] != 0) | (rule[m] != 0)).tolist():
            new[i] = (similar[m, i] + rule[m, i]) + context.popular[i]
        for i in context.ranked_popular[:wanted].tolist():
            new.setdefault(i, context.popular[i])
        candidates = [
            (context.timed_score[e], i, e) for i, e in zip(own_items, entries, strict=True)
        ]
        candidates += [(v, i, -1) for i, v in sorted(new.items()) if i not in own_items]
        ranked = sorted(candidates, key=lambda c: -c[0])[:k]
        for rank, (score, item, e) in enumerate((c for c in ranked if c[0] > 0), start=1):
            if e >= 0:
                source, due = 0, context.due_time[e]
            else:
                pop, rule_part = context.popular[item], rule[m, item]
                sim_part = score - pop - rule_part if has_similar else 0.0
                if sim_part >= rule_part and sim_part >= pop:
                    source = 1
                else:
                    source = 2 if rule_part >= pop else 3
                due = np.nan
            rows.append((m, rank, item, score, source, due))
    return rows


@pytest.mark.parametrize(
    ("params", "exact_neighbours"),
    [
        (RecommendParams(), 60_000),
        (RecommendParams(), 0),
        (RecommendParams(top_n=5, rule_weight=0.05, rule_min_count=2, popular=15), 0),
        (RecommendParams(rule_weight=0.05, rule_min_count=2, popular=15), 60_000),
        (RecommendParams(neighbour_weight=0, rule_weight=0.05, rule_min_count=2), 0),
        (RecommendParams(popular_weight=0, recent_popular_weight=0), 0),
    ],
)
def test_every_path_makes_the_rows_a_plain_member_by_member_reference_makes(
    params: RecommendParams, exact_neighbours: int
) -> None:
    h = _store()
    found = recommend(h, params, exact_neighbours=exact_neighbours)
    expected = _reference(h, params, exact_neighbours)
    assert len(found.member) == len(expected)
    columns = list(zip(*expected, strict=True))
    assert found.member.tolist() == list(columns[0])
    assert found.rank.tolist() == list(columns[1])
    assert found.item.tolist() == list(columns[2])
    np.testing.assert_allclose(found.score, columns[3], rtol=1e-12, atol=0)
    assert found.source.tolist() == list(columns[4])
    np.testing.assert_array_equal(found.due, np.asarray(columns[5], dtype=np.float64))


def test_item_neighbours_held_dense_are_those_of_the_sparse_items_matrix() -> None:
    repeat = _repeat_vectors(_store(), 0.9)
    unit = _normalised(repeat).astype(np.float32)
    dense = _item_neighbours(unit, repeat.astype(np.float32))
    sparse_path = _item_neighbours(unit, repeat.astype(np.float32), dense_items=0)
    np.testing.assert_array_equal(dense.toarray(), sparse_path.toarray())
    # Each row: the largest of unitᵀ · repeat off the diagonal, the lower item on a tie.
    gram = (unit.T @ repeat.astype(np.float32)).toarray()
    np.fill_diagonal(gram, 0.0)
    for i in range(gram.shape[0]):
        best = np.argsort(-gram[i], kind="stable")[:ITEM_NEIGHBOURS]
        best = best[gram[i, best] > 0]
        assert dense.indices[dense.indptr[i] : dense.indptr[i + 1]].tolist() == best.tolist()
