"""Privacy: how long an access copy and a retention run take on the demo retailer.

Figures are printed, never asserted (docs/contributing.md, Benchmarks).

1. A demo retailer (`patron demo --customers N --lines M`) is built in a temporary data
   directory (SQLite), or reused from ``--data-dir``.
2. The access copy (zip of JSON and XLSX) of ``--exports`` random customers is timed one
   by one, in the service, as the console's download runs it: p50/p95/max and zip size.
3. A retention policy (anonymise customers idle for ``--months`` months) is counted by a dry
   run, then carried out, both timed; net sales over the demo's two years are summed before
   and after, and must match.

Run:  .venv/bin/python bench/privacy.py                          (5,000 customers, ~1 min)
      .venv/bin/python bench/privacy.py --customers 20000 --lines 300000
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

console = Console(highlight=False)


def _env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PATRON_DATA_DIR": str(data_dir),
        "PATRON_ENV": "development",
        "PATRON_KEY_FILE": str(data_dir / "keys.json"),
        "PATRON_ANALYTICS_NIGHTLY": "false",
    }


def build_demo(data_dir: Path, customers: int, lines: int) -> float:
    if (data_dir / "patron.db").exists():
        console.print(f"Reusing the database in {data_dir}")
        return 0.0
    data_dir.mkdir(parents=True, exist_ok=True)
    env = _env(data_dir)
    patron = [sys.executable, "-m", "patron.cli"]
    subprocess.run(
        [sys.executable, "-c", "from patron.core.crypto import get_keyring; get_keyring()"],
        env=env, check=True, cwd=data_dir,
    )  # fmt: skip
    subprocess.run([*patron, "init"], env=env, check=True, cwd=data_dir, capture_output=True)
    started = time.perf_counter()
    demo = [*patron, "demo", "--customers", str(customers), "--lines", str(lines)]
    subprocess.run(demo, env=env, check=True, cwd=data_dir, capture_output=True)
    return time.perf_counter() - started


def run(data_dir: Path, exports: int, months: int, seed: int) -> None:
    os.environ.update({k: v for k, v in _env(data_dir).items() if k.startswith("PATRON_")})
    import patron.metadata  # noqa: F401  (every table, for the export's walk)
    from patron.core.actor import system_actor
    from patron.core.db import get_database
    from patron.customers import service as customers
    from patron.orders import sales
    from patron.privacy import export, retention
    from patron.privacy.schemas import PolicyIn

    db = get_database()
    actor = system_actor("bench-privacy")
    total = db.read(lambda s: customers.count_customers(session=s))
    ids = db.read(
        lambda s: customers.live_customer_ids(session=s, customer_ids=range(1, total * 2 + 1))
    )
    picked = random.Random(seed).sample(list(ids), min(exports, len(ids)))
    times, sizes = [], []
    for cid in picked:
        started = time.perf_counter()
        data = db.write(
            lambda s, c=cid: export.export_customer(
                session=s, customer_id=c, reason="bench", actor=actor
            )
        )
        times.append((time.perf_counter() - started) * 1000)
        sizes.append(len(data))

    def net() -> int:
        end = datetime.now(UTC).date() + timedelta(days=1)
        cells = db.read(
            lambda s: sales.net_sales_cells(
                session=s, start_on=end - timedelta(days=800), end_on=end
            )
        )
        return sum(c.net_fen for c in cells)

    policy_in = PolicyIn(kind="inactive_customers", keep_months=months)
    db.write(lambda s: retention.set_policy(session=s, policy_in=policy_in, actor=actor))
    before = net()
    started = time.perf_counter()
    dry = retention.run_retention(db=db, actor=actor, dry_run=True)
    dry_s = time.perf_counter() - started
    started = time.perf_counter()
    done = retention.run_retention(db=db, actor=actor, dry_run=False)
    run_s = time.perf_counter() - started
    after = net()

    table = Table(title=f"Privacy on the demo retailer (SQLite), {len(ids):,} live customers")
    table.add_column("what")
    table.add_column("figure", justify="right")
    table.add_row("access copies timed", f"{len(times)}")
    table.add_row("access copy p50 / p95 / max (ms)", " / ".join(
        f"{v:.0f}" for v in (statistics.median(times), _p95(times), max(times))
    ))  # fmt: skip
    table.add_row("zip size median (KB)", f"{statistics.median(sizes) / 1024:.1f}")
    counts = dry.counts["inactive_customers"]
    table.add_row(f"retention dry run: idle {months} months (s)", f"{dry_s:.2f}")
    table.add_row("  customers / identities / notes counted", (
        f"{counts['customers']:,} / {counts['identities']:,} / {counts['interactions']:,}"
    ))  # fmt: skip
    table.add_row("retention run (s)", f"{run_s:.2f}")
    table.add_row("  dry run counts = run's", str(dry.counts == done.counts))
    table.add_row("  net sales before = after (fen)", f"{before:,} = {after:,} {before == after}")
    console.print(table)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, help="reuse (or build and keep) the demo here")
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--lines", type=int, default=60000)
    parser.add_argument("--exports", type=int, default=50, help="access copies to time")
    parser.add_argument("--months", type=int, default=6, help="idle months before anonymising")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.data_dir:
        built = build_demo(args.data_dir, args.customers, args.lines)
        console.print(f"demo built in {built:.0f} s" if built else "")
        run(args.data_dir, args.exports, args.months, args.seed)
        return
    with tempfile.TemporaryDirectory(prefix="patron-privacy-") as tmp:
        built = build_demo(Path(tmp), args.customers, args.lines)
        console.print(f"demo built in {built:.0f} s")
        run(Path(tmp), args.exports, args.months, args.seed)


if __name__ == "__main__":
    main()
