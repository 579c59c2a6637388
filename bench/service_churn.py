"""Service signals in the churn model on the demo retailer: holdout AUC without and with them.

The demo (``patron demo``) has an after-sales desk (patron/demo/service_desk.py): tickets,
breached service levels and CSAT/NPS answers made through the support services, drawn from
the generator's recorded truth — a customer who stops buying complained in the 90 days
after their last purchase with probability ``complain_dying`` and answered the survey as a
detractor more often; every other buyer complained with probability ``complain_alive`` (the draw and its
counts are in ``truth.json``, ``service``). The extract copies the tickets and answers into
the analytics store; ``score_churn`` then runs twice on the same store — with the
``tickets`` and ``survey_answers`` tables and without them — and prints both holdout AUCs
and the service features' coefficients. The lift is the model finding a signal that was
put there on purpose: the figures check that the features reach the model and are used,
not that real complaints predict churn by this much.

It also prints what the model can find there: at the holdout's feature cut-off (t1, one
label window before the last day), how many customers carry each service signal (in the
90 days before t1) and how many of them churned in the label window against everyone else —
the effect size of the recorded truth as the model sees it. ``--complain-dying`` and
``--complain-alive`` change the desk's rates (docs/support.md) to check that a stronger
truth gives a larger lift through the same pipeline.

Run:  .venv/bin/python bench/service_churn.py --demo-customers 2000
      .venv/bin/python bench/service_churn.py --complain-dying 0.6
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

SIGNALS = (
    "complaints_recent",
    "open_tickets",
    "sla_breaches_recent",
    "low_csat_recent",
    "detractor_recent",
)


def signal_table(duck: Any, as_of: date, horizon: int) -> None:
    """Churn in the holdout's label window of customers with and without each signal at its
    feature cut-off (the same population, features and label as the evaluation)."""
    from patron.analytics.churn.features import compute_columns, store_tables

    tables = store_tables(duck)
    t1 = as_of - timedelta(days=horizon)
    then = compute_columns(duck, cutoff=t1, tables=tables)
    now = compute_columns(duck, cutoff=as_of, tables=tables)
    pos = np.searchsorted(now["customer_id"], then["customer_id"])
    churned = ~(now["days_since_last"][pos] < horizon)
    # "alive-looking" at t1: bought within one label window before it (recency alone does
    # not already say they are gone)
    recent = then["days_since_last"] < horizon
    print(f"holdout at {t1} ({len(churned)} customers, {int(churned.sum())} churned in "
          f"the {horizon} days after; {int(recent.sum())} bought in the {horizon} days "
          f"before, of whom {churned[recent].mean():.3f} churned)")  # fmt: skip
    for name in SIGNALS:
        has = np.asarray(then[name]) > 0
        for label, mask in (("all", np.ones(len(has), dtype=bool)), ("recent", recent)):
            a, b = has & mask, ~has & mask
            if not a.any():
                print(f"  {name:22s} {label:6s}: nobody")
                continue
            rate_a, rate_b = churned[a].mean(), churned[b].mean()
            print(f"  {name:22s} {label:6s}: {int(a.sum()):4d} with it, churn {rate_a:.3f} "
                  f"vs {rate_b:.3f} without (x{rate_a / rate_b:.2f}); "
                  f"{int((a & churned).sum())} of {int(churned[mask].sum())} churners "
                  f"carry it")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-customers", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--complain-dying", type=float, default=None)
    parser.add_argument("--complain-alive", type=float, default=None)
    args = parser.parse_args()

    from patron.analytics import store as analytics_store
    from patron.analytics.churn.scoring import score_churn
    from patron.analytics.extract import extract
    from patron.core.db import Database
    from patron.core.migrate import upgrade
    from patron.demo.generator import DEFAULT_END, build_demo
    from patron.demo.service_desk import ServicePlan

    plan = ServicePlan()
    if args.complain_dying is not None:
        plan = replace(plan, complain_dying=args.complain_dying)
    if args.complain_alive is not None:
        plan = replace(plan, complain_alive=args.complain_alive)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = Database(f"sqlite:///{folder / 'patron.db'}")
        upgrade(db)
        started = time.perf_counter()
        summary = build_demo(
            db=db, seed=args.seed, customers=args.demo_customers,
            lines=15 * args.demo_customers, data_dir=folder, service_plan=plan,
        )  # fmt: skip
        print(f"demo: {summary.customers} customers, {summary.orders} orders "
              f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
        assert summary.truth_json is not None
        truth = json.loads(summary.truth_json.read_text(encoding="utf-8"))["service"]
        print(f"service desk (truth.json): drawn {truth['drawn']}; made {truth['made']}")
        with analytics_store.connect(folder / "analytics.duckdb") as duck:
            copied = extract(db=db, duck=duck, timezone="Asia/Shanghai", full=True)
            print(f"extract: {copied}")
            with_service = score_churn(duck, as_of=DEFAULT_END).report
            signal_table(duck, DEFAULT_END, int(with_service["horizon_days"]))
            duck.execute("DROP TABLE IF EXISTS tickets")
            duck.execute("DROP TABLE IF EXISTS survey_answers")
            without = score_churn(duck, as_of=DEFAULT_END).report
        db.dispose()
    for name, report in (
        ("without service signals", without),
        ("with service signals", with_service),
    ):
        e = report["evaluation"]
        if e.get("available"):
            print(f"{name}: holdout AUC {e['auc']:.3f} (Brier {e['brier']:.3f}; "
                  f"{e['customers']} customers, churn rate {e['churn_rate']:.3f}; "
                  f"label window {report.get('horizon_days')} days)")  # fmt: skip
        else:
            print(f"{name}: {e.get('message')}")
    service = {"complaints", "open_tickets", "sla_breaches", "low_csat", "detractor"}
    print("service coefficients:", {
        f["feature"]: round(f["coefficient"] or 0, 3)
        for f in with_service["features"] if f["feature"] in service
    })  # fmt: skip


if __name__ == "__main__":
    main()
