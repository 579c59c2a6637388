"""Next-basket recommendation: what each member is likely to buy on their next visit.

Each item gets a score for each member from four signals; an item the member has bought is
scored by the first alone, an item new to them by the other three:

1. **Repeat, timed** — the member's own rate for the item, shrunk towards the item's repeat
   propensity: ``(baskets holding it + repeat_prior × propensity) / (baskets +
   repeat_prior)``, the propensity being, over all members, the share of the baskets made
   after first buying the item that held it again (milk comes back, a kettle does not).
   Then multiplied by how due the item is: the time since the member last bought it over
   their usual interval for it — their own median gap when they bought it at least twice,
   else the item's median gap over all members, capped by the product's shelf life when the
   catalogue knows it (fresh goods are replaced as they spoil) — as ``min(1, due) **
   due_power``: an item just bought and not due is pushed down (``exclude_not_due`` drops
   it), one at or past its time keeps its weight.
2. **Similar members** (user-KNN in the TIFU-KNN spirit) — the mean of the ``neighbours``
   most similar members' recency-weighted item vectors (each basket weighted ``decay`` per
   basket back, normalised; cosine similarity on those vectors), weight
   ``neighbour_weight``.
3. **Rules** — for each item of the member's last basket, the confidence of the pair rule
   {item} ⇒ {j} (basket/mining.py, at least ``rule_min_count`` baskets), averaged over the
   basket, weight ``rule_weight``.
4. **Popular** — the share of baskets holding the item (``popular_weight``) and of members'
   latest baskets holding it (``recent_popular_weight``, what sells now), each scaled to 1
   for the top item, over the ``popular`` most popular items.

The ``top_n`` items by score are kept; each says which signal contributed most (its
``source``), and a repeat item carries the time it is due (last purchase + interval).

Time is whatever the histories count in: days for a shop's orders, the basket's position
for a data set without dates (Ta-Feng), where "now" is one basket after the last.

Similar members: exact cosine neighbours, in blocks of members, up to ``EXACT_NEIGHBOURS``
members. Beyond that every other member counts, weighted by their cosine similarity —
Σₙ cos(m, n) · vectorₙ / Σₙ cos(m, n), which is unitₘ · (unitᵀ · vectors): an items × items
matrix, each row kept to its ``ITEM_NEIGHBOURS`` largest entries, so a million members
cost one sparse product. On the shared Ta-Feng half this scores as well as the exact
neighbours (bench/nbr.py prints both); ``ITEM_NEIGHBOURS`` was chosen on the inner split
(Recall@10 with 5, 10, 20, 30 kept: 0.1211, 0.1220, 0.1218, 0.1215; exact 0.1220).

The items × items matrix is summed straight into a dense array (up to ``_DENSE_ITEMS``
items) by scipy's own product kernel, the same sums in the same order as its operator
without its counting pass or the sorting of a dense result.

Scoring never builds a members × items array: a block of ``_MEMBER_CHUNK`` members at a
time (``_THREADS`` blocks side by side), each member's candidates are their own items, the
similar members' and the rules' items and just enough of the most popular ones to fill a
list. Those popular ones put a floor under the member's ``top_n``-th score (each scores at
least its popular signal, and there are ``top_n`` of them not bought), so any candidate
below the floor is dropped before anything is sorted; the rest are merged as sorted
(member, item) keys and each row's best picked in dense blocks no wider than the longest
row (``_row_top``): best first, an own item first on a tie, then the lower item.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from scipy import sparse

from patron.analytics.codes import dense_codes
from patron.analytics.recommend.similarity import (
    _THREADS,
    FloatArray,
    Int32Array,
    IntArray,
    _exact_similar,
    _item_similar,
    _repeat_vectors,
    _row_top,
    _rows_of,
    _rule_matrix,
)

SOURCES = ("repeat", "similar", "rule", "popular")
EXACT_NEIGHBOURS = 60_000
# Each member's rows depend on nothing else in their block, so the block's size changes no
# row; at 10,000 members a block's temporaries stay small enough for the allocator to reuse
# them, where 50,000 members' were fresh pages for the kernel to zero each time
# (docs/operations.md).
_MEMBER_CHUNK = 10_000
EMBEDDING_DIMENSIONS = 48
CLUSTER_MEMBERS = 3_000
_T = TypeVar("_T")


class RecommendParamsError(ValueError):
    """A recommendation parameter is out of range; ``field`` names it."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"{field}: {reason} (got {value!r})")
        self.field = field
        self.value = value
        self.reason = reason


@dataclass(frozen=True)
class RecommendParams:
    """The recommender's settings; the defaults were tuned on an inner split of the shared
    Ta-Feng half (each member's second-to-last basket as target, never the last), see
    bench/nbr.py."""

    top_n: int = 20
    repeat_prior: float = 2.0
    decay: float = 0.9
    due_power: float = 0.0
    neighbours: int = 300
    neighbour_weight: float = 0.5
    rule_weight: float = 0.0
    rule_min_count: int = 5
    popular: int = 500
    popular_weight: float = 0.1
    recent_popular_weight: float = 0.1

    def __post_init__(self) -> None:
        for name in ("top_n", "neighbours", "rule_min_count", "popular"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise RecommendParamsError(name, value, "must be a whole number ≥ 1")
        if not 0 < self.decay <= 1:
            raise RecommendParamsError("decay", self.decay, "must be in (0, 1]")
        for name in (
            "repeat_prior",
            "due_power",
            "neighbour_weight",
            "rule_weight",
            "popular_weight",
            "recent_popular_weight",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value >= 0 and math.isfinite(value)):
                raise RecommendParamsError(name, value, "must be a number ≥ 0")


@dataclass(frozen=True, eq=False)
class Histories:
    """Members' baskets in time order. Member m's baskets are ``member_offsets[m]`` to
    ``member_offsets[m + 1]``; basket b holds the item codes ``items[basket_offsets[b]:
    basket_offsets[b + 1]]`` (distinct) bought at ``times[b]``; ``labels[code]`` is the item,
    ``members[m]`` the member."""

    members: npt.NDArray[Any]
    member_offsets: IntArray
    basket_offsets: IntArray
    items: IntArray
    times: FloatArray
    labels: npt.NDArray[Any]

    @property
    def member_count(self) -> int:
        return len(self.members)

    @property
    def item_count(self) -> int:
        return len(self.labels)

    @classmethod
    def from_baskets(
        cls,
        baskets_by_member: Mapping[Any, Sequence[Sequence[Any]]],
        times_by_member: Mapping[Any, Sequence[float]] | None = None,
    ) -> Histories:
        """From {member: [basket, …]} in time order; times default to the basket's position."""
        members = list(baskets_by_member)
        sizes, flat, times, per_member = [], [], [], []
        for member in members:
            baskets = baskets_by_member[member]
            when = times_by_member[member] if times_by_member is not None else None
            per_member.append(len(baskets))
            for position, basket in enumerate(baskets):
                distinct = list(dict.fromkeys(basket))
                sizes.append(len(distinct))
                flat.extend(distinct)
                times.append(float(when[position]) if when is not None else float(position))
        labels, codes = np.unique(np.asarray(flat, dtype=object).astype(str), return_inverse=True)
        member_offsets = np.zeros(len(members) + 1, dtype=np.int64)
        np.cumsum(per_member, out=member_offsets[1:])
        basket_offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=basket_offsets[1:])
        return cls(
            members=np.asarray(members, dtype=object),
            member_offsets=member_offsets,
            basket_offsets=basket_offsets,
            items=codes.astype(np.int64),
            times=np.asarray(times, dtype=np.float64),
            labels=labels,
        )

    @classmethod
    def from_rows(
        cls,
        member_ids: npt.ArrayLike,
        times: npt.ArrayLike,
        items: npt.ArrayLike,
        labels: npt.ArrayLike | None = None,
    ) -> Histories:
        """From (member, time, item) rows in any order: one basket per member and time (a
        shop's day), repeats of an item in it counted once. With ``labels``, ``items`` are
        codes into it (an Arrow dictionary's indices and values): the rows' item texts are
        never made one by one, which for a chain's tens of millions of lines is most of
        the time and memory."""
        member = np.asarray(member_ids)
        when = np.asarray(times, dtype=np.float64)
        if labels is None:
            raw = np.asarray(items)
            if raw.dtype.kind in "iub":
                # Distinct values first (a numeric sort), then their texts in text order:
                # the same labels and codes as sorting every row's text, without the text.
                values, value_codes = np.unique(raw, return_inverse=True)
                texts = values.astype(str)
                order = np.argsort(texts, kind="stable")
                labels, rank = texts[order], np.empty(len(order), dtype=np.int64)
                rank[order] = np.arange(len(order))
                item_codes = rank[value_codes.ravel()]
            else:
                labels, item_codes = np.unique(raw.astype(str), return_inverse=True)
        else:
            given = np.asarray(labels).astype(str)
            labels, remap = np.unique(given, return_inverse=True)
            item_codes = remap[np.asarray(items, dtype=np.int64)]
        members, member_codes = dense_codes(member)
        member_codes = member_codes.ravel()
        item_codes = np.asarray(item_codes, dtype=np.int64).ravel()
        days, day_codes = dense_codes(when)
        day_codes = day_codes.ravel()
        n_days, n_labels = max(len(days), 1), max(len(labels), 1)
        if len(members) * n_days * n_labels < 2**62:
            # One key per row, (member, time, item) in that order; sorted and made distinct.
            key = (member_codes.astype(np.int64) * n_days + day_codes) * n_labels + item_codes
            key.sort()
            key = key[np.r_[True, key[1:] != key[:-1]]]
            i = key % n_labels
            key //= n_labels
            m, t = key // n_days, days[key % n_days]
        else:
            order = np.lexsort((item_codes, when, member_codes))
            m, t, i = member_codes[order], when[order], item_codes[order]
            keep = np.r_[True, (m[1:] != m[:-1]) | (t[1:] != t[:-1]) | (i[1:] != i[:-1])]
            m, t, i = m[keep], t[keep], i[keep]
        new_basket = np.r_[True, (m[1:] != m[:-1]) | (t[1:] != t[:-1])]
        starts = np.flatnonzero(new_basket)
        basket_offsets = np.r_[starts, len(i)].astype(np.int64)
        basket_member = m[starts]
        member_offsets = np.zeros(len(members) + 1, dtype=np.int64)
        np.cumsum(np.bincount(basket_member, minlength=len(members)), out=member_offsets[1:])
        return cls(
            members=members,
            member_offsets=member_offsets,
            basket_offsets=basket_offsets,
            items=i,
            times=t[starts],
            labels=labels,
        )

    def basket_members(self) -> IntArray:
        return np.repeat(np.arange(self.member_count, dtype=np.int64), np.diff(self.member_offsets))

    def line_baskets(self) -> IntArray:
        return np.repeat(np.arange(len(self.times), dtype=np.int64), np.diff(self.basket_offsets))


@dataclass(frozen=True, eq=False)
class Recommendations:
    """``top_n`` rows per member (fewer when fewer items score): member index, rank from 1,
    item code, score, source code (index into SOURCES) and due time (NaN unless repeat);
    the whole numbers as int32."""

    member: Int32Array
    rank: Int32Array
    item: Int32Array
    score: FloatArray
    source: Int32Array
    due: FloatArray

    def lists(self, histories: Histories) -> dict[Any, list[Any]]:
        """{member: [item label, …]} best first."""
        out: dict[Any, list[Any]] = {m: [] for m in histories.members}
        for m, i in zip(self.member.tolist(), self.item.tolist(), strict=True):
            out[histories.members[m]].append(histories.labels[i])
        return out


def _member_item_stats(
    h: Histories, shelf_life: FloatArray | None
) -> tuple[FloatArray, FloatArray, IntArray, IntArray, FloatArray, IntArray]:
    """(last purchase time, usual interval, member, item, baskets holding it, the first such
    basket) for every (member, item) bought, ordered by member then item."""
    basket_member = h.basket_members()
    line_basket = h.line_baskets()
    member = basket_member[line_basket]
    time = h.times[line_basket]
    item = h.items
    # Lines come by member, then basket: a stable sort on (member, item) keeps each
    # pair's purchases in time order.
    order = np.argsort(member * max(h.item_count, 1) + item, kind="stable")
    del member
    member, item, time = basket_member[line_basket[order]], item[order], time[order]
    basket = line_basket[order]
    same = np.r_[False, (member[1:] == member[:-1]) & (item[1:] == item[:-1])]
    gaps = np.where(same, np.diff(time, prepend=time[0]), np.nan)
    pair_start = np.flatnonzero(~same)
    pair_end = np.r_[pair_start[1:], len(member)]
    rows, cols = member[pair_start], item[pair_start]
    last = time[pair_end - 1]
    # Own median gap per (member, item): nan-median over each run of repeats.
    counts = pair_end - pair_start
    own = np.full(len(pair_start), np.nan)
    repeated = np.flatnonzero(counts >= 2)
    if len(repeated):
        own[repeated] = _segment_median(gaps, pair_start[repeated] + 1, pair_end[repeated])
    # The item's median gap over all members' repeat gaps.
    item_gap = np.full(h.item_count, np.nan)
    valid = ~np.isnan(gaps)
    if valid.any():
        gi, gv = item[valid], gaps[valid]
        o = np.lexsort((gv, gi))
        gi, gv = gi[o], gv[o]
        starts = np.flatnonzero(np.r_[True, gi[1:] != gi[:-1]])
        ends = np.r_[starts[1:], len(gi)]
        # Sorted segments: the median is the middle value (or the mean of the two).
        low, high = gv[starts + (ends - starts - 1) // 2], gv[starts + (ends - starts) // 2]
        item_gap[gi[starts]] = np.where(low == high, low, (low + high) / 2)
    interval = np.where(np.isnan(own), item_gap[cols], own)
    if shelf_life is not None:
        capped = np.where(np.isnan(interval), shelf_life[cols], np.fmin(interval, shelf_life[cols]))
        interval = np.where(np.isnan(own), capped, interval)
    return last, interval, rows, cols, counts.astype(np.float64), basket[pair_start]


def _segment_median(values: FloatArray, starts: IntArray, ends: IntArray) -> FloatArray:
    """Median of each sorted-or-not segment values[starts[k]:ends[k]] (segments non-empty)."""
    out = np.empty(len(starts))
    lengths = ends - starts
    for length in np.unique(lengths):
        which = np.flatnonzero(lengths == length)
        block = values[starts[which][:, None] + np.arange(length)[None, :]]
        out[which] = np.median(block, axis=1)
    return out


def recommend(
    histories: Histories,
    params: RecommendParams | None = None,
    *,
    now: FloatArray | float | None = None,
    shelf_life: FloatArray | None = None,
    exclude_not_due: bool = False,
    exact_neighbours: int = EXACT_NEIGHBOURS,
) -> Recommendations:
    """Each member's ``top_n`` items for their next basket (module doc).

    ``now`` is the time the next basket is expected (per member or one value; default: one
    unit after each member's last basket). ``shelf_life`` (per item code, NaN unknown) caps
    the interval of items without an own rhythm. With ``exclude_not_due``, a repeat item
    bought in the member's last basket that is not due yet is left out altogether.
    Above ``exact_neighbours`` members the similar members come through the items (module
    doc).
    """
    p = params or RecommendParams()
    context, repeat = _context(histories, p, now, shelf_life, exclude_not_due)
    n_members = histories.member_count
    use_neighbours = p.neighbour_weight > 0 and n_members > 1
    blocks: Iterator[tuple[IntArray, sparse.csr_matrix | None]]
    if not use_neighbours:
        blocks = (
            (np.arange(start, min(start + _MEMBER_CHUNK, n_members)), None)
            for start in range(0, n_members, _MEMBER_CHUNK)
        )
    elif n_members <= exact_neighbours:
        blocks = _exact_similar(repeat, p.neighbours, p.neighbour_weight)
    else:
        blocks = _item_similar(repeat, p.neighbour_weight, _MEMBER_CHUNK)
    out = _in_threads(blocks, lambda members, similar: _score_block(members, similar, context, p))
    columns = (
        [np.concatenate([o[j] for o in out]) for j in range(6)]
        if out
        else [np.zeros(0) for _ in range(6)]
    )
    return Recommendations(
        member=columns[0].astype(np.int32, copy=False),
        rank=columns[1].astype(np.int32, copy=False),
        item=columns[2].astype(np.int32, copy=False),
        score=columns[3].astype(np.float64, copy=False),
        source=columns[4].astype(np.int32, copy=False),
        due=columns[5].astype(np.float64, copy=False),
    )


def _context(
    h: Histories,
    p: RecommendParams,
    now: FloatArray | float | None,
    shelf_life: FloatArray | None,
    exclude_not_due: bool,
) -> tuple[_Context, sparse.csr_matrix]:
    """What every block's scoring reads (``_Context``) and the members' repeat vectors."""
    n_members, n_items = h.member_count, h.item_count
    last_basket = h.member_offsets[1:] - 1
    last_time = h.times[last_basket]
    if now is None:
        now_per_member = last_time + 1.0
    else:
        now_per_member = np.broadcast_to(np.asarray(now, dtype=np.float64), (n_members,)).copy()

    repeat = _repeat_vectors(h, p.decay)
    bought_at, interval, rows, cols, counts, first_at = _member_item_stats(h, shelf_life)
    # The item's repeat propensity: of the baskets members made after first buying it, the
    # share that held it again (smoothed); the member's own rate is shrunk towards it.
    baskets_of = np.diff(h.member_offsets).astype(np.float64)
    later = (h.member_offsets[rows + 1] - 1 - first_at).astype(np.float64)
    propensity = (np.bincount(cols, weights=counts - 1, minlength=n_items) + 0.1) / (
        np.bincount(cols, weights=later, minlength=n_items) + 2.0
    )
    own_rate = (counts + p.repeat_prior * propensity[cols]) / (baskets_of[rows] + p.repeat_prior)
    del later, counts, first_at
    elapsed = now_per_member[rows] - bought_at
    with np.errstate(divide="ignore", invalid="ignore"):
        due = np.where(interval > 0, elapsed / interval, 1.0)
    due = np.where(np.isnan(due), 1.0, due)
    timed_score = own_rate * np.minimum(due, 1.0) ** p.due_power
    due_time = bought_at + np.where(np.isnan(interval), np.nan, interval)
    if exclude_not_due:
        # Left out: bought in the member's last basket and not due yet.
        timed_score[(bought_at == last_time[rows]) & (due < 1.0)] = 0.0
    del elapsed, due, own_rate, interval, bought_at
    # Member m's bought items are entries bought_ptr[m]:bought_ptr[m + 1] (rows and cols
    # come ordered by member, then item), the same pattern as ``repeat``.
    bought_ptr = np.zeros(n_members + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_members), out=bought_ptr[1:])
    bought = sparse.csr_matrix(
        (np.arange(1, len(cols) + 1, dtype=np.float64), cols, bought_ptr),
        shape=(n_members, n_items),
    )
    del rows, cols

    rules = _rule_matrix(h, p.rule_min_count) if p.rule_weight > 0 else None
    last_lines = _last_lines(h)
    sizes = h.basket_offsets[last_basket + 1] - h.basket_offsets[last_basket]
    last_matrix = (
        sparse.csr_matrix(
            (
                1.0 / np.repeat(np.maximum(sizes, 1), sizes),
                (np.repeat(np.arange(n_members), sizes), h.items[last_lines]),
            ),
            shape=(n_members, n_items),
        )
        if rules is not None
        else None
    )
    recent = np.bincount(h.items[last_lines], minlength=n_items).astype(np.float64)
    overall = np.bincount(h.items, minlength=n_items).astype(np.float64)
    del last_lines
    popular = p.recent_popular_weight * recent / max(recent.max(initial=0), 1.0)
    popular += p.popular_weight * overall / max(overall.max(initial=0), 1.0)
    keep_top = np.argsort(-popular, kind="stable")[: p.popular]
    popular[np.setdiff1d(np.arange(n_items), keep_top)] = 0.0
    ranked_popular = keep_top[popular[keep_top] > 0]
    in_popular = np.zeros(n_items, dtype=bool)
    in_popular[ranked_popular] = True

    context = _Context(
        bought=bought,
        timed_score=timed_score,
        due_time=due_time,
        popular=popular,
        ranked_popular=ranked_popular,
        in_popular=in_popular,
        last_matrix=last_matrix,
        rules=rules,
    )
    return context, repeat


def _in_threads(
    blocks: Iterator[tuple[IntArray, sparse.csr_matrix | None]],
    work: Callable[[IntArray, sparse.csr_matrix | None], _T],
) -> list[_T]:
    """``work`` on each block, ``_THREADS`` blocks at a time (NumPy's and scipy's kernels
    release the GIL), the results in the blocks' order; no more blocks are drawn than are
    being worked on, so memory stays that of ``_THREADS`` blocks."""
    if _THREADS <= 1:
        return [work(members, similar) for members, similar in blocks]
    out: list[_T] = []
    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        pending: deque[Future[_T]] = deque()
        for members, similar in blocks:
            if len(pending) >= _THREADS:
                out.append(pending.popleft().result())
            pending.append(pool.submit(work, members, similar))
        out.extend(future.result() for future in pending)
    return out


@dataclass(frozen=True, eq=False)
class _Context:
    """What scoring a block of members reads: the bought pattern (members × items, each
    entry holding 1 + its index into ``timed_score`` and ``due_time``), the popular signal
    (``ranked_popular`` best first), the rules."""

    bought: sparse.csr_matrix
    timed_score: FloatArray
    due_time: FloatArray
    popular: FloatArray
    ranked_popular: IntArray
    in_popular: npt.NDArray[np.bool_]
    last_matrix: sparse.csr_matrix | None
    rules: sparse.csr_matrix | None


def _score_block(
    members: IntArray,
    similar: sparse.csr_matrix | None,
    c: _Context,
    p: RecommendParams,
) -> tuple[npt.NDArray[Any], ...]:
    """A block of members' top ``top_n`` rows (``Recommendations``' columns), scoring only
    candidates, never a members × items array.

    An item the member has bought scores their own timed rate alone: the member's best
    ``top_n`` of those. Any other scores the sum of the similar, rule and popular signals:
    the candidates are the similar members' and the rules' items plus, for the popular
    signal alone, the ``top_n`` + (bought popular items) most popular items, enough for
    ``top_n`` not bought; bought items are taken out and the best ``top_n`` kept. The two
    short lists are then merged per member, an own item first on a tie."""
    size = len(members)
    n_items = c.bought.shape[1]
    k = min(p.top_n, n_items)
    # Entry ids (1-based) into the (member, item) arrays: score and due time of each.
    if size and members[-1] - members[0] == size - 1:
        bought = c.bought[int(members[0]) : int(members[0]) + size]
    else:
        bought = c.bought[members]
    entry = bought.data.astype(np.int64) - 1
    own_len = np.diff(bought.indptr)
    bought_rows = np.repeat(np.arange(size, dtype=np.int64), own_len)
    # (member, item) keys of the bought items, ascending (items come sorted in each row).
    bought_keys = bought_rows * n_items + bought.indices
    # A floor under each member's k-th best: the popular candidates not bought are at least
    # k when all ``wanted`` could be had, each scoring at least the popular signal of the
    # last of them. Whatever scores below it cannot be in the top and is left out before
    # the top is picked (order kept, so ties fall as before).
    floor = np.zeros(size)
    if len(c.ranked_popular):
        in_pop = np.bincount(
            bought_rows, weights=c.in_popular[bought.indices], minlength=size
        ).astype(np.int64)
        wanted = np.minimum(k + in_pop, len(c.ranked_popular))
        full = wanted == k + in_pop
        floor[full] = c.popular[c.ranked_popular[wanted[full] - 1]]
    # New items: similar + rules, the popular signal added to each, then the popular
    # candidates merged in (an item already there keeps its sum, never less than the
    # popular signal alone); bought items are taken out.
    rule = None
    if c.rules is not None and c.last_matrix is not None:
        rule = sparse.csr_matrix(c.last_matrix[members] @ c.rules) * p.rule_weight
    signal_keys, signal_values = _signal_candidates(similar, rule, c.popular, floor)
    extra_keys = (
        _popular_keys(c.ranked_popular, wanted, n_items, signal_keys)
        if len(c.ranked_popular)
        else np.zeros(0, dtype=np.int64)
    )
    extra_values = c.popular[extra_keys % n_items]
    # Merged in (member, item) order, the bought items taken out.
    merged = np.concatenate([signal_keys, extra_keys])
    order = np.argsort(merged, kind="stable")
    new_keys = merged[order]
    new_values = np.concatenate([signal_values, extra_values])[order]
    del merged, order
    outside = ~_contains(bought_keys, new_keys)
    new_keys, new_values = new_keys[outside], new_values[outside]
    new_rows = new_keys // n_items
    # One row per member: their own items (timed rate) first, then the new candidates, so
    # that an own item comes first on a tie, as when the own rate replaced the signals.
    own_values = c.timed_score[entry] if len(entry) else np.zeros(0)
    own_at = np.flatnonzero(own_values >= floor[bought_rows])
    own_rows = bought_rows[own_at]
    own_count = np.bincount(own_rows, minlength=size)
    new_count = np.bincount(new_rows, minlength=size)
    starts = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(own_count + new_count, out=starts[1:])
    own_dest = starts[own_rows] + (
        np.arange(len(own_rows)) - (np.cumsum(own_count) - own_count)[own_rows]
    )
    new_dest = (
        starts[new_rows]
        + own_count[new_rows]
        + (np.arange(len(new_rows)) - (np.cumsum(new_count) - new_count)[new_rows])
    )
    total = int(starts[-1])
    values = np.empty(total)
    values[own_dest] = own_values[own_at]
    values[new_dest] = new_values
    columns = np.empty(total, dtype=np.int32)
    columns[own_dest] = bought.indices[own_at]
    columns[new_dest] = new_keys % n_items
    # Each candidate's entry id, -1 for a new item.
    entries = np.full(total, -1, dtype=np.int64)
    entries[own_dest] = entry[own_at]
    combined = sparse.csr_matrix((values, columns, starts), shape=(size, n_items))
    positions, best = _row_top(combined, k)
    scores = best.ravel()
    positions = positions.ravel()
    local = np.repeat(np.arange(size), k)
    rank = np.tile(np.arange(1, k + 1, dtype=np.int32), size)
    keep = np.flatnonzero(scores > 0)
    if len(keep) < len(scores):
        scores, positions = scores[keep], positions[keep]
        local, rank = local[keep], rank[keep]
    items = columns[positions]
    ids = entries[positions]
    is_own = ids >= 0
    # The source: repeat for a bought item, else the largest of similar, rule and popular
    # (ties to the earlier, as SOURCES lists them); the similar part is what the others
    # leave of the score.
    pop = c.popular[items]
    rule_part = _lookup(rule, local, items) if rule is not None else np.zeros(len(items))
    sim_part = scores - pop - rule_part if similar is not None else np.zeros(len(items))
    source = np.where(
        (sim_part >= rule_part) & (sim_part >= pop), 1, np.where(rule_part >= pop, 2, 3)
    )
    source[is_own] = 0
    due = np.full(len(ids), np.nan)
    due[is_own] = c.due_time[ids[is_own]]
    return (
        members[local].astype(np.int32),
        rank.astype(np.int32, copy=False),
        items.astype(np.int32),
        scores,
        source.astype(np.int32, copy=False),
        due,
    )


def _signal_candidates(
    similar: sparse.csr_matrix | None,
    rule: sparse.csr_matrix | None,
    popular: FloatArray,
    floor: FloatArray,
) -> tuple[IntArray, FloatArray]:
    """The similar and rule signals' candidates, the popular signal added: ((member, item)
    keys ascending, scores), only those at or above their member's floor."""
    parts = [m for m in (similar, rule) if m is not None]
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    signal = parts[0] if len(parts) == 1 else sparse.csr_matrix(parts[0] + parts[1])
    n_items = signal.shape[1]
    # A product's entries are distinct but not in item order: the few above the floor are
    # put in order.
    rows = _rows_of(signal)
    values = signal.data + popular[signal.indices]
    at = np.flatnonzero((values >= floor[rows]) & (values != 0))
    keys = rows[at] * n_items + signal.indices[at]
    order = np.argsort(keys)
    return keys[order], values[at[order]]


def _popular_keys(
    ranked_popular: IntArray, wanted: IntArray, n_items: int, signal_keys: IntArray
) -> IntArray:
    """(member, item) keys, ascending, of each member's ``wanted`` most popular items, less
    those the signals already hold (``signal_keys``, ascending)."""
    position = np.arange(int(wanted.sum())) - np.repeat(np.cumsum(wanted) - wanted, wanted)
    keys = np.repeat(np.arange(len(wanted), dtype=np.int64) * n_items, wanted)
    keys += ranked_popular[position]
    keys.sort()
    return keys[~_contains(signal_keys, keys)]


def _contains(sorted_keys: IntArray, keys: IntArray) -> npt.NDArray[np.bool_]:
    """Whether each of ``keys`` is in ``sorted_keys`` (ascending)."""
    if not len(sorted_keys):
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[at] == keys


def _lookup(
    matrix: sparse.csr_matrix, rows: npt.NDArray[Any], cols: npt.NDArray[Any]
) -> FloatArray:
    """matrix[rows[i], cols[i]] for each i (0 where not stored); ``matrix`` canonical."""
    matrix.sum_duplicates()
    width = matrix.shape[1]
    keys = _rows_of(matrix) * width + matrix.indices
    asked = rows * width + cols
    pos = np.minimum(np.searchsorted(keys, asked), max(len(keys) - 1, 0))
    hit = keys[pos] == asked if len(keys) else np.zeros(len(asked), dtype=bool)
    return np.where(hit, matrix.data[pos] if len(keys) else 0.0, 0.0)


def _last_lines(h: Histories) -> IntArray:
    last_basket = h.member_offsets[1:] - 1
    sizes = h.basket_offsets[last_basket + 1] - h.basket_offsets[last_basket]
    starts = np.repeat(h.basket_offsets[last_basket], sizes)
    offsets = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return (starts + offsets).astype(np.int64)
