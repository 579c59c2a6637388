"""Association rules on Groceries: Patron beside mlxtend, same data, same run.

Patron: ``patron.analytics.basket.mine_rules`` (numpy Eclat, arules' definitions) from the
baskets as lists. Peer: mlxtend 0.25's ``TransactionEncoder`` + ``fpgrowth`` +
``association_rules`` (the dev extras pin it), its rules filtered to single-item consequents
of at most 10 items, as arules makes them. Work only is timed (the file is read once,
outside the clocks; each side's own encoding of the baskets is inside), best of ``--repeat``
runs; the ratio is printed, never asserted.

Cases: support 0.001 / confidence 0.8 (arules: 410 rules) and support 0.006 /
confidence 0.25 with at least 2 items (arules: 463 rules).

Run:  .venv/bin/python bench/basket.py [--repeat 5] [--file PATH]
"""

from __future__ import annotations

import argparse
import platform
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from patron.analytics.basket.mining import Baskets, mine_rules

DEFAULT_FILE = Path(__file__).parents[1] / ".." / "shared" / "data" / "groceries" / "groceries.csv"
CASES = (
    {"min_support": 0.001, "min_confidence": 0.8, "min_items": 1, "arules": 410},
    {"min_support": 0.006, "min_confidence": 0.25, "min_items": 2, "arules": 463},
)


def _read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8") as handle:
        return [[i.strip() for i in line.rstrip("\r\n").split(",")] for line in handle]


def patron(baskets: list[list[str]], case: dict[str, Any]) -> int:
    rules = mine_rules(
        Baskets.from_lists(baskets),
        min_support=case["min_support"],
        min_confidence=case["min_confidence"],
        min_items=case["min_items"],
        max_items=10,
    )
    return len(rules)


def mlxtend(baskets: list[list[str]], case: dict[str, Any]) -> int:
    import pandas as pd
    from mlxtend.frequent_patterns import association_rules, fpgrowth
    from mlxtend.preprocessing import TransactionEncoder

    encoder = TransactionEncoder()
    frame = pd.DataFrame(encoder.fit(baskets).transform(baskets), columns=encoder.columns_)
    itemsets = fpgrowth(frame, min_support=case["min_support"], use_colnames=True, max_len=10)
    rules = association_rules(itemsets, metric="confidence", min_threshold=case["min_confidence"])
    single = rules[rules["consequents"].map(len) == 1]
    sizes = single["antecedents"].map(len) + 1
    return int(((sizes >= case["min_items"]) & (sizes <= 10)).sum())


def _best(work: Callable[[], int], repeat: int) -> tuple[float, int, float]:
    work()  # warm: imports and first-touch allocations are not the work
    times = []
    result = 0
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    work()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return min(times), result, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not args.file.exists():
        raise SystemExit(f"no baskets at {args.file}: give --file")
    baskets = _read(args.file)
    print(f"{len(baskets):,} baskets · Python {platform.python_version()} · best of {args.repeat}")
    try:
        import mlxtend as _mlxtend

        peer_version = _mlxtend.__version__
    except ImportError:
        peer_version = None
        print("mlxtend is not installed (pip install -e '.[dev]'): Patron alone")
    for case in CASES:
        label = (
            f"support {case['min_support']}, confidence {case['min_confidence']}, "
            f"≥{case['min_items']} items"
        )
        ours, n_ours, mem_ours = _best(partial(patron, baskets, case), args.repeat)
        print(f"\n{label} (arules: {case['arules']} rules)")
        print(f"  Patron        {ours:8.3f} s  {n_ours:5d} rules  peak {mem_ours:6.1f} MiB")
        if peer_version is not None:
            theirs, n_theirs, mem_theirs = _best(partial(mlxtend, baskets, case), args.repeat)
            print(
                f"  mlxtend {peer_version} {theirs:8.3f} s  {n_theirs:5d} rules  "
                f"peak {mem_theirs:6.1f} MiB"
            )
            print(f"  Patron is {theirs / ours:.1f}× faster")


if __name__ == "__main__":
    main()
