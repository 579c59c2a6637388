"""Sales forecast at chain scale: time per series and the backtest beside seasonal naive.

Two parts, each printed, never asserted:

1. **A shop's analytics store** (``--store FILE``, default the store of ``PATRON_DATA_DIR``,
   e.g. the demo's after ``patron analytics run``): the nightly step itself
   (``forecast_sales``, every active store × category series forecast 56 days ahead and
   backtested on its last 56 days), wall and CPU seconds, per series, and the backtest's
   MASE and sMAPE beside seasonal naive's (forecast/model.py defines them).
2. **A synthetic chain** (``--series N``, default 400; 0 skips): N daily series of two years
   (weekly pattern, the Spring Festival and the holidays' days off, a trend, log-normal
   noise, one in ten intermittent), each forecast and backtested as the nightly run does;
   wall and CPU milliseconds per series, and the same backtest figures. The series are
   forecast and backtested together (``forecast_and_backtest``), as the nightly step does.

The machine is shared: wall figures are upper bounds; CPU seconds are the steadier figure.

Run:  .venv/bin/python bench/forecast.py [--store FILE] [--series 400]
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from patron.analytics.forecast.chinese_days import day_flags, days_between
from patron.analytics.forecast.model import forecast_and_backtest, one_thread_per_fit
from patron.analytics.forecast.service import HORIZON_DAYS, forecast_sales, summarise_backtests

AS_OF = date(2026, 11, 30)


def _print_summary(summary: dict[str, Any]) -> None:
    if not summary.get("series"):
        print("  backtest: no series long enough to hold out 56 days")
        return
    print(
        f"  backtest over {summary['series']} series: MASE {summary['mase']:.3f} "
        f"(seasonal naive {summary['mase_naive']:.3f}), sMAPE {summary['smape']:.3f} "
        f"(seasonal naive {summary['smape_naive']:.3f}), 80 % interval coverage "
        f"{summary['coverage_80']:.2f}, better than naive on {summary['better_than_naive']}"
    )


def shop_store(path: Path, as_of: date | None) -> None:
    import duckdb

    from patron.analytics.nightly import store_tables

    duck = duckdb.connect(str(path), read_only=True)
    try:
        tables = store_tables(duck)
        if as_of is None:
            latest = duck.execute("select max(order_date) from orders").fetchall()
            as_of = latest[0][0] if latest and latest[0][0] else AS_OF
        wall, cpu = time.perf_counter(), time.process_time()
        result = forecast_sales(tables, as_of=as_of)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        duck.close()
    series = max(int(result.report["series"]), 1)
    print(
        f"{path}: as of {as_of}, {result.report['series']} series "
        f"({result.report['models']}), {len(result.rows):,} forecast days"
    )
    print(
        f"  forecast and backtest: {wall:.1f} s wall, {cpu:.1f} s CPU; per series "
        f"{1000 * wall / series:.0f} ms wall, {1000 * cpu / series:.0f} ms CPU"
    )
    _print_summary(result.report["backtest"])


def synthetic_series(count: int, days: int = 730, seed: int = 11) -> list[np.ndarray]:
    """``count`` store × category series (yuan a day) ending on AS_OF."""
    rng = np.random.default_rng(seed)
    first = AS_OF - timedelta(days=days - 1)
    calendar = day_flags(days_between(first, AS_OF)).columns
    weekday = np.array([(first + timedelta(days=i)).weekday() for i in range(days)])
    out = []
    for k in range(count):
        level = rng.lognormal(7.0, 1.0)
        week = np.exp(rng.normal(0, 0.12, size=7))
        week[5:] *= rng.uniform(1.1, 1.5)
        effect = (
            1
            + calendar["sf_stock_up"] * rng.uniform(0.2, 0.8)
            + calendar["sf_last_week"] * rng.uniform(0.3, 1.0)
            - calendar["sf_holiday"] * rng.uniform(0.3, 0.7)
            + calendar["day_off"] * rng.uniform(-0.2, 0.4)
        )
        trend = np.exp(rng.normal(0, 0.15) * np.arange(days) / 365)
        noise = np.exp(np.convolve(rng.normal(0, 0.18, size=days), [1.0, 0.5])[:days])
        series = level * week[weekday] * np.maximum(effect, 0.05) * trend * noise
        if k % 10 == 9:  # intermittent: sold on about one day in four
            series = series * (rng.random(days) < 0.25)
        out.append(series)
    return out


def synthetic_chain(count: int) -> None:
    histories = synthetic_series(count)
    first = AS_OF - timedelta(days=len(histories[0]) - 1)
    models: dict[str, int] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    with one_thread_per_fit():
        forecasts, backtests = forecast_and_backtest(
            histories, [first] * len(histories), HORIZON_DAYS
        )
    for forecast in forecasts:
        models[forecast.model] = models.get(forecast.model, 0) + 1
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"\nsynthetic chain: {count} series of {len(histories[0])} days ({models})")
    print(
        f"  forecast and backtest: {wall:.1f} s wall, {cpu:.1f} s CPU; per series "
        f"{1000 * wall / count:.0f} ms wall, {1000 * cpu / count:.0f} ms CPU"
    )
    _print_summary(summarise_backtests(backtests))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--store", type=Path, default=None, help="an analytics DuckDB file")
    parser.add_argument("--as-of", type=date.fromisoformat, default=None)
    parser.add_argument("--series", type=int, default=400, help="synthetic series; 0 skips")
    args = parser.parse_args()
    store = args.store
    if store is None:
        from patron.core.settings import get_settings

        store = get_settings().resolved_analytics_store
    if store.exists():
        shop_store(store, args.as_of)
    else:
        print(f"{store}: no analytics store (run `patron analytics run` first); skipped")
    if args.series > 0:
        synthetic_chain(args.series)


if __name__ == "__main__":
    main()
