"""Lifetime-value models at chain scale: fit and scoring times for 1,000,000 customers.

Targets (docs/contributing.md, Benchmarks): fit ≤ 10 s and score ≤ 2 s for 1,000,000 customers on 2 cores; the peer,
lifetimes 0.11.3, is quoted at 11.3 s for the BG/NBD fit, and the goal is 10× faster.
Figures are printed, never asserted.

How it runs:

1. A synthetic chain: 1,000,000 customers drawn from BG/NBD (r 0.25, α 30.8 days, a 0.8,
   b 2.4) with Gamma-Gamma spend (p 6, q 3.7, γ 15 yuan), acquired over 2024, purchases
   dated to the day through 2025 (patron.analytics.clv.simulate), spend in fen.
2. ``summarise_transactions``: calibration to 2025-06-30, holdout to 2025-12-31, days.
3. Fits, each with its parameter covariance: BG/NBD, Gamma-Gamma, Pareto/NBD. The median
   of ``--repeat`` runs is shown.
4. Scoring every customer: P(alive), expected purchases in the next 90 days, expected spend,
   and 12-month CLV at 1 % a month with its 90 % interval; again the median of the runs.
5. Memory: the tracemalloc peak of one more (untimed) run of each stage, and the process's
   peak RSS at the end.
6. Peer: lifetimes' ``BetaGeoFitter`` fit and scoring on the same (x, t_x, T), in a throwaway
   virtual environment (``--peer-python``, created under /tmp on first use with
   ``pip install lifetimes==0.11.3``) so the project's environment is never touched. If it
   cannot be installed or run, the reason is printed instead of a figure.

Run:  .venv/bin/python bench/clv.py               (full, about a minute)
      .venv/bin/python bench/clv.py --quick       (100,000 customers, a smoke run)
      .venv/bin/python bench/clv.py --no-peer     (skip lifetimes)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import scipy
from rich.console import Console
from rich.table import Table

from patron.analytics.clv import (
    customer_lifetime_value,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_paretonbd,
    holdout_report,
    summarise_transactions,
)
from patron.analytics.clv.simulate import simulate_bgnbd_transactions

console = Console(highlight=False, width=None if sys.stdout.isatty() else 170)
T = TypeVar("T")

TRUTH = {"r": 0.25, "alpha": 4.4 * 7, "a": 0.8, "b": 2.4}
SPEND_TRUTH = {"p": 6.0, "q": 3.7, "gamma": 15.0}  # yuan; γ is 1,500 in fen
FIRST_DAY, CALIBRATION_END, HOLDOUT_END = date(2024, 1, 1), date(2025, 6, 30), date(2025, 12, 31)
PEER_VERSION = "0.11.3"
PEER_QUOTED_FIT_S = 11.3
DEFAULT_PEER_VENV = Path(tempfile.gettempdir()) / "patron-bench-lifetimes"

PEER_SCRIPT = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np
from lifetimes import BetaGeoFitter
data = np.load(sys.argv[1])
x, t_x, t_age = data["frequency"], data["recency"], data["age"]
out = {}
start = time.perf_counter()
model = BetaGeoFitter()
model.fit(x, t_x, t_age)
out["fit_s"] = time.perf_counter() - start
out["params"] = {k: float(v) for k, v in model.params_.items()}
start = time.perf_counter()
alive = model.conditional_probability_alive(x, t_x, t_age)
expected = model.conditional_expected_number_of_purchases_up_to_time(90, x, t_x, t_age)
out["score_s"] = time.perf_counter() - start
out["nan_scores"] = int(np.isnan(np.asarray(alive)).sum() + np.isnan(np.asarray(expected)).sum())
print(json.dumps(out))
"""


# ------------------------------------------------------------------------------ results


@dataclass
class Row:
    work: str
    seconds: float | None
    target_s: float | None = None
    peer_s: float | None = None
    memory_mb: float | None = None
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        figure = "—" if row.seconds is None else f"{row.seconds:.2f} s"
        console.print(f"  [dim]{row.work:<58}[/] {figure}")

    def table(self, customers: int) -> Table:
        t = Table(title=f"Patron lifetime value, {customers:,} customers (lower is better)")
        for name, justify in (
            ("work", "left"),
            ("Patron", "right"),
            ("target", "right"),
            ("lifetimes", "right"),
            ("speed-up", "right"),
            ("peak memory", "right"),
            ("note", "left"),
        ):
            t.add_column(name, justify=justify)  # type: ignore[arg-type]
        for r in self.rows:
            figure = "—" if r.seconds is None else f"{r.seconds:.2f} s"
            target = ""
            if r.target_s is not None and r.seconds is not None:
                ok = r.seconds <= r.target_s
                target = f"[{'green' if ok else 'red'}]≤ {r.target_s:g} s {'✓' if ok else '✗'}[/]"
            peer = "" if r.peer_s is None else f"{r.peer_s:.2f} s"
            ratio = ""
            if r.peer_s is not None and r.seconds:
                ratio = f"{r.peer_s / r.seconds:.1f}×"
            memory = "" if r.memory_mb is None else f"{r.memory_mb:,.0f} MB"
            t.add_row(r.work, figure, target, peer, ratio, memory, r.note)
        return t


def timed(repeat: int, work: Callable[[], T]) -> tuple[float, T]:
    """Median wall time of ``repeat`` runs, and the last run's result."""
    times = []
    result: Any = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def peak_memory_mb(work: Callable[[], object]) -> float:
    """tracemalloc peak of one run (numpy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


# ------------------------------------------------------------------------------ the peer


def peer_python(path: Path | None) -> tuple[Path | None, str]:
    """The interpreter of a throwaway venv with lifetimes, creating it on first use."""
    venv = path or DEFAULT_PEER_VENV
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import lifetimes; print(lifetimes.__version__)"]
    if python.exists():
        done = subprocess.run(probe, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode == 0:
            return python, f"lifetimes {done.stdout.strip()} in {venv}"
    console.print(f"  [dim]installing lifetimes=={PEER_VERSION} into a throwaway venv {venv} …[/]")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"lifetimes=={PEER_VERSION}"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"could not create the peer venv: {exc}"
    if install.returncode != 0:
        tail = (install.stderr or install.stdout).strip().splitlines()[-1:]
        return None, f"pip install lifetimes=={PEER_VERSION} failed: {' '.join(tail)}"
    done = subprocess.run(probe, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        return None, f"lifetimes installed but does not import: {done.stderr.strip()[-200:]}"
    return python, f"lifetimes {done.stdout.strip()} in {venv} (just installed)"


def run_peer(python: Path, x: np.ndarray, t_x: np.ndarray, t_age: np.ndarray) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="patron-bench-clv-") as tmp:
        data = Path(tmp) / "histories.npz"
        np.savez(data, frequency=x, recency=t_x, age=t_age)
        script = Path(tmp) / "peer.py"
        script.write_text(PEER_SCRIPT)
        done = subprocess.run(
            [str(python), str(script), str(data)],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": last[-300:]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ------------------------------------------------------------------------------ main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--customers", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=3, help="timed runs per stage (median shown)")
    p.add_argument("--quick", action="store_true", help="100,000 customers, one run each")
    p.add_argument("--no-peer", action="store_true", help="skip the lifetimes comparison")
    p.add_argument("--peer-python", type=Path, default=None, help="venv holding lifetimes")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if args.quick:
        args.customers, args.repeat = 100_000, 1
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    console.print(
        f"[bold]Patron lifetime-value bench[/]  Python {platform.python_version()}, numpy "
        f"{np.__version__}, scipy {scipy.__version__}, {os.cpu_count()} cores; "
        f"{args.customers:,} customers, median of {args.repeat} run(s) per stage"
    )
    report = Report()

    start = time.perf_counter()
    transactions = simulate_bgnbd_transactions(
        customers=args.customers,
        **TRUTH,
        **SPEND_TRUTH,
        first_day=FIRST_DAY,
        acquisition_days=366,
        last_day=HOLDOUT_END,
        unit="days",
        seed=args.seed,
    )
    rows = len(transactions.customer_ids)
    report.add(Row(f"simulate {rows:,} transactions", time.perf_counter() - start, note="setup"))

    def summarise() -> Any:
        return summarise_transactions(
            customer_ids=transactions.customer_ids,
            purchased_on=transactions.purchased_on,
            spend=transactions.spend,
            calibration_end=CALIBRATION_END,
            holdout_end=HOLDOUT_END,
            unit="days",
        )

    seconds, summary = timed(args.repeat, summarise)
    x, t_x, t_age, m = summary.frequency, summary.recency, summary.age, summary.monetary
    report.add(
        Row(
            f"summarise → {len(summary):,} customers (distinct days)",
            seconds,
            memory_mb=peak_memory_mb(summarise),
        )
    )

    def bg() -> Any:
        return fit_bgnbd(x, t_x, t_age, unit="days")

    def gg() -> Any:
        return fit_gamma_gamma(x, m)

    def pn() -> Any:
        return fit_paretonbd(x, t_x, t_age, unit="days")

    bg_s, bg_fit = timed(args.repeat, bg)
    gg_s, gg_fit = timed(args.repeat, gg)
    pn_s, pn_fit = timed(args.repeat, pn)
    params = ", ".join(f"{k} {v:.3g}" for k, v in bg_fit.model.parameters().items())
    truth = ", ".join(f"{k} {v:.3g}" for k, v in TRUTH.items())
    bg_row = Row(
        f"fit BG/NBD ({bg_fit.distinct_histories:,} distinct histories)",
        bg_s,
        memory_mb=peak_memory_mb(bg),
        note=f"{params} (truth {truth})",
    )
    report.add(bg_row)
    spend = ", ".join(f"{k} {v:.3g}" for k, v in gg_fit.model.parameters().items())
    report.add(
        Row(
            f"fit Gamma-Gamma ({gg_fit.customers:,} repeat customers)",
            gg_s,
            memory_mb=peak_memory_mb(gg),
            note=f"{spend} (truth p 6, q 3.7, γ 1.5e+03 fen)",
        )
    )
    report.add(
        Row(
            "fit BG/NBD + Gamma-Gamma",
            bg_s + gg_s,
            target_s=10.0,
            note="the target fit figure",
        )
    )
    pn_params = ", ".join(f"{k} {v:.3g}" for k, v in pn_fit.model.parameters().items())
    report.add(
        Row(
            f"fit Pareto/NBD ({pn_fit.distinct_histories:,} distinct histories)",
            pn_s,
            target_s=10.0,
            memory_mb=peak_memory_mb(pn),
            note=f"{pn_params}; misspecified here (BG/NBD data)",
        )
    )

    def p_alive_and_90_days() -> Any:
        return (
            bg_fit.model.p_alive(x, t_x, t_age),
            bg_fit.model.expected_purchases(90, x, t_x, t_age),
        )

    def score(purchases: Any) -> Callable[[], Any]:
        def work() -> Any:
            alive = purchases.model.p_alive(x, t_x, t_age)
            expected = purchases.model.expected_purchases(90, x, t_x, t_age)
            value = customer_lifetime_value(
                purchases,
                gg_fit,
                frequency=x,
                recency=t_x,
                age=t_age,
                monetary=m,
                horizon_months=12,
                monthly_discount_rate=0.01,
            )
            return alive, expected, value

        return work

    light_s, _ = timed(args.repeat, p_alive_and_90_days)
    light_row = Row("score BG/NBD: P(alive) + purchases in 90 days", light_s)
    report.add(light_row)
    bg_score_s, (alive, expected, value) = timed(args.repeat, score(bg_fit))
    finite = all(np.isfinite(a).all() and (a >= 0).all() for a in (alive, expected, value.value))
    report.add(
        Row(
            "score BG/NBD + GG: P(alive), 90 days, spend, CLV 12 m + 90 % interval",
            bg_score_s,
            target_s=2.0,
            memory_mb=peak_memory_mb(score(bg_fit)),
            note=f"{'all finite, ≥ 0' if finite else 'NON-FINITE OR NEGATIVE'}; "
            f"mean CLV {value.value.mean() / 100:,.0f} yuan",
        )
    )
    pn_score_s, _ = timed(args.repeat, score(pn_fit))
    report.add(
        Row(
            "score Pareto/NBD + GG: the same",
            pn_score_s,
            target_s=2.0,
            memory_mb=peak_memory_mb(score(pn_fit)),
        )
    )
    holdout_s, holdout = timed(1, lambda: holdout_report(bg_fit.model, summary))
    error = holdout.relative_error
    report.add(
        Row(
            "holdout table BG/NBD (Jul–Dec 2025, by frequency 0…7+)",
            holdout_s,
            note=f"predicted {holdout.predicted_total:,.0f} vs actual "
            f"{holdout.actual_total:,.0f} repeat purchases"
            + ("" if error is None else f" ({error:+.1%})"),
        )
    )

    if args.no_peer:
        console.print("[yellow]lifetimes: skipped (--no-peer)[/]")
    else:
        python, how = peer_python(args.peer_python)
        if python is None:
            console.print(f"[yellow]lifetimes: not run — {how}[/]")
            bg_row.note += f"; lifetimes not run: {how}"
        else:
            console.print(f"  [dim]peer: {how}[/]")
            peer = run_peer(python, x, t_x, t_age)
            if "error" in peer:
                console.print(f"[yellow]lifetimes failed: {peer['error']}[/]")
                bg_row.note += f"; lifetimes failed: {peer['error']}"
            else:
                bg_row.peer_s = peer["fit_s"]
                light_row.peer_s = peer["score_s"]
                peer_params = ", ".join(f"{k} {v:.3g}" for k, v in peer["params"].items())
                light_row.note = f"lifetimes NaN scores: {peer['nan_scores']}"
                console.print(f"  [dim]lifetimes parameters: {peer_params}[/]")

    console.print(report.table(args.customers))
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    console.print(
        f"[dim]Peak memory: tracemalloc peak of one extra run of the stage; process peak RSS "
        f"{peak_rss:,.0f} MB. lifetimes {PEER_VERSION} is quoted at {PEER_QUOTED_FIT_S} s for "
        f"the 1,000,000-customer BG/NBD fit; the ratio above is from this machine. "
        f"Total {time.perf_counter() - started:.0f} s.[/]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
