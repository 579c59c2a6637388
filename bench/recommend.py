"""The nightly recommendations step alone, on bench/analytics.py's synthetic store: CPU
seconds, wall seconds and peak RSS, printed, never asserted.

Two parts, each timed on its own:

- ``read``: the members' lines from the store (DuckDB, threads=2, as the nightly run) made
  into ``Histories`` — what ``recommend_members`` does before the model;
- ``model``: ``recommend`` on those histories, every member's top 20 (recommend/model.py);

and ``step``: the whole ``recommend_members`` (read, model and the Arrow rows), the nightly
run's step. ``--save`` keeps the model's rows in a ``.npz`` file and ``--compare`` checks a
run's rows against such a file: the same members, ranks, items, sources and due times, the
scores within 1e-9 relative — so a faster model can be checked against the one it replaces
on a whole chain's store (run the saved file's side with ``PYTHONPATH`` on the older source).

Build the store first:  .venv/bin/python bench/analytics.py --runs 1 --no-pandas
    --no-polars --no-nightly --dir DIR
Run:  .venv/bin/python bench/recommend.py --store DIR/patron-bench-analytics-1000000-
    10000000-7.duckdb [--part model|step] [--runs 3] [--save FILE | --compare FILE]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

AS_OF = date(2025, 12, 31)  # bench/analytics.py's
COLUMNS = ("member", "rank", "item", "score", "source", "due")


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak() -> None:
    """Start the peak RSS afresh (Linux: writing 5 to clear_refs resets VmHWM)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


def _tables(path: Path) -> tuple[Any, Any]:
    import duckdb

    from patron.analytics import nightly

    if not path.exists():
        sys.exit(f"--store: no DuckDB file at {path} (bench/analytics.py builds it)")
    duck = duckdb.connect(str(path), read_only=True)
    duck.execute("SET threads = 2")
    duck.execute("SET enable_progress_bar = false")
    return duck, nightly.store_tables(duck)


def _histories(tables: Any, as_of: date) -> Any:
    """What recommend_members does before the model (recommend/service.py)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from patron.analytics.recommend.model import Histories
    from patron.analytics.recommend.service import member_lines

    arrow = member_lines(tables, as_of=as_of, distinct=False).to_pyarrow()
    days = pc.cast(arrow.column("order_date"), pa.int32()).to_numpy().astype(np.float64)
    skus = pc.dictionary_encode(arrow.column("sku").combine_chunks())
    return Histories.from_rows(
        arrow.column("customer_id").to_numpy(),
        days,
        skus.indices.to_numpy(zero_copy_only=False),
        labels=skus.dictionary.to_numpy(zero_copy_only=False),
    )


def _measure(label: str, work: Any) -> Any:
    _reset_peak()
    wall, cpu = time.perf_counter(), _cpu_s()
    result = work()
    took, used = time.perf_counter() - wall, _cpu_s() - cpu
    print(f"  {label}: CPU {used:.2f} s, wall {took:.2f} s, peak RSS {_peak_mb():,.0f} MB")
    return result


def _compare(found: Any, path: Path) -> None:
    saved = np.load(path)
    ok = True
    for name in COLUMNS:
        mine, theirs = getattr(found, name), saved[name]
        if mine.shape != theirs.shape:
            print(f"  {name}: {mine.shape[0]:,} rows here, {theirs.shape[0]:,} in {path.name}")
            ok = False
            continue
        if name == "score":
            close = np.isclose(mine, theirs, rtol=1e-9, atol=0.0)
            worst = float(np.max(np.abs(mine - theirs) / np.maximum(np.abs(theirs), 1e-300)))
            print(f"  score: largest relative difference {worst:.2e}")
            differ = int((~close).sum())
        elif name == "due":
            differ = int((~((mine == theirs) | (np.isnan(mine) & np.isnan(theirs)))).sum())
        else:
            differ = int((mine != theirs).sum())
        if differ:
            print(f"  {name}: {differ:,} rows differ")
            ok = False
    print(f"  compared with {path.name}: {'the same rows' if ok else 'DIFFERENT'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="bench/analytics.py's file")
    parser.add_argument("--as-of", type=date.fromisoformat, default=AS_OF)
    parser.add_argument("--part", choices=("model", "step"), default="model")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--save", type=Path, help="keep the model's rows in this .npz file")
    parser.add_argument("--compare", type=Path, help="check the model's rows against a --save")
    args = parser.parse_args()
    if args.runs < 1:
        sys.exit("--runs: must be at least 1")
    from patron.analytics.recommend.model import RecommendParams, recommend
    from patron.analytics.recommend.service import recommend_members

    duck, tables = _tables(args.store)
    try:
        if args.part == "step":
            for run in range(args.runs):
                result = _measure(
                    f"step run {run + 1}",
                    lambda: recommend_members(tables, as_of=args.as_of, shelf_life_days={}),
                )
            print(f"  {result.count:,} rows; {result.report}")
            return
        h = _measure("read", lambda: _histories(tables, args.as_of))
    finally:
        duck.close()
    now = float((args.as_of - date(1970, 1, 1)).days + 1)
    print(f"  {h.member_count:,} members, {len(h.times):,} baskets, {len(h.items):,} lines")
    for run in range(args.runs):
        found = _measure(f"model run {run + 1}", lambda: recommend(h, RecommendParams(), now=now))
    print(f"  {len(found.member):,} rows")
    if args.save:
        np.savez(args.save, **{name: getattr(found, name) for name in COLUMNS})
        print(f"  saved to {args.save}")
    if args.compare:
        _compare(found, args.compare)


if __name__ == "__main__":
    main()
