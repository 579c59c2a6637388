"""The recommender's signals on histories small enough to reason about."""

from __future__ import annotations

import numpy as np
import pytest

from patron.analytics.recommend.model import (
    SOURCES,
    Histories,
    RecommendParams,
    RecommendParamsError,
    recommend,
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
