"""Churn risk on the demo retailer, end to end: the demo written through the services, the
real extract into an analytics store, ``score_churn``, ``record_risk``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from patron.analytics import store as analytics_store
from patron.analytics.churn import service as churn
from patron.analytics.churn.scoring import score_churn
from patron.analytics.extract import extract
from patron.analytics.models import AnalyticsRun, RunStatus
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.demo.generator import DEFAULT_END, build_demo

# With ~2,400 customers in the holdout and ~70 % churn, the AUC's standard error is ~0.012.
NOISE = 0.025


def test_the_demo_retailer_scores_better_than_p_alive_alone_and_records(
    sqlite_db: Database, tmp_path: Path
) -> None:
    build_demo(db=sqlite_db, seed=42, customers=3000, lines=45000, data_dir=tmp_path)
    with analytics_store.connect(tmp_path / "analytics.duckdb") as duck:
        extract(db=sqlite_db, duck=duck, timezone="Asia/Shanghai", full=True)
        result = score_churn(duck, as_of=DEFAULT_END)
    report = result.report
    evaluation = report["evaluation"]
    print(
        f"\ndemo holdout ({evaluation['customers']} customers, churn rate "
        f"{evaluation['churn_rate']:.2f}): AUC {evaluation['auc']:.3f} vs P(alive) alone "
        f"{evaluation['auc_p_alive']:.3f}; Brier {evaluation['brier']:.3f} vs "
        f"{evaluation['brier_p_alive']:.3f}"
    )
    assert report["mode"] == "model"
    assert evaluation["auc"] >= evaluation["auc_p_alive"] - NOISE
    assert evaluation["brier"] < evaluation["brier_p_alive"]
    frame = result.customers
    assert np.isfinite(frame["churn_risk"].to_numpy()).all()
    assert (frame["clv_fen"] >= 0).all() and (frame["clv_fen"] > 0).mean() > 0.9

    def work(session: Session) -> int:
        run = AnalyticsRun(
            as_of=DEFAULT_END, engine="duckdb", status=RunStatus.SUCCEEDED, started_at=utcnow()
        )
        session.add(run)
        session.flush()
        churn.record_risk(session=session, run_id=run.id, result=result, previous_run_id=None)
        return run.id

    run_id = sqlite_db.write(work)
    model = sqlite_db.read(lambda s: churn.get_model_report(session=s, run_id=run_id))
    assert model.report["customers"] == len(frame)
    someone = int(frame.loc[frame["risk_band"] == "high", "customer_id"].iloc[0])
    history = sqlite_db.read(lambda s: churn.risk_for_customer(session=s, customer_id=someone))
    assert history[0].band == "high"
    assert all(r.text["zh-CN"] and r.text["en"] for r in history[0].reasons)
