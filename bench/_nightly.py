"""The whole nightly run at chain scale, for bench/analytics.py: the steps the pipeline runs
after the extract, in its order and through its own functions, once each, on the synthetic
store, then the write-back into PostgreSQL.

- definitions: ``service.compute_results`` on one DuckDB connection (threads=2): scores,
  cohorts, KPIs, migration;
- churn and CLV: ``score_churn`` (features at three cut-offs, BG/NBD, the model, Gamma-Gamma,
  CLV, bands, reasons);
- rules, recommendations, forecast: ``analytics.nightly``'s three steps;
- write-back on PostgreSQL: a fresh schema, migrated, with one bare ``customer`` row per
  synthetic customer (made by one ``INSERT … SELECT generate_series``: the services would
  take minutes and the write-back only needs the ids to exist) and the synthetic store's
  stores under their ids, an ``analytics_run`` row, then the scores (COPY), the churn risk,
  and the rules, recommendations and forecast, each timed, in the pipeline's functions.

The data: bench/analytics.py builds the store with analytics/engine/synthetic.py (DuckDB SQL
straight into the file, no services). The extract is not here: a nightly extract moves one
day's changes (bench/ingest.py's and bench/churn.py's databases show its cost), and the
synthetic store has no database behind it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
from _common import cpu_of


@dataclass
class NightlyFigures:
    steps: list[tuple[str, float, float, str]] = field(default_factory=list)  # name, wall, cpu
    churn_steps: dict[str, float] = field(default_factory=dict)
    churn_steps_cpu: dict[str, float] = field(default_factory=dict)
    peak_mb: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def total_s(self) -> float:
        return sum(wall for _, wall, _, _ in self.steps)


def _cpu_s() -> float:
    times = os.times()
    return times.user + times.system


class _Timer:
    def __init__(self, figures: NightlyFigures) -> None:
        self.figures = figures

    def __call__(self, name: str, work: Any, describe: Any = None, backends: Any = None) -> Any:
        """``backends``: a callable giving the database server's processes for this work,
        whose CPU is then said beside this process's (the write-back's cost is mostly
        PostgreSQL's, which this process's CPU does not show)."""
        before = cpu_of(backends()) if backends else 0.0
        wall, cpu = time.perf_counter(), _cpu_s()
        result = work()
        took, used = time.perf_counter() - wall, _cpu_s() - cpu
        note = describe(result) if describe else ""
        if backends:
            spent = cpu_of(backends()) - before
            note = f"{note}; PostgreSQL backends {spent:.2f} CPU s".lstrip("; ")
        self.figures.steps.append((name, took, used, note))
        print(f"    {name}: {took:.2f} s (CPU {used:.2f} s) {note}", flush=True)
        return result


def run_nightly(
    path: Path, as_of: date, pg_url: str | None, skip: frozenset[str] = frozenset()
) -> NightlyFigures:
    """Every step once on the store at ``path`` (read-only), the write-back on ``pg_url``;
    the steps named in ``skip`` ("recommendations", "forecast", "rules") are left out."""
    import ibis

    from patron.analytics import nightly
    from patron.analytics.churn.scoring import score_churn
    from patron.analytics.engine import AnalyticsParams, Tables
    from patron.analytics.service import compute_results

    figures = NightlyFigures()
    timed = _Timer(figures)
    duck = duckdb.connect(str(path), read_only=True)
    try:
        duck.execute("SET threads = 2")
        duck.execute("SET enable_progress_bar = false")
        tables = Tables.from_backend(ibis.duckdb.from_connection(duck))
        params = AnalyticsParams(as_of=as_of)
        results = timed(
            "definitions (scores, cohorts, KPIs, migration)",
            lambda: compute_results(tables, params),
            lambda r: f"{r['scores'].num_rows:,} customers scored",
        )
        churn = timed(
            "churn risk and CLV",
            lambda: score_churn(duck, as_of=as_of),
            lambda r: f"{len(r.customers):,} customers, mode {r.report['mode']}",
        )
        figures.churn_steps = dict(churn.report.get("steps", {}))
        figures.churn_steps_cpu = dict(churn.report.get("steps_cpu", {}))
        stores = duck.execute("SELECT store_id, code, name, city FROM stores").fetchall()
        on_duck = nightly.store_tables(duck)
        rules = recommended = forecast = None
        if "rules" not in skip:
            rules = timed(
                "basket rules",
                lambda: nightly.baskets(on_duck, as_of=as_of),
                lambda r: f"{len(r.rows):,} rules",
            )
        if "forecast" not in skip:
            forecast = timed(
                "forecast",
                lambda: nightly.forecast(on_duck, as_of=as_of),
                lambda r: f"{len(r.rows):,} rows",
            )
        if "recommendations" not in skip:
            recommended = timed(
                "recommendations",
                lambda: nightly.recommendations(on_duck, as_of=as_of, shelf_life_days={}),
                lambda r: f"{r.count:,} recommendations",
            )
        for name in sorted(skip):
            figures.notes.append(f"{name}: skipped (--nightly-skip)")
    finally:
        duck.close()
    figures.peak_mb = _peak_mb()
    if pg_url is None:
        figures.notes.append("PostgreSQL not reachable: no write-back measured")
        return figures
    found = (rules, recommended, forecast)
    _write_back(pg_url, results["scores"], churn, stores, found, figures)
    return figures


def _peak_mb() -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _write_back(
    url: str,
    scores: Any,
    churn: Any,
    stores: list[tuple[Any, ...]],
    found: tuple[Any, Any, Any],
    figures: NightlyFigures,
) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from patron.analytics.churn.service import previous_risk_run, record_risk
    from patron.analytics.engine import AnalyticsParams
    from patron.analytics.nightly import NightlyResults, record_nightly
    from patron.analytics.runs import _start_run, _write_scores
    from patron.core.db import Database
    from patron.core.migrate import upgrade

    timed = _Timer(figures)
    db = Database(url)
    watcher = create_engine(db.engine.url, poolclass=NullPool)

    def backends() -> list[int]:
        """The backends serving the bench's database, but the one asking."""
        with watcher.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
            ).all()
        return [int(pid) for (pid,) in rows]

    try:
        upgrade(db)
        customers = int(scores.num_rows and max(scores.column("customer_id").to_pylist()))
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO customer (id, signed_up_at, status, created_at, updated_at) "
                    "SELECT g, now(), 'active', now(), now() FROM generate_series(1, :n) g"
                ),
                {"n": customers},
            )
            # The rules' and the forecast's rows name their store.
            if stores:
                conn.execute(
                    text(
                        "INSERT INTO store (id, code, name, city, kind, timezone, created_at) "
                        "VALUES (:id, :code, :name, :city, 'physical', 'Asia/Shanghai', now())"
                    ),
                    [dict(zip(("id", "code", "name", "city"), row, strict=True)) for row in stores],
                )
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE customer")
        params = AnalyticsParams(as_of=churn.as_of)
        run_id = db.write(lambda s: _start_run(s, params=params, engine="duckdb", trigger="bench"))
        timed(
            "write-back: scores (PostgreSQL COPY)",
            lambda: db.write(lambda s: _write_scores(s, run_id=run_id, scores=scores)),
            lambda n: f"{n:,} rows",
            backends,
        )
        timed(
            "write-back: churn risk and alerts",
            lambda: db.write(
                lambda s: record_risk(
                    session=s,
                    run_id=run_id,
                    result=churn,
                    previous_run_id=previous_risk_run(session=s, before_run_id=run_id),
                )
            ),
            lambda _: f"{len(churn.customers):,} customers",
            backends,
        )
        rules, recommended, forecast = found
        results = NightlyResults(baskets=rules, recommendations=recommended, forecast=forecast)
        if rules is None and recommended is None and forecast is None:
            return
        timed(
            "write-back: rules, recommendations, forecast",
            lambda: db.write(lambda s: record_nightly(s, run_id=run_id, results=results)),
            None,
            backends,
        )
    finally:
        db.dispose()
        watcher.dispose()
