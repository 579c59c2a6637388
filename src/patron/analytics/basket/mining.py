"""Frequent itemsets and association rules over baskets, vectorised with numpy.

Definitions (the same as the R package arules' ``apriori``, so its rules can be reproduced):

- a basket is a set of items (an order's distinct SKUs, or categories); ``n`` baskets;
- the count of an itemset is the number of baskets containing all of its items; its support
  is count / n. An itemset is frequent when its count is at least
  ``ceil(n × min_support)``;
- a rule X ⇒ {y} has a single-item consequent, ``|X| + 1`` items, and is made from a
  frequent itemset Z = X ∪ {y}: support = count(Z) / n, confidence = count(Z) / count(X)
  (X = ∅ gives count(X) = n), lift = confidence / support({y}), leverage = support(Z) −
  support(X) × support({y}), conviction = (1 − support({y})) / (1 − confidence) (infinite
  at confidence 1, kept as ``inf``);
- rules have ``min_items`` to ``max_items`` items (arules' minlen / maxlen, 1 and 10 by
  default; with 1, X may be empty).

Thresholds. arules lowers both thresholds by one unit in the last place before it counts
(``nextafter(threshold, 0)``), so a support or confidence the data puts exactly on a
threshold given as a decimal passes despite the decimal's binary rounding: 12 of 15 baskets
is a confidence of exactly 0.8, which the double 0.8 (0.80000000000000004…) would otherwise
reject. The rule that decides here, the same as arules': the minimum count is
``ceil(n × nextafter(min_support, 0))`` and a rule is kept when
``count(Z) / count(X) >= nextafter(min_confidence, 0) − 1e-12`` in double precision — on
Groceries, 39 of the 410 rules at confidence 0.8 sit exactly on the threshold.

Mining: Eclat over bitsets. The itemsets starting with item a (its class) are counted on
the baskets holding a only: there each other item's baskets are a bit vector (packed in
uint64 words), an itemset's baskets the AND of its items' vectors and its count a popcount.
Itemsets are grown level by level within a class, and each level joins every pair of
itemsets that share all but their last item in one vectorised AND, so Python loops run once
per (first item, level), not per itemset. Memory holds one class's bit vectors at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from patron.analytics.codes import dense_codes

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
# Confidence tolerance arules applies below the (one-ulp-lowered) threshold.
_CONFIDENCE_EPSILON = 1e-12
# Candidate itemsets whose bit vectors are ANDed at once (bounds the scratch memory).
_CHUNK_WORDS = 4_000_000


class MiningError(ValueError):
    """A mining parameter is out of range; ``field`` names it."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        super().__init__(f"{field}: {reason} (got {value!r})")
        self.field = field
        self.value = value
        self.reason = reason


@dataclass(frozen=True, eq=False)
class Baskets:
    """Baskets as item codes: basket ``b`` holds ``items[offsets[b]:offsets[b + 1]]`` (distinct
    codes), and code ``i`` names ``labels[i]``."""

    offsets: IntArray
    items: IntArray
    labels: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def from_lists(cls, baskets: Iterable[Iterable[Any]]) -> Baskets:
        """Baskets from any iterables of items (duplicates inside a basket count once; an
        empty basket still counts in ``n``, as in arules)."""
        lists = [list(basket) for basket in baskets]
        codes: dict[str, int] = {}
        flat = [codes.setdefault(str(item), len(codes)) for basket in lists for item in basket]
        sizes = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        return cls._from_codes(
            np.repeat(np.arange(len(lists), dtype=np.int64), sizes),
            np.asarray(flat, dtype=np.int64),
            len(lists),
            tuple(codes),
        )

    @classmethod
    def _from_codes(
        cls, basket_codes: IntArray, item_codes: IntArray, n_baskets: int, labels: tuple[str, ...]
    ) -> Baskets:
        """Baskets from coded (basket, item) pairs; repeated pairs count once."""
        width = max(len(labels), 1)
        # Sorted, then repeats dropped: a sort, where numpy 2's hash-based unique is slower.
        pairs = basket_codes * width + item_codes
        if len(pairs) > 1 and not (pairs[1:] >= pairs[:-1]).all():
            pairs = np.sort(pairs)
        pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]] if len(pairs) else pairs
        offsets = np.zeros(n_baskets + 1, dtype=np.int64)
        np.cumsum(np.bincount(pairs // width, minlength=n_baskets), out=offsets[1:])
        return cls(offsets=offsets, items=(pairs % width).astype(np.int64), labels=labels)

    @classmethod
    def from_pairs(cls, basket_ids: npt.ArrayLike, items: Sequence[Any] | npt.ArrayLike) -> Baskets:
        """Baskets from (basket id, item) pairs, e.g. order lines; repeats count once."""
        ids = np.asarray(basket_ids)
        values = np.asarray(items, dtype=object).astype(str)
        if len(ids) != len(values):
            raise MiningError("items", len(values), "must be as long as basket_ids")
        labels, item_codes = np.unique(values, return_inverse=True)
        return cls.from_codes(ids, item_codes, tuple(str(v) for v in labels))

    @classmethod
    def from_codes(
        cls, basket_ids: npt.ArrayLike, item_codes: npt.ArrayLike, labels: Sequence[str]
    ) -> Baskets:
        """Baskets from (basket id, item code) pairs, code ``i`` naming ``labels[i]`` (an
        Arrow dictionary's indices and values: no text per pair); repeats count once. The
        baskets are numbered in the order of their ids; the codes are kept as given."""
        ids = np.asarray(basket_ids)
        codes = np.asarray(item_codes, dtype=np.int64).ravel()
        if len(ids) != len(codes):
            raise MiningError("items", len(codes), "must be as long as basket_ids")
        distinct, basket_codes = dense_codes(ids)
        return cls._from_codes(basket_codes, codes, len(distinct), tuple(str(v) for v in labels))


@dataclass(frozen=True, eq=False)
class Itemsets:
    """Frequent itemsets by size: ``by_size[k]`` is a (m × k) array of item codes, rows in
    lexicographic order, with ``counts[k]`` beside it."""

    n: int
    min_count: int
    item_counts: IntArray
    by_size: dict[int, IntArray] = field(default_factory=dict)
    counts: dict[int, IntArray] = field(default_factory=dict)

    def total(self) -> int:
        return sum(len(c) for c in self.counts.values())


@dataclass(frozen=True, eq=False)
class Rules:
    """Rules X ⇒ {y}, one entry per rule in each array: ``antecedents`` as tuples of item
    codes (sorted), ``consequents`` as codes, and the measures (module doc)."""

    labels: tuple[str, ...]
    n: int
    antecedents: list[tuple[int, ...]]
    consequents: IntArray
    rule_counts: IntArray
    antecedent_counts: IntArray
    consequent_counts: IntArray
    support: FloatArray
    confidence: FloatArray
    lift: FloatArray
    leverage: FloatArray
    conviction: FloatArray

    def __len__(self) -> int:
        return len(self.consequents)

    def rows(self) -> list[dict[str, Any]]:
        """One plain dict per rule, items by label (antecedent sorted by label)."""
        out = []
        for i, lhs in enumerate(self.antecedents):
            out.append(
                {
                    "antecedent": sorted(self.labels[c] for c in lhs),
                    "consequent": self.labels[int(self.consequents[i])],
                    "items": len(lhs) + 1,
                    "rule_count": int(self.rule_counts[i]),
                    "antecedent_count": int(self.antecedent_counts[i]),
                    "consequent_count": int(self.consequent_counts[i]),
                    "support": float(self.support[i]),
                    "confidence": float(self.confidence[i]),
                    "lift": float(self.lift[i]),
                    "leverage": float(self.leverage[i]),
                    "conviction": float(self.conviction[i]),
                }
            )
        return out


def min_count(n: int, min_support: float) -> int:
    """The least basket count a frequent itemset needs (module doc: as arules)."""
    return max(1, math.ceil(n * float(np.nextafter(min_support, 0.0))))


def confidence_floor(min_confidence: float) -> float:
    """The lowest confidence that passes ``min_confidence`` (module doc: as arules)."""
    return float(np.nextafter(min_confidence, 0.0)) - _CONFIDENCE_EPSILON


def _check(min_support: float, min_confidence: float, min_items: int, max_items: int) -> None:
    if not 0 < min_support <= 1:
        raise MiningError("min_support", min_support, "must be in (0, 1]")
    if not 0 <= min_confidence <= 1:
        raise MiningError("min_confidence", min_confidence, "must be in [0, 1]")
    if min_items < 1:
        raise MiningError("min_items", min_items, "must be at least 1")
    if max_items < max(min_items, 1):
        raise MiningError("max_items", max_items, "must be at least min_items")


def _incidence(baskets: Baskets, keep: IntArray) -> Any:
    """Baskets × kept items as a sparse 0/1 matrix (CSR), columns in the order of ``keep``."""
    index = np.full(len(baskets.labels), -1, dtype=np.int64)
    index[keep] = np.arange(len(keep))
    column = index[baskets.items]
    basket_of = np.repeat(np.arange(baskets.count, dtype=np.int64), np.diff(baskets.offsets))
    wanted = column >= 0
    return sparse.csr_matrix(
        (np.ones(int(wanted.sum()), dtype=np.int32), (basket_of[wanted], column[wanted])),
        shape=(baskets.count, len(keep)),
    )


def _packed(columns: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint64]:
    """Bool columns (baskets × items) as one row of packed bits per item."""
    rows = columns.shape[0]
    words = max(1, (rows + 63) // 64)
    padded = np.zeros((words * 64, columns.shape[1]), dtype=np.bool_)
    padded[:rows] = columns
    packed = np.packbits(padded, axis=0, bitorder="little")  # (words × 8) × items
    return np.ascontiguousarray(packed.T).view(np.uint64)


def _popcount(rows: npt.NDArray[np.uint64]) -> IntArray:
    return np.bitwise_count(rows).sum(axis=1, dtype=np.int64)


def _pairs_within_classes(prefix_keys: IntArray) -> tuple[IntArray, IntArray]:
    """Index pairs (i, j), i < j, of rows sharing the same class key (keys sorted)."""
    m = len(prefix_keys)
    if m < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    starts = np.flatnonzero(np.r_[True, prefix_keys[1:] != prefix_keys[:-1]])
    sizes = np.diff(np.r_[starts, m])
    position = np.arange(m) - np.repeat(starts, sizes)
    partners = np.repeat(sizes, sizes) - 1 - position
    total = int(partners.sum())
    left = np.repeat(np.arange(m, dtype=np.int64), partners)
    first = np.cumsum(partners) - partners
    right = left + 1 + (np.arange(total, dtype=np.int64) - np.repeat(first, partners))
    return left, right


def frequent_itemsets(baskets: Baskets, *, min_support: float, max_items: int = 10) -> Itemsets:
    """Every itemset of at most ``max_items`` items with count ≥ ``min_count(n, min_support)``."""
    _check(min_support, 0.0, 1, max_items)
    n = baskets.count
    threshold = min_count(n, min_support)
    item_counts = np.bincount(baskets.items, minlength=len(baskets.labels)).astype(np.int64)
    frequent = np.flatnonzero(item_counts >= threshold).astype(np.int64)
    by_size: dict[int, list[IntArray]] = {1: [frequent.reshape(-1, 1)]}
    counts: dict[int, list[IntArray]] = {1: [item_counts[frequent]]}
    if max_items >= 2 and len(frequent) >= 2:
        incidence = _incidence(baskets, frequent)
        # Every pair's count at once, one sparse product over the frequent items (the
        # upper triangle: a < b), read in lexicographic order.
        pairs = sparse.csr_matrix(sparse.triu(incidence.T @ incidence, k=1))
        pairs.sum_duplicates()
        kept = pairs.data >= threshold
        first = np.repeat(np.arange(len(frequent), dtype=np.int64), np.diff(pairs.indptr))[kept]
        second = pairs.indices[kept].astype(np.int64)
        pair_counts = pairs.data[kept].astype(np.int64)
        del pairs
        by_size[2] = [np.column_stack([frequent[first], frequent[second]])]
        counts[2] = [pair_counts]
        if max_items >= 3 and len(first) >= 2:
            by_column = incidence.tocsc()
            starts = np.flatnonzero(np.r_[True, first[1:] != first[:-1]])
            ends = np.r_[starts[1:], len(first)]
            for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
                if hi - lo < 2:
                    continue  # one pair in the class: nothing to join it with
                # The class of frequent[a]: its frequent pairs, grown on the baskets that
                # hold a (bit vectors, module doc).
                a = int(first[lo])
                rows = by_column.indices[by_column.indptr[a] : by_column.indptr[a + 1]]
                sub = incidence[rows][:, second[lo:hi]].toarray().astype(np.bool_)
                sets = np.column_stack([np.full(hi - lo, frequent[a]), frequent[second[lo:hi]]])
                _grow(
                    sets,
                    _packed(sub),
                    pair_counts[lo:hi],
                    threshold,
                    max_items,
                    by_size,
                    counts,
                    recorded=True,
                )
    return Itemsets(
        n=n,
        min_count=threshold,
        item_counts=item_counts,
        by_size={k: np.concatenate(v) for k, v in by_size.items() if v},
        counts={k: np.concatenate(v) for k, v in counts.items() if v},
    )


def _grow(
    sets: IntArray,
    tids: npt.NDArray[np.uint64],
    c: IntArray,
    threshold: int,
    max_items: int,
    by_size: dict[int, list[IntArray]],
    counts: dict[int, list[IntArray]],
    *,
    recorded: bool = False,
) -> None:
    """Record one class's itemsets of one size and grow them level by level (``recorded``:
    the first size is already recorded)."""
    while True:
        k = sets.shape[1]
        if not recorded:
            by_size.setdefault(k, []).append(sets)
            counts.setdefault(k, []).append(c)
        recorded = False
        if k >= max_items or len(sets) < 2:
            return
        # Rows are sorted, so rows sharing their first k-1 items lie together.
        keys = _row_keys(sets[:, :-1])
        left, right = _pairs_within_classes(keys)
        if not len(left):
            return
        words = tids.shape[1]
        chunk = max(1, _CHUNK_WORDS // max(words, 1))
        kept_sets, kept_tids, kept_counts = [], [], []
        for start in range(0, len(left), chunk):
            lo, ro = left[start : start + chunk], right[start : start + chunk]
            joined = tids[lo] & tids[ro]
            jc = _popcount(joined)
            keep = jc >= threshold
            if keep.any():
                kept_sets.append(np.column_stack([sets[lo[keep]], sets[ro[keep], -1]]))
                kept_tids.append(joined[keep])
                kept_counts.append(jc[keep])
        if not kept_sets:
            return
        sets = np.concatenate(kept_sets)
        tids = np.concatenate(kept_tids)
        c = np.concatenate(kept_counts)


def _row_keys(rows: IntArray) -> IntArray:
    """An integer per row, equal for equal rows and increasing with the rows' order (rows
    lexicographically sorted)."""
    if rows.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.r_[True, (rows[1:] != rows[:-1]).any(axis=1)]
    return np.cumsum(change).astype(np.int64)


def _lookup(sets: IntArray, counts: IntArray, wanted: IntArray) -> IntArray:
    """Counts of the rows ``wanted`` in ``sets`` (both item-code rows of one width; every
    wanted row is present: subsets of frequent itemsets are frequent)."""
    width = sets.shape[1]
    base = np.int64(int(max(sets.max(initial=0), wanted.max(initial=0))) + 1)
    keys: npt.NDArray[Any]
    asked: npt.NDArray[Any]
    if width * math.log2(float(base)) < 62:
        weights = base ** np.arange(width - 1, -1, -1, dtype=np.int64)
        keys, asked = sets @ weights, wanted @ weights
    else:  # too wide for one integer: compare rows as raw big-endian bytes
        dtype = np.dtype((np.void, 8 * width))
        keys = np.ascontiguousarray(sets.astype(">i8")).view(dtype).ravel()
        asked = np.ascontiguousarray(wanted.astype(">i8")).view(dtype).ravel()
    order = np.argsort(keys, kind="stable")
    pos = order[np.searchsorted(keys[order], asked)]
    return counts[pos]


def association_rules(
    itemsets: Itemsets,
    labels: tuple[str, ...],
    *,
    min_confidence: float,
    min_items: int = 1,
    max_items: int = 10,
) -> Rules:
    """Every rule X ⇒ {y} from ``itemsets`` with min_items ≤ |X| + 1 ≤ max_items and
    confidence at or above ``min_confidence`` (module doc)."""
    _check(1.0, min_confidence, min_items, max_items)
    n = itemsets.n
    floor = confidence_floor(min_confidence)
    lhs_parts: list[list[tuple[int, ...]]] = []
    cons_parts, z_parts, x_parts = [], [], []
    for k in sorted(itemsets.by_size):
        if k < min_items or k > max_items:
            continue
        sets, z = itemsets.by_size[k], itemsets.counts[k]
        for drop in range(k):
            consequent = sets[:, drop]
            if k == 1:
                x = np.full(len(sets), n, dtype=np.int64)
                antecedent = np.zeros((len(sets), 0), dtype=np.int64)
            else:
                antecedent = np.delete(sets, drop, axis=1)
                x = _lookup(itemsets.by_size[k - 1], itemsets.counts[k - 1], antecedent)
            with np.errstate(divide="ignore", invalid="ignore"):
                conf = np.where(x > 0, z / np.maximum(x, 1), 1.0)
            keep = conf >= floor
            if not keep.any():
                continue
            lhs_parts.append([tuple(int(v) for v in row) for row in antecedent[keep]])
            cons_parts.append(consequent[keep])
            z_parts.append(z[keep])
            x_parts.append(x[keep])
    antecedents = [lhs for part in lhs_parts for lhs in part]
    consequents = np.concatenate(cons_parts) if cons_parts else np.zeros(0, dtype=np.int64)
    rule_counts = np.concatenate(z_parts) if z_parts else np.zeros(0, dtype=np.int64)
    antecedent_counts = np.concatenate(x_parts) if x_parts else np.zeros(0, dtype=np.int64)
    consequent_counts = itemsets.item_counts[consequents]
    return _measured(
        labels, n, antecedents, consequents, rule_counts, antecedent_counts, consequent_counts
    )


def _measured(
    labels: tuple[str, ...],
    n: int,
    antecedents: list[tuple[int, ...]],
    consequents: IntArray,
    z: IntArray,
    x: IntArray,
    y: IntArray,
) -> Rules:
    """The measures from the three counts, computed as arules does (support = z / n,
    confidence = z / x, lift = confidence × n / y) so they agree to the last bits."""
    nn = float(max(n, 1))
    support = z / nn
    with np.errstate(divide="ignore", invalid="ignore"):
        confidence = np.where(x > 0, z / np.maximum(x, 1), 1.0)
        lift = confidence * nn / y
        leverage = support - (x / nn) * (y / nn)
        conviction = np.where(confidence < 1.0, (1.0 - y / nn) / (1.0 - confidence), np.inf)
    return Rules(
        labels=labels,
        n=n,
        antecedents=antecedents,
        consequents=consequents.astype(np.int64),
        rule_counts=z.astype(np.int64),
        antecedent_counts=x.astype(np.int64),
        consequent_counts=y.astype(np.int64),
        support=np.asarray(support, dtype=np.float64),
        confidence=np.asarray(confidence, dtype=np.float64),
        lift=np.asarray(lift, dtype=np.float64),
        leverage=np.asarray(leverage, dtype=np.float64),
        conviction=np.asarray(conviction, dtype=np.float64),
    )


def rules_from_counts(
    labels: tuple[str, ...],
    n: int,
    antecedents: list[tuple[int, ...]],
    consequents: npt.ArrayLike,
    rule_counts: npt.ArrayLike,
    antecedent_counts: npt.ArrayLike,
    consequent_counts: npt.ArrayLike,
) -> Rules:
    """Rules measured from their counts (for an engine that counted them elsewhere)."""
    return _measured(
        labels,
        n,
        antecedents,
        np.asarray(consequents, dtype=np.int64),
        np.asarray(rule_counts, dtype=np.int64),
        np.asarray(antecedent_counts, dtype=np.int64),
        np.asarray(consequent_counts, dtype=np.int64),
    )


def mine_rules(
    baskets: Baskets,
    *,
    min_support: float,
    min_confidence: float,
    min_items: int = 1,
    max_items: int = 10,
) -> Rules:
    """Frequent itemsets, then rules: arules' ``apriori(support=, confidence=, minlen=,
    maxlen=)`` on the same baskets."""
    _check(min_support, min_confidence, min_items, max_items)
    itemsets = frequent_itemsets(baskets, min_support=min_support, max_items=max_items)
    return association_rules(
        itemsets,
        baskets.labels,
        min_confidence=min_confidence,
        min_items=min_items,
        max_items=max_items,
    )
