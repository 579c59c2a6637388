"""How next-basket recommendations are measured, and the frequency baselines they must beat.

Protocol (Li et al., "A Next Basket Recommendation Reality Check", 2023): each member's last
basket is the target, every earlier basket the history; a recommender ranks items from the
history alone.

- Recall@k = |top-k ∩ target| / |target| (the target's distinct items), averaged over the
  members;
- NDCG@k with binary relevance: DCG = Σ over hits at rank r (1-based) of 1 / log2(r + 1),
  divided by the ideal DCG, Σ_{r=1}^{min(|target|, k)} 1 / log2(r + 1); averaged likewise;
- split into **repeat** items (in the member's history) and **new** items (not in it): the
  repeat figure is the same measure with the target cut to its repeat items, averaged over
  the members whose target has any (likewise for new), so each says how well that part of the
  target is found.

Baselines: G-TopFreq recommends the items in most history baskets of all members;
P-TopFreq the member's own items by how many of their baskets hold them, nothing more;
GP-TopFreq P-TopFreq's items, then G-TopFreq's to fill the list. Ties go to the smaller item
id, as in the published figures (on the shared Ta-Feng half this reproduces Recall@10
0.0813, 0.1205 and 0.1334; breaking ties by recency or popularity moves them by ±0.005).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
Basket = Sequence[int]


@dataclass(frozen=True)
class Scores:
    """Averages over members: recall and NDCG at each k, overall, for repeat and for new."""

    recall: dict[int, float]
    ndcg: dict[int, float]
    recall_repeat: dict[int, float]
    ndcg_repeat: dict[int, float]
    recall_new: dict[int, float]
    ndcg_new: dict[int, float]
    members: int
    members_with_repeat: int
    members_with_new: int


def recall_at(ranked: Sequence[int], target: set[int], k: int) -> float:
    """|top-k ∩ target| / |target|; 0 for an empty target."""
    if not target:
        return 0.0
    return sum(1 for item in ranked[:k] if item in target) / len(target)


def ndcg_at(ranked: Sequence[int], target: set[int], k: int) -> float:
    """Binary-relevance NDCG@k (module doc); 0 for an empty target."""
    if not target:
        return 0.0
    dcg = sum(1.0 / np.log2(r + 2) for r, item in enumerate(ranked[:k]) if item in target)
    ideal = sum(1.0 / np.log2(r + 2) for r in range(min(len(target), k)))
    return float(dcg / ideal)


def score_lists(
    ranked: Mapping[str, Sequence[int]],
    targets: Mapping[str, Basket],
    histories: Mapping[str, Sequence[Basket]],
    ks: Sequence[int] = (10, 20),
) -> Scores:
    """The module doc's measures of ``ranked`` (member → items, best first) against each
    member's target, with the repeat/new split taken against their history."""
    sums: dict[str, dict[int, float]] = {
        name: dict.fromkeys(ks, 0.0)
        for name in ("recall", "ndcg", "recall_repeat", "ndcg_repeat", "recall_new", "ndcg_new")
    }
    members = with_repeat = with_new = 0
    for member, target_items in targets.items():
        target = set(target_items)
        if not target:
            continue
        members += 1
        seen = {i for basket in histories.get(member, ()) for i in basket}
        repeat, new = target & seen, target - seen
        with_repeat += bool(repeat)
        with_new += bool(new)
        items = list(ranked.get(member, ()))
        for k in ks:
            sums["recall"][k] += recall_at(items, target, k)
            sums["ndcg"][k] += ndcg_at(items, target, k)
            if repeat:
                sums["recall_repeat"][k] += recall_at(items, repeat, k)
                sums["ndcg_repeat"][k] += ndcg_at(items, repeat, k)
            if new:
                sums["recall_new"][k] += recall_at(items, new, k)
                sums["ndcg_new"][k] += ndcg_at(items, new, k)

    def mean(name: str, n: int) -> dict[int, float]:
        return {k: (v / n if n else 0.0) for k, v in sums[name].items()}

    return Scores(
        recall=mean("recall", members),
        ndcg=mean("ndcg", members),
        recall_repeat=mean("recall_repeat", with_repeat),
        ndcg_repeat=mean("ndcg_repeat", with_repeat),
        recall_new=mean("recall_new", with_new),
        ndcg_new=mean("ndcg_new", with_new),
        members=members,
        members_with_repeat=with_repeat,
        members_with_new=with_new,
    )


def global_top(histories: Mapping[str, Sequence[Basket]], n: int) -> list[int]:
    """The n items in most history baskets (ties: the smaller item id)."""
    counts: dict[int, int] = {}
    for baskets in histories.values():
        for basket in baskets:
            for item in set(basket):
                counts[item] = counts.get(item, 0) + 1
    return [item for item, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def personal_top(baskets: Sequence[Basket]) -> list[int]:
    """The member's items by how many of their baskets hold them (ties: smaller id)."""
    counts: dict[int, int] = {}
    for basket in baskets:
        for item in set(basket):
            counts[item] = counts.get(item, 0) + 1
    return sorted(counts, key=lambda i: (-counts[i], i))


def baselines(histories: Mapping[str, Sequence[Basket]], n: int) -> dict[str, dict[str, list[int]]]:
    """G-TopFreq, P-TopFreq and GP-TopFreq lists of length (up to) n per member."""
    popular = global_top(histories, max(n, 1) * 4)
    g: dict[str, list[int]] = {}
    p: dict[str, list[int]] = {}
    gp: dict[str, list[int]] = {}
    for member, baskets in histories.items():
        own = personal_top(baskets)[:n]
        g[member] = popular[:n]
        p[member] = own
        chosen = set(own)
        gp[member] = own + [i for i in popular if i not in chosen][: n - len(own)]
    return {"G-TopFreq": g, "P-TopFreq": p, "GP-TopFreq": gp}


def split_last(
    baskets_by_member: Mapping[str, Sequence[Basket]], *, drop_last: int = 0
) -> tuple[dict[str, list[Basket]], dict[str, Basket]]:
    """(histories, targets): after dropping ``drop_last`` baskets, the last one is the target
    and the earlier ones the history; members left with fewer than two baskets are skipped.
    ``drop_last=1`` gives the inner split tuned on (the second-to-last basket as target)."""
    histories: dict[str, list[Basket]] = {}
    targets: dict[str, Basket] = {}
    for member, baskets in baskets_by_member.items():
        kept = list(baskets[: len(baskets) - drop_last]) if drop_last else list(baskets)
        if len(kept) < 2:
            continue
        histories[member] = kept[:-1]
        targets[member] = kept[-1]
    return histories, targets
