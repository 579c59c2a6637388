"""Next-basket recommendation on Ta-Feng (or any {customer: [basket, …]} JSON): Patron beside
the frequency baselines, same data, same run; then training and scoring time on a synthetic
set of a million members.

Protocol (the shared data's README, after Li et al. 2023): each customer's last basket is
the target, the earlier ones the history; Recall@10/20 and NDCG@10/20, split into repeat
items (in the history) and new items (recommend/evaluation.py for the exact definitions).
G-TopFreq, P-TopFreq and GP-TopFreq are computed here, in the same run.

No tuning on the evaluation's targets: Patron runs with ``RecommendParams``' defaults, which
were chosen on the inner split (each customer's second-to-last basket as the target, the
last basket never seen). ``--tune`` repeats that choice here: a small grid on the inner
split, the best configuration then scored once on the outer split.

The timing part draws ``--members`` synthetic members from 5,000 products with skewed
popularity and personal favourites — by default (``--shape nightly``) 2–5 baskets of 1–5
items each, about 10 lines a member as in the nightly run's 1 M customers / 10 M lines;
``--shape dense`` 3–13 baskets of 2–12 items, about 50 lines a member — and times building
the histories, the model and every member's top 20 — the nightly run's work: wall and CPU
seconds and the peak RSS. Printed, never asserted.

Run:  .venv/bin/python bench/nbr.py [--baskets FILE] [--tune] [--members 1000000]
          [--shape nightly|dense]
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from patron.analytics.recommend.evaluation import Scores, baselines, score_lists, split_last
from patron.analytics.recommend.model import (
    EXACT_NEIGHBOURS,
    Histories,
    RecommendParams,
    recommend,
)

DEFAULT_FILE = Path(__file__).parents[1] / ".." / "shared" / "data" / "tafeng" / "tafeng_dev.json"
GRID: dict[str, tuple[Any, ...]] = {
    "repeat_prior": (1.0, 2.0, 5.0),
    "neighbour_weight": (0.3, 0.5),
    "popular_weight": (0.05, 0.1),
    "recent_popular_weight": (0.05, 0.1),
    "rule_weight": (0.0, 0.05),
}


def load(path: Path) -> dict[str, list[list[Any]]]:
    """The {customer: [basket, …]} file, checked: a clear message instead of a traceback."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        sys.exit(f"--baskets: no file at {path}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        sys.exit(f"--baskets: {path} is not UTF-8 JSON ({exc})")
    if not isinstance(data, dict):
        sys.exit("--baskets: the file must hold one object, {customer: [basket, …]}")
    for customer, baskets in data.items():
        if not isinstance(baskets, list) or not all(isinstance(b, list) for b in baskets):
            sys.exit(f"--baskets: customer {customer!r}: expected a list of baskets (lists)")
    return {str(c): b for c, b in data.items()}


def patron_lists(
    histories: dict[str, list[list[Any]]], params: RecommendParams, *, exact: bool = True
) -> dict[str, list[Any]]:
    """Patron's lists; ``exact=False`` takes the many-members path (similar members through
    the items, recommend/model.py) whatever the number of members."""
    h = Histories.from_baskets(histories)
    found = recommend(h, params, exact_neighbours=EXACT_NEIGHBOURS if exact else 0)
    labels = found.lists(h)
    # Labels come back as text; give the items their original type for the comparison.
    kinds = {str(i): i for baskets in histories.values() for b in baskets for i in b}
    return {m: [kinds[str(i)] for i in items] for m, items in labels.items()}


def row(name: str, s: Scores) -> str:
    return (
        f"{name:<14} {s.recall[10]:8.4f} {s.ndcg[10]:8.4f} {s.recall[20]:8.4f} {s.ndcg[20]:8.4f}"
        f" {s.recall_repeat[10]:8.4f} {s.recall_new[10]:8.4f}"
        f" {s.ndcg_repeat[10]:8.4f} {s.ndcg_new[10]:8.4f}"
    )


def tune(data: dict[str, list[list[Any]]]) -> RecommendParams:
    histories, targets = split_last(data, drop_last=1)
    best: tuple[float, RecommendParams] | None = None
    names = list(GRID)
    for values in itertools.product(*(GRID[n] for n in names)):
        params = replace(RecommendParams(), **dict(zip(names, values, strict=True)))
        recall = score_lists(patron_lists(histories, params), targets, histories).recall[10]
        print(f"  inner split {dict(zip(names, values, strict=True))}: Recall@10 {recall:.4f}")
        if best is None or recall > best[0]:
            best = (recall, params)
    assert best is not None
    return best[1]


# (baskets per member, items per basket), each drawn uniformly from [low, high).
SHAPES = {"nightly": ((2, 6), (1, 6)), "dense": ((3, 14), (2, 13))}


def synthetic(members: int, seed: int = 7, shape: str = "nightly") -> Histories:
    rng = np.random.default_rng(seed)
    products = 5000
    popularity = 1.0 / np.arange(1, products + 1) ** 0.9
    popularity /= popularity.sum()
    (b_low, b_high), (s_low, s_high) = SHAPES[shape]
    baskets_per = rng.integers(b_low, b_high, size=members)
    sizes = rng.integers(s_low, s_high, size=int(baskets_per.sum()))
    lines = int(sizes.sum())
    basket_member = np.repeat(np.arange(members), baskets_per)
    line_member = np.repeat(basket_member, sizes)
    favourites = rng.choice(products, size=(members, 8), p=popularity)
    own = rng.random(lines) < 0.4
    items = np.where(
        own,
        favourites[line_member, rng.integers(0, 8, size=lines)],
        rng.choice(products, size=lines, p=popularity),
    )
    position = np.arange(len(basket_member)) - np.repeat(
        np.cumsum(baskets_per) - baskets_per, baskets_per
    )
    day = np.repeat(position * 9 + rng.integers(0, 5, size=len(basket_member)), sizes)
    return Histories.from_rows(line_member, day.astype(np.float64), items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baskets", type=Path, default=DEFAULT_FILE)
    parser.add_argument(
        "--tune", action="store_true", help="choose the settings on the inner split"
    )
    parser.add_argument("--members", type=int, default=1_000_000, help="0 skips the timing")
    parser.add_argument(
        "--shape",
        choices=sorted(SHAPES),
        default="nightly",
        help="nightly: 2–5 baskets of 1–5 items a member (about 10 lines, the nightly run's "
        "1 M customers / 10 M lines); dense: 3–13 baskets of 2–12 items (about 50 lines)",
    )
    args = parser.parse_args()

    data = load(args.baskets)
    histories, targets = split_last(data)
    print(f"{args.baskets.name}: {len(targets):,} customers with a target basket")
    params = RecommendParams()
    if args.tune:
        print("tuning on the inner split (second-to-last basket as target):")
        params = tune(data)
    print(f"Patron settings: {params}")
    started = time.perf_counter()
    ours = score_lists(patron_lists(histories, params), targets, histories)
    seconds = time.perf_counter() - started
    header = (
        f"{'':<14} {'R@10':>8} {'N@10':>8} {'R@20':>8} {'N@20':>8} {'R@10rep':>8} "
        f"{'R@10new':>8} {'N@10rep':>8} {'N@10new':>8}"
    )
    print(header)
    scores = {
        name: score_lists(lists, targets, histories)
        for name, lists in baselines(histories, 20).items()
    }
    for name, s in scores.items():
        print(row(name, s))
    print(row("Patron", ours))
    many = score_lists(patron_lists(histories, params, exact=False), targets, histories)
    print(row("Patron >60k", many) + "  (the path for more members than exact neighbours)")
    gp = scores["GP-TopFreq"].recall[10]
    print(
        f"Patron Recall@10 is {ours.recall[10] / gp:.3f} × GP-TopFreq's (target ≥ 1.10); "
        f"{ours.members_with_repeat:,} targets hold repeat items, {ours.members_with_new:,} new "
        f"ones; Patron trained and scored in {seconds:.1f} s"
    )

    if args.members > 0:
        started, cpu = time.perf_counter(), time.process_time()
        big = synthetic(args.members, shape=args.shape)
        built, built_cpu = time.perf_counter() - started, time.process_time() - cpu
        started, cpu = time.perf_counter(), time.process_time()
        found = recommend(big, RecommendParams(), now=float(big.times.max() + 1))
        scored, scored_cpu = time.perf_counter() - started, time.process_time() - cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(
            f"\nsynthetic: {big.member_count:,} members, {len(big.times):,} baskets, "
            f"{len(big.items):,} lines, {big.item_count:,} products"
        )
        print(
            f"  histories {built:.1f} s wall, {built_cpu:.1f} s CPU (generation included); "
            f"model and top-20 for everyone {scored:.1f} s wall, {scored_cpu:.1f} s CPU "
            f"({len(found.member):,} rows); peak RSS {peak:.1f} GiB"
        )


if __name__ == "__main__":
    main()
