"""Service signals in the churn model on the demo retailer: holdout AUC without and with them.

The demo (``patron demo``) has an after-sales desk (patron/demo/service_desk.py): tickets,
breached service levels and CSAT/NPS answers made through the support services, drawn from
the generator's recorded truth — a customer who stops buying complained in the 30 days
before with probability ``complain_dying`` and answered the survey as a detractor more
often; every other buyer complained with probability ``complain_alive`` (the draw and its
counts are in ``truth.json``, ``service``). The extract copies the tickets and answers into
the analytics store; ``score_churn`` then runs twice on the same store — with the
``tickets`` and ``survey_answers`` tables and without them — and prints both holdout AUCs
and the service features' coefficients. The lift is the model finding a signal that was
put there on purpose: the figures check that the features reach the model and are used,
not that real complaints predict churn by this much.

Run:  .venv/bin/python bench/service_churn.py --demo-customers 2000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-customers", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

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
            db=db, seed=args.seed, customers=args.demo_customers,
            lines=15 * args.demo_customers, data_dir=folder,
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
