"""Churn scoring at chain scale, and the churn model on the demo retailer.

Two parts, figures printed, nothing asserted:

1. Scale: a synthetic chain (``patron.analytics.engine.synthetic``, DuckDB SQL) of
   ``--customers`` customers and ten order lines per customer, then ``score_churn`` on it:
   features at three cut-offs from one read of the orders, three BG/NBD fits, the logistic
   regression and its
   calibration, Gamma-Gamma and 12-month CLV (no interval), bands and reasons. Wall time,
   CPU time and peak RSS of the scoring alone (the data is written first).
2. The demo retailer: ``patron demo`` through the services into SQLite
   (``--demo-customers``), the real extract into a DuckDB analytics store, then
   ``score_churn`` as of the demo's last day: holdout AUC and Brier of the model next to
   1 − P(alive) alone, the calibration table, and the BG/NBD fit next to the generator's
   truth (calendar weeks, distinct purchase days: see tests/analytics/clv/test_demo_recovery
   for why α reads a few per cent high).

With ``--store PATH`` the scale part scores an analytics store already written (e.g. the
synthetic store bench/analytics.py leaves in its ``--dir``, opened read-only, as of
``--as-of``) instead of generating one, ``--repeat`` times: the CPU seconds of each run
and of each step, for comparing two checkouts on the same data (PYTHONPATH=<other>/src).
CLV runs in a thread beside the earlier cut-offs and the training (churn/scoring.py), so
those steps' CPU includes some of CLV's: compare runs by their total.

Run:  .venv/bin/python bench/churn.py                     (1 M customers; demo 5,000)
      .venv/bin/python bench/churn.py --customers 100000 --demo-customers 2000
      .venv/bin/python bench/churn.py --skip-demo --repeat 3 \
          --store /tmp/patron-bench-analytics-1000000-10000000-7.duckdb --as-of 2025-12-31
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scale(customers: int) -> None:
    from patron.analytics.churn.scoring import score_churn
    from patron.analytics.engine import synthetic

    as_of = date(2026, 10, 31)
    con = duckdb.connect()
    con.execute("SET threads = 2")
    started = time.perf_counter()
    counts = synthetic.generate(con, customers=customers, lines=10 * customers, as_of=as_of)
    print(f"synthetic chain: {counts} in {time.perf_counter() - started:.1f} s")
    rss_before = _rss_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    result = score_churn(con, as_of=as_of)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    report = result.report
    print(
        f"score_churn: {len(result.customers):,} customers scored in {wall:.1f} s wall, "
        f"{cpu:.1f} s CPU; peak RSS {_rss_mb():.0f} MB (before scoring {rss_before:.0f} MB)"
    )
    print(f"mode {report['mode']}: {report['message']}")
    print("seconds per step (wall):", report["steps"])
    print("seconds per step (CPU): ", report["steps_cpu"])
    evaluation = report["evaluation"]
    if evaluation.get("available"):
        print(
            f"holdout AUC {evaluation['auc']:.3f} vs P(alive) alone "
            f"{evaluation['auc_p_alive']:.3f} (synthetic data: no churn built in)"
        )


def stored(path: Path, as_of: date, repeat: int) -> None:
    """Score the store at ``path`` (read-only) ``repeat`` times, with the CPU of each run."""
    from patron.analytics.churn.scoring import score_churn

    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("SET threads = 2")
        con.execute("SET enable_progress_bar = false")
        for run in range(1, repeat + 1):
            wall, cpu = time.perf_counter(), _cpu_s()
            result = score_churn(con, as_of=as_of)
            wall, cpu = time.perf_counter() - wall, _cpu_s() - cpu
            print(
                f"run {run}: {len(result.customers):,} customers scored in {wall:.2f} s wall, "
                f"{cpu:.2f} s CPU (mode {result.report['mode']}, horizon "
                f"{result.report['horizon_days']} days)"
            )
            print("  CPU seconds per step:", result.report["steps_cpu"])
    finally:
        con.close()


def _cpu_s() -> float:
    """CPU seconds of this process, every thread (DuckDB's too)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def demo(customers: int) -> None:
    from patron.analytics import store as analytics_store
    from patron.analytics.churn.scoring import score_churn
    from patron.analytics.extract import extract
    from patron.core.db import Database
    from patron.core.migrate import upgrade
    from patron.demo.generator import DEFAULT_END, build_demo

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = Database(f"sqlite:///{folder / 'patron.db'}")
        upgrade(db)
        started = time.perf_counter()
        summary = build_demo(
            db=db, seed=42, customers=customers, lines=15 * customers, data_dir=folder
        )
        print(
            f"demo: {summary.customers} customers, {summary.orders} orders, "
            f"{summary.refunds} refunds in {time.perf_counter() - started:.0f} s"
        )
        assert summary.truth_json is not None
        truth = json.loads(summary.truth_json.read_text(encoding="utf-8"))
        with analytics_store.connect(folder / "analytics.duckdb") as duck:
            extract(db=db, duck=duck, timezone="Asia/Shanghai", full=True)
            started = time.perf_counter()
            result = score_churn(duck, as_of=DEFAULT_END)
            seconds = time.perf_counter() - started
        db.dispose()
    report = result.report
    print(f"score_churn on the demo: {len(result.customers)} customers in {seconds:.1f} s")
    print(f"mode {report['mode']}: {report['message']}")
    evaluation = report["evaluation"]
    if evaluation.get("available"):
        print(
            f"holdout ({evaluation['customers']} customers, churn rate "
            f"{evaluation['churn_rate']:.3f}): AUC {evaluation['auc']:.3f} vs P(alive) alone "
            f"{evaluation['auc_p_alive']:.3f}; Brier {evaluation['brier']:.3f} vs "
            f"{evaluation['brier_p_alive']:.3f}"
        )
        print("calibration (risk bin: customers, mean risk, observed churn):")
        for row in evaluation["calibration"]:
            if row["customers"]:
                print(
                    f"  {row['from']:.1f}–{row['to']:.1f}: {row['customers']:6d}  "
                    f"{row['mean_risk']:.3f}  {row['churn_rate']:.3f}"
                )
    else:
        print(evaluation["message"])
    print(
        "coefficients:", {f["feature"]: round(f["coefficient"] or 0, 3) for f in report["features"]}
    )
    fitted = report["bgnbd"].get("parameters", {})
    print("BG/NBD fitted:", {k: round(v, 3) for k, v in fitted.items()})
    print("BG/NBD truth: ", {k: round(v, 3) for k, v in truth["bgnbd"].items()})
    print("bands:", report["bands"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--demo-customers", type=int, default=5000)
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--store", type=Path, help="score this analytics store instead")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2025, 12, 31))
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if not args.skip_demo:
        demo(args.demo_customers)
    if args.skip_scale:
        return
    if args.store is not None:
        stored(args.store, args.as_of, args.repeat)
    else:
        scale(args.customers)


if __name__ == "__main__":
    main()
