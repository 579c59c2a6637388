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

Similar members: exact cosine neighbours, in chunks of members, up to ``EXACT_NEIGHBOURS``
members; beyond that each member's neighbours are searched among the members of the same
k-means cluster of a truncated-SVD embedding (``EMBEDDING_DIMENSIONS`` dimensions, about
``CLUSTER_MEMBERS`` members a cluster), which keeps a million members to minutes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
SOURCES = ("repeat", "similar", "rule", "popular")
EXACT_NEIGHBOURS = 60_000
EMBEDDING_DIMENSIONS = 48
CLUSTER_MEMBERS = 3_000
_CHUNK = 2_000
# Members × items cells scored densely at a time (float64: 8 bytes each, ×5 arrays).
_DENSE_CELLS = 4_000_000


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
            labels, item_codes = np.unique(np.asarray(items).astype(str), return_inverse=True)
        else:
            given = np.asarray(labels).astype(str)
            labels, remap = np.unique(given, return_inverse=True)
            item_codes = remap[np.asarray(items, dtype=np.int64)]
        members, member_codes = np.unique(member, return_inverse=True)
        order = np.lexsort((item_codes, when, member_codes))
        m, t, i = member_codes[order], when[order], item_codes[order].astype(np.int64)
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
        return np.repeat(
            np.arange(self.member_count, dtype=np.int64), np.diff(self.member_offsets)
        ).astype(np.int64)

    def line_baskets(self) -> IntArray:
        return np.repeat(
            np.arange(len(self.times), dtype=np.int64), np.diff(self.basket_offsets)
        ).astype(np.int64)


@dataclass(frozen=True, eq=False)
class Recommendations:
    """``top_n`` rows per member (fewer when fewer items score): member index, rank from 1,
    item code, score, source code (index into SOURCES) and due time (NaN unless repeat)."""

    member: IntArray
    rank: IntArray
    item: IntArray
    score: FloatArray
    source: IntArray
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
    order = np.lexsort((line_basket, item, member))
    member, item, time = member[order], item[order], time[order]
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
        item_gap[gi[starts]] = _segment_median(gv, starts, ends)
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


def _repeat_vectors(h: Histories, decay: float) -> sparse.csr_matrix:
    """Members × items: Σ over the member's baskets holding the item of decay^(baskets after
    it), divided by the same sum over all their baskets."""
    basket_member = h.basket_members()
    position_from_end = (
        h.member_offsets[basket_member + 1] - 1 - np.arange(len(h.times), dtype=np.int64)
    )
    weight = decay**position_from_end
    total = np.bincount(basket_member, weights=weight, minlength=h.member_count)
    line_basket = h.line_baskets()
    values = weight[line_basket] / total[basket_member[line_basket]]
    matrix = sparse.csr_matrix(
        (values, (basket_member[line_basket], h.items)), shape=(h.member_count, h.item_count)
    )
    matrix.sum_duplicates()
    return matrix


def _normalised(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms) @ matrix)


def _neighbour_blocks(
    vectors: sparse.csr_matrix, k: int, block_rows: int, seed: int = 0
) -> Iterator[tuple[IntArray, sparse.csr_matrix]]:
    """(members, weights) a block of members at a time: ``weights`` has a row per member of
    the block and a column per member, holding the member's k most similar others (cosine),
    normalised to sum 1. Only one block's similarities are in memory at once."""
    n = vectors.shape[0]
    unit = _normalised(vectors)
    groups = [np.arange(n)] if n <= EXACT_NEIGHBOURS else _clusters(unit, seed)
    for members in groups:
        block = unit[members]
        block_t = sparse.csr_matrix(block.T)
        kk = min(k, len(members) - 1)
        for start in range(0, len(members), block_rows):
            chunk = np.arange(start, min(start + block_rows, len(members)))
            if kk < 1:
                yield members[chunk], sparse.csr_matrix((len(chunk), n))
                continue
            sims = (block[chunk] @ block_t).toarray()
            sims[np.arange(len(chunk)), chunk] = -1.0
            best = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
            weights = np.maximum(np.take_along_axis(sims, best, axis=1), 0.0)
            sums = weights.sum(axis=1, keepdims=True)
            weights = weights / np.where(sums > 0, sums, 1.0)
            matrix = sparse.csr_matrix(
                (weights.ravel(), (np.repeat(np.arange(len(chunk)), kk), members[best].ravel())),
                shape=(len(chunk), n),
            )
            yield members[chunk], matrix


def _clusters(unit: sparse.csr_matrix, seed: int) -> list[IntArray]:
    """Members grouped by k-means on a truncated-SVD embedding (module doc)."""
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.decomposition import TruncatedSVD

    n = unit.shape[0]
    dims = min(EMBEDDING_DIMENSIONS, unit.shape[1] - 1)
    embedded = TruncatedSVD(n_components=dims, random_state=seed).fit_transform(unit)
    norms = np.linalg.norm(embedded, axis=1, keepdims=True)
    embedded = embedded / np.where(norms > 0, norms, 1.0)
    k = max(2, n // CLUSTER_MEMBERS)
    labels = MiniBatchKMeans(
        n_clusters=k, random_state=seed, batch_size=8192, n_init=1, max_iter=50
    ).fit_predict(embedded)
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.r_[True, labels[order][1:] != labels[order][:-1], True])
    return [order[bounds[g] : bounds[g + 1]] for g in range(len(bounds) - 1)]


def _rule_matrix(h: Histories, min_count: int) -> sparse.csr_matrix:
    """Items × items: the confidence of {i} ⇒ {j} over all baskets, pairs in at least
    ``min_count`` baskets (basket/mining.py's pair rules, counted as a sparse product)."""
    line_basket = h.line_baskets()
    incidence = sparse.csr_matrix(
        (np.ones(len(h.items), dtype=np.float32), (line_basket, h.items)),
        shape=(len(h.times), h.item_count),
    )
    item_counts = np.asarray(incidence.sum(axis=0)).ravel()
    frequent = np.flatnonzero(item_counts >= min_count)
    sub = incidence[:, frequent]
    pairs = sparse.csr_matrix(sub.T @ sub)
    pairs.setdiag(0)
    pairs.data[pairs.data < min_count] = 0
    pairs.eliminate_zeros()
    conf = sparse.diags(1.0 / np.maximum(item_counts[frequent], 1)) @ pairs
    coo = sparse.coo_matrix(conf)
    return sparse.csr_matrix(
        (coo.data, (frequent[coo.row], frequent[coo.col])), shape=(h.item_count, h.item_count)
    )


def recommend(
    histories: Histories,
    params: RecommendParams | None = None,
    *,
    now: FloatArray | float | None = None,
    shelf_life: FloatArray | None = None,
    exclude_not_due: bool = False,
) -> Recommendations:
    """Each member's ``top_n`` items for their next basket (module doc).

    ``now`` is the time the next basket is expected (per member or one value; default: one
    unit after each member's last basket). ``shelf_life`` (per item code, NaN unknown) caps
    the interval of items without an own rhythm. With ``exclude_not_due``, a repeat item
    bought in the member's last basket that is not due yet is left out altogether.
    """
    p = params or RecommendParams()
    h = histories
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
    elapsed = now_per_member[rows] - bought_at
    with np.errstate(divide="ignore", invalid="ignore"):
        due = np.where(interval > 0, elapsed / interval, 1.0)
    due = np.where(np.isnan(due), 1.0, due)
    factor = np.minimum(due, 1.0) ** p.due_power
    due_time = bought_at + np.where(np.isnan(interval), np.nan, interval)
    repeat_timed = sparse.csr_matrix((own_rate * factor, (rows, cols)), shape=(n_members, n_items))
    if exclude_not_due:
        just = (bought_at == last_time[rows]) & (due < 1.0)
        drop = sparse.csr_matrix(
            (np.ones(int(just.sum())), (rows[just], cols[just])), shape=(n_members, n_items)
        )
        repeat_timed = sparse.csr_matrix(repeat_timed - repeat_timed.multiply(drop))
        repeat_timed.eliminate_zeros()

    rules = (
        _rule_matrix(h, p.rule_min_count)
        if p.rule_weight > 0
        else sparse.csr_matrix((n_items, n_items))
    )
    sizes = h.basket_offsets[last_basket + 1] - h.basket_offsets[last_basket]
    last_matrix = sparse.csr_matrix(
        (
            1.0 / np.repeat(np.maximum(sizes, 1), sizes),
            (np.repeat(np.arange(n_members), sizes), h.items[_last_lines(h)]),
        ),
        shape=(n_members, n_items),
    )
    recent = np.bincount(h.items[_last_lines(h)], minlength=n_items).astype(np.float64)
    overall = np.bincount(h.items, minlength=n_items).astype(np.float64)
    popular = p.recent_popular_weight * recent / max(recent.max(initial=0), 1.0)
    popular += p.popular_weight * overall / max(overall.max(initial=0), 1.0)
    keep_top = np.argsort(-popular, kind="stable")[: p.popular]
    popular[np.setdiff1d(np.arange(n_items), keep_top)] = 0.0
    bought_key = rows * n_items + cols  # ascending: rows and cols come member, then item
    out: list[tuple[IntArray, ...]] = []
    block_rows = max(1, min(_CHUNK, _DENSE_CELLS // max(n_items, 1)))
    use_neighbours = p.neighbour_weight > 0 and n_members > 1
    blocks: Iterator[tuple[IntArray, sparse.csr_matrix | None]] = (
        _neighbour_blocks(repeat, p.neighbours, block_rows)
        if use_neighbours
        else (
            (np.arange(start, min(start + block_rows, n_members)), None)
            for start in range(0, n_members, block_rows)
        )
    )
    own_sources = (repeat, repeat_timed)
    for block_members, weights in blocks:
        out.append(
            _score_block(
                block_members,
                weights,
                own_sources,
                (last_matrix, rules, popular),
                (bought_key, due_time),
                p,
            )
        )
    columns = (
        [np.concatenate([o[j] for o in out]) for j in range(6)]
        if out
        else [np.zeros(0) for _ in range(6)]
    )
    return Recommendations(
        member=columns[0].astype(np.int64),
        rank=columns[1].astype(np.int64),
        item=columns[2].astype(np.int64),
        score=columns[3].astype(np.float64),
        source=columns[4].astype(np.int64),
        due=columns[5].astype(np.float64),
    )


def _score_block(
    block_members: IntArray,
    weights: sparse.csr_matrix | None,
    own_sources: tuple[sparse.csr_matrix, sparse.csr_matrix],
    others: tuple[sparse.csr_matrix, sparse.csr_matrix, FloatArray],
    bought: tuple[IntArray, FloatArray],
    p: RecommendParams,
) -> tuple[IntArray, ...]:
    """A block of members' top ``top_n`` rows (``Recommendations``' columns).

    An item the member has bought scores their own timed rate alone; any other the sum of
    the similar, rule and popular signals (module doc). One dense members × items array is
    built (the similar members' signal, the others added in place), the bought items then
    set to their own rate; which signal gave the most is read only at the items kept."""
    repeat, repeat_timed = own_sources
    last_matrix, rules, popular = others
    bought_key, due_time = bought
    size, n_items = len(block_members), repeat.shape[1]
    if weights is not None:
        similar = (weights @ repeat).toarray()
        similar *= p.neighbour_weight
    else:
        similar = np.zeros((size, n_items))
    total = similar + popular[None, :]
    rule = (last_matrix[block_members] @ rules).toarray() if p.rule_weight > 0 else None
    if rule is not None:
        rule *= p.rule_weight
        total += rule
    own_rows = repeat[block_members]
    rows_of = np.repeat(np.arange(size), np.diff(own_rows.indptr))
    total[rows_of, own_rows.indices] = 0.0
    timed = repeat_timed[block_members]
    total[np.repeat(np.arange(size), np.diff(timed.indptr)), timed.indices] = timed.data
    k = min(p.top_n, n_items)
    best = (
        np.argpartition(-total, k - 1, axis=1)[:, :k]
        if k < n_items
        else np.broadcast_to(np.arange(n_items), (size, n_items)).copy()
    )
    scores = np.take_along_axis(total, best, axis=1)
    order = np.argsort(-scores, axis=1, kind="stable")
    best = np.take_along_axis(best, order, axis=1)
    scores = np.take_along_axis(scores, order, axis=1).ravel()
    local = np.repeat(np.arange(size), k)
    members = block_members[local]
    items = best.ravel()
    keep = scores > 0
    asked = members * n_items + items
    pos = np.minimum(np.searchsorted(bought_key, asked), max(len(bought_key) - 1, 0))
    found = bought_key[pos] == asked if len(bought_key) else np.zeros(len(asked), bool)
    # The source: repeat for a bought item, else the largest of similar, rule and popular
    # (ties to the earlier, as SOURCES lists them).
    chosen = np.stack(
        [
            similar[local, items],
            rule[local, items] if rule is not None else np.zeros(len(items)),
            popular[items],
        ]
    )
    source = np.where(found, 0, 1 + np.argmax(chosen, axis=0))
    due = np.where(found, due_time[pos] if len(bought_key) else np.nan, np.nan)
    return (
        members[keep],
        np.tile(np.arange(1, k + 1), size)[keep],
        items[keep],
        scores[keep],
        source[keep],
        np.where(source[keep] == 0, due[keep], np.nan),
    )


def _last_lines(h: Histories) -> IntArray:
    last_basket = h.member_offsets[1:] - 1
    sizes = h.basket_offsets[last_basket + 1] - h.basket_offsets[last_basket]
    starts = np.repeat(h.basket_offsets[last_basket], sizes)
    offsets = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return (starts + offsets).astype(np.int64)
