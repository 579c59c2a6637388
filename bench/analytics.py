"""Analytics definitions at chain scale: every step timed on DuckDB, pandas and polars beside it.

Targets (docs/contributing.md, Benchmarks): all definitions for 1,000,000 customers and 10,000,000 order lines in
≤ 60 s and ≤ 4 GB on 2 cores, and RFM + value segments + lifecycle ≥ 5× faster than the same
in plain pandas. Figures are printed, never asserted.

How it runs:

1. A synthetic chain (``patron.analytics.engine.synthetic``: DuckDB SQL, no Python loops):
   customers signed up over three years, two years of orders with skewed counts per
   customer, ~15 % anonymous, ~3 % refunded (two in three in full), 1–5 lines per order,
   written into a DuckDB file in the ``schema.py`` tables, in a child process (so its memory
   is not counted below). The file is kept in the temp folder and reused by later runs with
   the same size and seed (``--fresh`` rebuilds it).
2. Each definition materialised as Arrow (``to_pyarrow()``, as the pipeline takes results
   out of the engine) on DuckDB with ``threads=2``: customer_scores, cohorts, kpis by day /
   store / channel / category, segment_migration; the wall and CPU time of each, the total,
   and the process's peak RSS. Every step and every peer runs three times (``--runs``) and
   the best run counts, as in the peers' figures (docs/contributing.md, Benchmarks): each engine run
   on a fresh connection, each peer run in a fresh process, so all read the store from the
   file every time. Beside each step, the Python side of a run measured apart: reading
   the tables' schemas, building the Ibis expression and compiling it to SQL.
3. The pandas peer: RFM, quintiles, eight segments and lifecycle stages for the same customers in
   idiomatic pandas (groupby, rank, np.select), in a child process: the time to load the
   orders and customers from the same store into pandas and the time to compute, and its
   peak RSS. The target ratio is like for like: both start from the analytics store on disk
   and end with every customer's scores in memory, so pandas' load counts as the engine's
   own reading does. Its compute time alone (the kindest reading for pandas) is shown
   beside it. Both by wall clock and by CPU seconds (the machine is shared; CPU time is the
   steadier figure).
4. The fastest peer: the same work in polars' lazy API (group_by/agg, rank, when/then,
   joins, one ``collect()``), in its own child process on polars' default thread pool
   (one thread per core). It loads the same orders and customers from the same store
   (DuckDB → Arrow → polars), and is timed the same way: load, compute, CPU seconds and
   peak RSS. Its ratio is printed beside pandas' as "vs fastest peer (polars)"; there is no
   target for it.
5. Agreement: customers per segment and per stage from the engine, pandas and polars, side
   by side; every count must be the same in all three.

Run:  .venv/bin/python bench/analytics.py                 (1 M customers, 10 M lines)
      .venv/bin/python bench/analytics.py --quick         (100 k customers, 1 M lines)
      --no-pandas / --no-polars skip a peer; --no-nightly skips the whole nightly run
      (bench/_nightly.py: churn, CLV, rules, recommendations, forecast and the write-back
      into PostgreSQL, each once); --fresh rebuilds the data file.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table

from patron.analytics.engine import (
    KPI_DIMENSIONS,
    SEGMENTS,
    STAGES,
    AnalyticsParams,
    Tables,
    cohorts,
    customer_scores,
    kpis,
    segment_migration,
)
from patron.analytics.engine.synthetic import generate

console = Console(highlight=False, width=None if sys.stdout.isatty() else 170)
AS_OF = date(2025, 12, 31)
TOTAL_TARGET_S, MEMORY_TARGET_MB, PANDAS_RATIO_TARGET = 60.0, 4096.0, 5.0


def _peak_mb() -> float:
    """Peak RSS of this process, in MB.

    Read from ``VmHWM`` on Linux: ``ru_maxrss`` survives ``exec``, so a child started by
    ``spawn`` would report at least the parent's peak RSS at that moment, not its own."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _cpu_s() -> float:
    """CPU seconds of this process (all threads): steadier than wall time on a shared box."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ----------------------------------------------------------------------------- data


def _generate(path: str, customers: int, lines: int, seed: int) -> dict[str, Any]:
    """In a child process: write the synthetic store into ``path``."""
    con = duckdb.connect(path)
    try:
        con.execute("SET threads = 2")
        con.execute("SET enable_progress_bar = false")
        started = time.perf_counter()
        counts = generate(con, customers=customers, lines=lines, as_of=AS_OF, seed=seed)
        con.execute("CHECKPOINT")
        return {"seconds": time.perf_counter() - started, "counts": counts, "peak_mb": _peak_mb()}
    finally:
        con.close()


def _in_child(work: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(work, args)


# ------------------------------------------------------------------------------ pandas


def _pandas_peer(path: str, as_of_iso: str) -> dict[str, Any]:
    """In a child process: RFM + quintiles + segments + lifecycle as an analyst would write
    them in pandas, with the engine's definitions and default parameters."""
    p = AnalyticsParams(as_of=date.fromisoformat(as_of_iso))
    started, cpu_started = time.perf_counter(), _cpu_s()
    con = duckdb.connect(path, read_only=True)
    orders = con.sql("SELECT customer_id, order_date, net_fen FROM orders").df()
    customers = con.sql("SELECT customer_id, signup_date FROM customers").df()
    con.close()
    load_s, load_cpu_s = time.perf_counter() - started, _cpu_s() - cpu_started

    started, cpu_started = time.perf_counter(), _cpu_s()
    as_of = pd.Timestamp(p.as_of)
    orders["order_date"] = pd.to_datetime(orders["order_date"])
    customers["signup_date"] = pd.to_datetime(customers["signup_date"])
    counted = orders[
        orders["customer_id"].notna() & (orders["net_fen"] > 0) & (orders["order_date"] <= as_of)
    ].astype({"customer_id": "int64"})

    # RFM over the window.
    assert p.window_days is not None
    window = counted[counted["order_date"] > as_of - pd.Timedelta(days=p.window_days)]
    rfm = window.groupby("customer_id").agg(
        last=("order_date", "max"), frequency=("net_fen", "size"), monetary_fen=("net_fen", "sum")
    )
    rfm["recency_days"] = (as_of - rfm["last"]).dt.days
    n = len(rfm)

    def quintile(strictly_worse: pd.Series) -> pd.Series:
        return (1 + (5 * strictly_worse) // max(n - 1, 1)).clip(upper=5) if n > 1 else 1

    rfm["r_score"] = quintile(rfm["recency_days"].rank(method="min", ascending=False) - 1)
    rfm["f_score"] = quintile(rfm["frequency"].rank(method="min") - 1)
    rfm["m_score"] = quintile(rfm["monetary_fen"].rank(method="min") - 1)
    near = rfm["recency_days"] <= rfm["recency_days"].mean()
    f_high = rfm["frequency"] >= rfm["frequency"].mean()
    m_high = rfm["monetary_fen"] >= rfm["monetary_fen"].mean()
    rfm["segment"] = np.select(
        [near & f_high, near & ~f_high, ~near & f_high],
        ["value", "develop", "keep"],
        default="retain",
    )
    rfm["segment"] = np.where(m_high, "important_", "general_") + rfm["segment"]

    # Lifecycle over all history.
    life = counted.groupby("customer_id").agg(
        first=("order_date", "min"),
        last=("order_date", "max"),
        orders_ever=("order_date", "size"),
    )
    days = pd.Timedelta(days=1)
    life["loyal_count"] = (
        counted[counted["order_date"] > as_of - p.loyal_days * days].groupby("customer_id").size()
    )
    won_back_from = as_of - p.won_back_days * days
    life["first_recent"] = (
        counted[counted["order_date"] > won_back_from].groupby("customer_id")["order_date"].min()
    )
    life["last_earlier"] = (
        counted[counted["order_date"] <= won_back_from].groupby("customer_id")["order_date"].max()
    )
    out = customers.set_index("customer_id").join(life, how="left")
    out = out[(out["signup_date"] <= as_of) | out["last"].notna()]
    silent = (as_of - out["last"]).dt.days
    span = (out["last"] - out["first"]).dt.days
    gaps = out["orders_ever"] - 1
    at_risk = (silent > p.at_risk_min_days) & (
        (gaps == 0) | (silent * gaps > span * p.at_risk_factor)
    )
    returned = (out["first_recent"] - out["last_earlier"]).dt.days > p.lapsed_days
    out["stage"] = np.select(
        [
            out["first"].isna(),
            silent > p.lapsed_days,
            at_risk,
            returned,
            (as_of - out["first"]).dt.days < p.new_days,
            out["loyal_count"].fillna(0) >= p.loyal_orders,
        ],
        ["prospect", "lapsed", "at_risk", "won_back", "new", "loyal"],
        default="active",
    )
    out = out.join(rfm[["recency_days", "frequency", "monetary_fen", "r_score", "f_score",
                        "m_score", "segment"]], how="left")  # fmt: skip
    compute_s, compute_cpu_s = time.perf_counter() - started, _cpu_s() - cpu_started
    return {
        "load_s": load_s,
        "load_cpu_s": load_cpu_s,
        "compute_s": compute_s,
        "compute_cpu_s": compute_cpu_s,
        "rows": len(out),
        "segments": out["segment"].value_counts().to_dict(),
        "stages": out["stage"].value_counts().to_dict(),
        "peak_mb": _peak_mb(),
    }


# ------------------------------------------------------------------------------ polars


def _polars_peer(path: str, as_of_iso: str) -> dict[str, Any]:
    """In a child process: the same RFM + quintiles + segments + lifecycle in polars' lazy
    API (one plan per step, run by ``collect()`` on polars' own thread pool)."""
    import polars as pl  # here, so the engine's process doesn't carry polars in its RSS

    p = AnalyticsParams(as_of=date.fromisoformat(as_of_iso))
    started, cpu_started = time.perf_counter(), _cpu_s()
    con = duckdb.connect(path, read_only=True)
    orders = pl.from_arrow(
        con.sql("SELECT customer_id, order_date, net_fen FROM orders").to_arrow_table()
    )
    customers = pl.from_arrow(
        con.sql("SELECT customer_id, signup_date FROM customers").to_arrow_table()
    )
    con.close()
    assert isinstance(orders, pl.DataFrame) and isinstance(customers, pl.DataFrame)
    load_s, load_cpu_s = time.perf_counter() - started, _cpu_s() - cpu_started

    started, cpu_started = time.perf_counter(), _cpu_s()
    as_of = p.as_of
    assert p.window_days is not None
    window_from = as_of - timedelta(days=p.window_days)
    loyal_from = as_of - timedelta(days=p.loyal_days)
    won_back_from = as_of - timedelta(days=p.won_back_days)
    day, net = pl.col("order_date"), pl.col("net_fen")
    counted = orders.lazy().filter(pl.col("customer_id").is_not_null(), net > 0, day <= as_of)

    # One pass over the counted orders: the RFM window's figures and the lifecycle's.
    in_window = day > window_from
    per_buyer = counted.group_by("customer_id").agg(
        frequency=in_window.sum().cast(pl.Int64),
        monetary_fen=net.filter(in_window).sum(),
        first=day.min(),
        last=day.max(),
        orders_ever=pl.len().cast(pl.Int64),
        loyal_count=(day > loyal_from).sum().cast(pl.Int64),
        first_recent=day.filter(day > won_back_from).min(),
        last_earlier=day.filter(day <= won_back_from).max(),
    )

    # RFM among the window's buyers.
    n = pl.len().cast(pl.Int64)

    def quintile(strictly_worse: pl.Expr) -> pl.Expr:
        score = pl.min_horizontal(pl.lit(5), 1 + (5 * strictly_worse) // (n - 1))
        return pl.when(n > 1).then(score).otherwise(pl.lit(1))

    def worse(column: str, *, low_is_better: bool = False) -> pl.Expr:
        return pl.col(column).rank("min", descending=low_is_better).cast(pl.Int64) - 1

    def at_or_above_mean(column: str) -> pl.Expr:  # exactly: x >= Σx / n  ⇔  x·n >= Σx
        return pl.col(column) * n >= pl.col(column).sum()

    rfm = (
        per_buyer.filter(pl.col("frequency") > 0)
        .select(
            "customer_id",
            "frequency",
            "monetary_fen",
            recency_days=(pl.lit(as_of) - pl.col("last")).dt.total_days(),
        )
        .with_columns(
            r_score=quintile(worse("recency_days", low_is_better=True)),
            f_score=quintile(worse("frequency")),
            m_score=quintile(worse("monetary_fen")),
            near=pl.col("recency_days") * n <= pl.col("recency_days").sum(),
            f_high=at_or_above_mean("frequency"),
            m_high=at_or_above_mean("monetary_fen"),
        )
        .select(
            pl.exclude("near", "f_high", "m_high"),
            segment=pl.concat_str(
                pl.when("m_high").then(pl.lit("important_")).otherwise(pl.lit("general_")),
                pl.when("near")
                .then(pl.when("f_high").then(pl.lit("value")).otherwise(pl.lit("develop")))
                .otherwise(pl.when("f_high").then(pl.lit("keep")).otherwise(pl.lit("retain"))),
            ),
        )
    )

    # Lifecycle over all history, for every customer known on as_of.
    silent = (pl.lit(as_of) - pl.col("last")).dt.total_days()
    span = (pl.col("last") - pl.col("first")).dt.total_days()
    gaps = pl.col("orders_ever") - 1
    at_risk = (silent > p.at_risk_min_days) & (
        (gaps == 0) | (silent * gaps > span * p.at_risk_factor)
    )
    returned = (pl.col("first_recent") - pl.col("last_earlier")).dt.total_days() > p.lapsed_days
    stage = (
        pl.when(pl.col("first").is_null())
        .then(pl.lit("prospect"))
        .when(silent > p.lapsed_days)
        .then(pl.lit("lapsed"))
        .when(at_risk)
        .then(pl.lit("at_risk"))
        .when(returned.fill_null(False))
        .then(pl.lit("won_back"))
        .when((pl.lit(as_of) - pl.col("first")).dt.total_days() < p.new_days)
        .then(pl.lit("new"))
        .when(pl.col("loyal_count") >= p.loyal_orders)
        .then(pl.lit("loyal"))
        .otherwise(pl.lit("active"))
    )
    out = (
        customers.lazy()
        .join(per_buyer.drop("frequency", "monetary_fen"), on="customer_id", how="left")
        .filter((pl.col("signup_date") <= as_of) | pl.col("last").is_not_null())
        .select("customer_id", stage=stage)
        .join(rfm, on="customer_id", how="left")
        .collect()
    )
    compute_s, compute_cpu_s = time.perf_counter() - started, _cpu_s() - cpu_started

    def counts(column: str) -> dict[str, int]:
        tally = out[column].drop_nulls().value_counts()
        return dict(zip(tally[column].to_list(), tally["count"].to_list(), strict=True))

    return {
        "load_s": load_s,
        "load_cpu_s": load_cpu_s,
        "compute_s": compute_s,
        "compute_cpu_s": compute_cpu_s,
        "rows": out.height,
        "segments": counts("segment"),
        "stages": counts("stage"),
        "peak_mb": _peak_mb(),
        "threads": pl.thread_pool_size(),
    }


# ---------------------------------------------------------------------------- nightly


def _nightly_child(
    path: str, as_of_iso: str, pg_url: str | None, skip: list[str]
) -> dict[str, Any]:
    from _nightly import run_nightly

    figures = run_nightly(Path(path), date.fromisoformat(as_of_iso), pg_url, frozenset(skip))
    return {
        "steps": figures.steps,
        "churn_steps": figures.churn_steps,
        "churn_steps_cpu": figures.churn_steps_cpu,
        "peak_mb": figures.peak_mb,
        "notes": figures.notes,
    }


def nightly_table(path: Path, skip: list[str]) -> None:
    """The whole nightly run after the extract, once, in a child process (bench/_nightly.py)."""
    from _common import postgres_reachable, postgres_schema

    console.print("  [dim]the whole nightly run, once, in a child process …[/]")
    if postgres_reachable():
        with postgres_schema("patron_bench_nightly") as url:
            found = _in_child(_nightly_child, str(path), AS_OF.isoformat(), url, skip)
    else:
        found = _in_child(_nightly_child, str(path), AS_OF.isoformat(), None, skip)
    t = Table(title="The nightly run after the extract: every step once (DuckDB threads=2)")
    for column in ("step", "wall", "CPU", "what"):
        t.add_column(column, justify="left" if column in ("step", "what") else "right")
    targets = {"churn risk and CLV": 3.0, "write-back: scores (PostgreSQL COPY)": 10.0}
    for name, wall, cpu, what in found["steps"]:
        target = targets.get(name)
        shown = f"{wall:.2f} s"
        if target is not None:
            shown = f"[{'green' if wall <= target else 'red'}]{shown} (≤ {target:g} s)[/]"
        t.add_row(name, shown, f"{cpu:.2f} s", what)
    total = sum(wall for _, wall, _, _ in found["steps"])
    ok = total <= TOTAL_TARGET_S
    t.add_row(
        "[bold]total[/]",
        f"[{'green' if ok else 'red'}]{total:.2f} s (≤ {TOTAL_TARGET_S:g} s)[/]",
        f"{sum(cpu for _, _, cpu, _ in found['steps']):.2f} s",
        f"peak RSS {found['peak_mb']:,.0f} MB",
    )
    console.print(t)
    cpu_of = found.get("churn_steps_cpu", {})
    churn = ", ".join(
        f"{k} {v:.2f} s (CPU {cpu_of.get(k, 0.0):.2f} s)" for k, v in found["churn_steps"].items()
    )
    console.print(f"  [dim]churn and CLV inside: {churn}[/]")
    for note in found["notes"]:
        console.print(f"  [yellow]{note}[/]")


# ------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--customers", type=int, default=1_000_000)
    p.add_argument("--lines", type=int, default=10_000_000)
    p.add_argument("--quick", action="store_true", help="100,000 customers, 1,000,000 lines")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--fresh", action="store_true", help="rebuild the data file")
    p.add_argument("--no-pandas", action="store_true", help="skip the pandas peer")
    p.add_argument("--no-polars", action="store_true", help="skip the polars peer")
    p.add_argument(
        "--runs", type=int, default=3, help="runs of each step and peer; the best is shown"
    )
    p.add_argument(
        "--no-nightly",
        action="store_true",
        help="skip the whole nightly run (churn, CLV, rules, recommendations, write-back)",
    )
    p.add_argument(
        "--nightly-skip",
        action="append",
        default=[],
        choices=["rules", "recommendations", "forecast"],
        help="leave a step out of the whole nightly run (repeatable)",
    )
    p.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = p.parse_args(argv)
    if args.quick:
        args.customers, args.lines = 100_000, 1_000_000
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    # polars is imported only in its child process, so the engine's peak RSS doesn't carry it.
    polars_version = "" if args.no_polars else f"polars {importlib.metadata.version('polars')}, "
    console.print(
        f"[bold]Patron analytics bench[/]  Python {platform.python_version()}, ibis "
        f"{ibis.__version__}, DuckDB {duckdb.__version__} (threads=2), pandas {pd.__version__}, "
        f"{polars_version}{os.cpu_count()} cores; {args.customers:,} customers, "
        f"{args.lines:,} lines, as of {AS_OF}"
    )
    args.dir.mkdir(parents=True, exist_ok=True)
    path = args.dir / f"patron-bench-analytics-{args.customers}-{args.lines}-{args.seed}.duckdb"
    if args.fresh or not path.exists():
        path.unlink(missing_ok=True)
        made = _in_child(_generate, str(path), args.customers, args.lines, args.seed)
        counts = ", ".join(f"{k} {v:,}" for k, v in made["counts"].items())
        console.print(
            f"  [dim]generated {path} in {made['seconds']:.1f} s "
            f"(peak {made['peak_mb']:,.0f} MB): {counts}[/]"
        )
    else:
        console.print(f"  [dim]reusing {path} (--fresh to rebuild)[/]")

    params = AnalyticsParams(as_of=AS_OF)
    steps: list[tuple[str, Callable[[Tables], ibis.Table]]] = [
        ("customer_scores", lambda t: customer_scores(t, params)),
        ("cohorts", lambda t: cohorts(t, params)),
        *[
            (f"kpis by {by}", lambda t, by=by: kpis(t, params, by))  # type: ignore[misc]
            for by in KPI_DIMENSIONS
        ],
        ("segment_migration", lambda t: segment_migration(t, params)),
    ]
    timings: list[tuple[str, float, float, int]] = []
    scores: pa.Table | None = None
    for name, build in steps:
        runs, compiles = [], []
        for _ in range(args.runs):
            # A fresh connection each run: the engine reads the store from the file every
            # time, as each peer's fresh process does (the OS file cache is warm for both).
            con = ibis.duckdb.connect(str(path), threads=2, read_only=True)
            con.con.execute("SET enable_progress_bar = false").fetchall()
            # Materialised as Arrow, as the pipeline takes the results out of the engine.
            wall, cpu = time.perf_counter(), _cpu_s()
            result = build(Tables.from_backend(con)).to_pyarrow()
            runs.append((time.perf_counter() - wall, _cpu_s() - cpu))
            # Apart from the timed run: the Python side alone (reading the tables' schemas,
            # building the Ibis expression, compiling it to SQL), which the run includes.
            started_compile = time.perf_counter()
            ibis.to_sql(build(Tables.from_backend(con)), dialect="duckdb")
            compiles.append(time.perf_counter() - started_compile)
            con.disconnect()
        wall, cpu = min(runs)
        timings.append((name, wall, cpu, result.num_rows))
        scores = result if scores is None else scores
        each = " ".join(f"{w:.2f}" for w, _ in runs)
        console.print(
            f"  [dim]{name:<24}[/] {wall:6.2f} s  (CPU {cpu:5.2f} s)  {result.num_rows:>10,} rows"
            f"  [dim](runs: {each} s; Ibis build + compile, measured apart: "
            f"{min(compiles):.3f} s)[/]"
        )
    engine_peak = _peak_mb()
    total_wall = sum(w for _, w, _, _ in timings)
    total_cpu = sum(c for _, _, c, _ in timings)
    assert scores is not None
    our_segments = {
        row["values"]: row["counts"] for row in pc.value_counts(scores["segment"]).to_pylist()
    }
    our_stages = {
        row["values"]: row["counts"] for row in pc.value_counts(scores["stage"]).to_pylist()
    }

    peers: dict[str, dict[str, Any]] = {}
    for name, work, skip in (
        ("pandas", _pandas_peer, args.no_pandas),
        ("polars", _polars_peer, args.no_polars),
    ):
        if not skip:
            console.print(f"  [dim]{name} peer ({args.runs} runs, a child process each) …[/]")
            runs = [_in_child(work, str(path), AS_OF.isoformat()) for _ in range(args.runs)]
            peers[name] = min(runs, key=lambda r: r["load_s"] + r["compute_s"])
            peers[name]["peak_mb"] = max(r["peak_mb"] for r in runs)
            each = " ".join(f"{r['load_s'] + r['compute_s']:.2f}" for r in runs)
            console.print(f"  [dim]{name} runs: {each} s (load + compute)[/]")
    if "polars" in peers:
        console.print(
            f"  [dim]polars ran on its default pool of {peers['polars']['threads']} threads[/]"
        )

    def peer_total(peer: dict[str, Any]) -> tuple[float, float]:
        """Like for like: from the store on disk to every customer's scores in memory."""
        return peer["load_s"] + peer["compute_s"], peer["load_cpu_s"] + peer["compute_cpu_s"]

    def peer_time(peer: dict[str, Any]) -> str:
        total_s, _ = peer_total(peer)
        return f"{total_s:.2f} s ({peer['load_s']:.2f} load + {peer['compute_s']:.2f} compute)"

    t = Table(title=f"Patron analytics, {args.customers:,} customers, {args.lines:,} lines")
    columns = ["step", "DuckDB (Ibis)", "CPU", "rows"]
    if "pandas" in peers:
        columns += ["pandas", "pandas CPU", "speed-up vs pandas"]
    if "polars" in peers:
        columns += ["polars", "polars CPU", "vs fastest peer (polars)"]
    for column in columns:
        t.add_column(column, justify="left" if column == "step" else "right")
    blank = [""] * (len(columns) - 4)
    for name, wall, cpu, rows in timings:
        if name != "customer_scores" or not peers:
            t.add_row(name, f"{wall:.2f} s", f"{cpu:.2f} s", f"{rows:,}", *blank)
            continue
        cells = [name + " (RFM, segments, lifecycle)", f"{wall:.2f} s", f"{cpu:.2f} s", f"{rows:,}"]
        if "pandas" in peers:
            peer = peers["pandas"]
            total_s, total_cpu_s = peer_total(peer)
            ratio = total_s / wall
            ok = ratio >= PANDAS_RATIO_TARGET
            cells += [
                peer_time(peer),
                f"{total_cpu_s:.2f} s",
                f"[{'green' if ok else 'red'}]{ratio:.1f}×[/] (target ≥ {PANDAS_RATIO_TARGET:g}×;"
                f" CPU {total_cpu_s / cpu:.1f}×; pandas compute alone "
                f"{peer['compute_s'] / wall:.1f}×)",
            ]
        if "polars" in peers:
            peer = peers["polars"]
            total_s, total_cpu_s = peer_total(peer)
            cells += [
                peer_time(peer),
                f"{total_cpu_s:.2f} s",
                f"{total_s / wall:.1f}× (CPU {total_cpu_s / cpu:.1f}×; polars compute alone "
                f"{peer['compute_s'] / wall:.1f}×)",
            ]
        t.add_row(*cells)
    ok_t, ok_m = total_wall <= TOTAL_TARGET_S, engine_peak <= MEMORY_TARGET_MB
    t.add_row(
        "[bold]total[/]",
        f"[{'green' if ok_t else 'red'}]{total_wall:.2f} s (≤ {TOTAL_TARGET_S:g} s)[/]",
        f"{total_cpu:.2f} s",
        "",
        *blank,
    )
    peak_cells = []
    for peer in peers.values():
        peak_cells += [f"{peer['peak_mb']:,.0f} MB", "", ""]
    t.add_row(
        "peak RSS",
        f"[{'green' if ok_m else 'red'}]{engine_peak:,.0f} MB (≤ {MEMORY_TARGET_MB:,.0f} MB)[/]",
        "",
        "",
        *peak_cells,
    )
    console.print(t)

    if peers:
        a = Table(title="Agreement: customers per segment and stage")
        for column in ("code", "DuckDB (Ibis)", *peers, "same"):
            a.add_column(column, justify="left" if column == "code" else "right")
        same_all = True
        for code in [*SEGMENTS, None, *STAGES]:
            if code is None:
                a.add_section()
                continue
            mine = our_segments.get(code, 0) if code in SEGMENTS else our_stages.get(code, 0)
            theirs = [
                peer["segments" if code in SEGMENTS else "stages"].get(code, 0)
                for peer in peers.values()
            ]
            same = all(count == mine for count in theirs)
            same_all &= same
            a.add_row(
                code,
                f"{mine:,}",
                *(f"{count:,}" for count in theirs),
                "✓" if same else "[red]✗[/]",
            )
        mine = our_segments.get(None, 0)
        theirs = [peer["rows"] - sum(peer["segments"].values()) for peer in peers.values()]
        same = all(count == mine for count in theirs)
        same_all &= same
        a.add_section()
        a.add_row(
            "(no segment)",
            f"{mine:,}",
            *(f"{count:,}" for count in theirs),
            "✓" if same else "[red]✗[/]",
        )
        console.print(a)
        names = ", ".join(peers)
        console.print(
            f"[green]{names} and the engine agree on every count[/]"
            if same_all
            else f"[red]{names} and the engine DISAGREE[/]"
        )
    if not args.no_nightly:
        nightly_table(path, args.nightly_skip)
    load = os.getloadavg()
    console.print(
        f"[dim]Load average now {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on "
        f"{os.cpu_count()} cores: other work on the machine stretches wall times; CPU seconds "
        f"are steadier.[/]"
    )
    console.print(
        f"[dim]Peak RSS of the process running the definitions (generation and the peers ran "
        f"in child processes). Total wall time {time.perf_counter() - started:.0f} s.[/]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
