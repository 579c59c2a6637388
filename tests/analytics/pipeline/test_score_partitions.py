"""A run's score and churn risk rows: on PostgreSQL each run's rows are a partition of each
table (made, filled and attached in the write-back's transaction, migration 0033); reads,
a refused write and the pruning of an old run behave as on SQLite's plain tables
(docs/operations.md)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from patron.analytics import service
from patron.analytics.churn import service as churn
from patron.analytics.churn.models import CustomerRisk
from patron.analytics.churn.result import ChurnResult
from patron.analytics.models import AnalyticsRun, CustomerScore
from patron.analytics.runs import _write_scores, prune_score_history
from patron.core.db import Database
from tests.helpers import sign_up

_TABLES = ("customer_score", "customer_risk")


def _run(db: Database, as_of: date) -> int:
    from patron.analytics.engine import AnalyticsParams
    from patron.analytics.runs import _start_run

    params = AnalyticsParams(as_of=as_of)
    run_id = db.write(lambda s: _start_run(s, params=params, engine="duckdb", trigger="test"))
    db.write(
        lambda s: s.execute(
            update(AnalyticsRun)
            .where(AnalyticsRun.id == run_id)
            .values(status="succeeded", finished_at=func.now())
        )
    )
    return run_id


def _scores(customer_ids: list[int], as_of: date, segment: str) -> pa.Table:
    n = len(customer_ids)
    return pa.table(
        {
            "customer_id": pa.array(customer_ids, pa.int64()),
            "as_of": pa.array([as_of] * n, pa.date32()),
            "recency_days": pa.array([3] * n, pa.int64()),
            "frequency": pa.array([2] * n, pa.int64()),
            "monetary_fen": pa.array([1234] * n, pa.int64()),
            "r_score": pa.array([5] * n, pa.int64()),
            "f_score": pa.array([4] * n, pa.int64()),
            "m_score": pa.array([3] * n, pa.int64()),
            "segment": pa.array([segment] * n, pa.string()),
            "stage": pa.array(["active"] * n, pa.string()),
            "first_order_date": pa.array([as_of] * n, pa.date32()),
            "last_order_date": pa.array([as_of] * n, pa.date32()),
        }
    )


def _risk(customer_ids: list[int], as_of: date, band: str) -> ChurnResult:
    n = len(customer_ids)
    frame = pd.DataFrame(
        {
            "customer_id": np.array(customer_ids, dtype=np.int64),
            "churn_risk": [0.9 if band == "high" else 0.1] * n,
            "p_alive": [0.5] * n,
            "expected_purchases_90d": [1.5] * n,
            "clv_fen": [5000] * n,
            "value_at_stake_fen": [2500] * n,
            "risk_band": [band] * n,
            "reason_1": ["long_gap"] * n,
            "action_1": ["win_back_coupon"] * n,
            **{f"reason_{k}": [None] * n for k in (2, 3)},
            **{f"action_{k}": [None] * n for k in (2, 3)},
        }
    )
    numbers = {
        "long_gap": {
            "ratio": np.array([3.0] * n),
            "days": np.array([90.5] * n),
            "usual_days": np.array([30.0] * n),
        }
    }
    return ChurnResult(as_of=as_of, report={"mode": "model"}, customers=frame, numbers=numbers)


def _partitions(db: Database) -> list[str]:
    if db.engine.dialect.name != "postgresql":
        return []
    query = text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent IN (to_regclass('customer_score'), to_regclass('customer_risk'))"
        " ORDER BY c.relname"
    )
    return list(db.read(lambda s: s.execute(query).scalars().all()))


def _count(db: Database, model: type[CustomerScore] | type[CustomerRisk], run_id: int) -> int:
    query = select(func.count()).select_from(model).where(model.run_id == run_id)
    return int(db.read(lambda s: s.execute(query).scalar_one()))


def _write(db: Database, run_id: int, ids: list[int], as_of: date, band: str) -> None:
    def work(s: Session) -> None:
        assert _write_scores(
            s, run_id=run_id, scores=_scores(ids, as_of, "important_value")
        ) == len(ids)
        previous = churn.previous_risk_run(session=s, before_run_id=run_id)
        churn.record_risk(
            session=s,
            run_id=run_id,
            result=_risk(ids, as_of, band),
            previous_run_id=previous,
        )

    db.write(work)


def test_each_run_is_a_partition_read_back_whole_and_pruned_alone(db: Database) -> None:
    ann, bo = sign_up(db, phone="13900138001"), sign_up(db, phone="13900138002")
    old_day, new_day = date(2025, 6, 1), date(2025, 6, 2)
    old, new = _run(db, old_day), _run(db, new_day)
    _write(db, old, [ann, bo], old_day, "low")
    _write(db, new, [bo, ann], new_day, "high")  # out of order: written in customer order
    if db.engine.dialect.name == "postgresql":
        assert _partitions(db) == sorted(f"{t}_run_{r}" for t in _TABLES for r in (old, new))

    history = db.read(lambda s: service.scores_for_customer(session=s, customer_id=ann))
    assert [(h.run_id, h.as_of, h.segment) for h in history] == [
        (new, new_day, "important_value"),
        (old, old_day, "important_value"),
    ]
    risk = db.read(lambda s: churn.risk_for_customer(session=s, customer_id=ann))
    assert [(r.run_id, r.band) for r in risk] == [(new, "high"), (old, "low")]
    assert [r.code for r in risk[0].reasons] == ["long_gap"]
    assert db.read(lambda s: churn.band_sizes(session=s, run_id=new)) == {"high": 2}
    page = db.read(
        lambda s: service.list_customers_by(session=s, segment="important_value", run_id=new)
    )
    assert [i.score.customer_id for i in page.items] == sorted([ann, bo])
    ids = db.read(lambda s: s.execute(select(CustomerScore.id)).scalars().all())
    assert sorted(ids) == [1, 2, 3, 4]  # one sequence across the runs' partitions
    # Both crossed into high risk since the old run: the early warning's join across runs.
    alerts = db.read(lambda s: churn.at_risk_list(session=s, run_id=new))
    assert sorted(a.alert.customer_id for a in alerts.items) == sorted([ann, bo])

    # The old run is past the week kept and not its month's last: pruned, its partitions
    # dropped.
    assert (
        db.write(lambda s: prune_score_history(session=s, keep_days=7, today=date(2025, 9, 30)))
        == 1
    )
    assert (_count(db, CustomerScore, old), _count(db, CustomerScore, new)) == (0, 2)
    assert (_count(db, CustomerRisk, old), _count(db, CustomerRisk, new)) == (0, 2)
    if db.engine.dialect.name == "postgresql":
        assert _partitions(db) == sorted(f"{t}_run_{new}" for t in _TABLES)
    history = db.read(lambda s: service.scores_for_customer(session=s, customer_id=ann))
    assert [h.run_id for h in history] == [new]


def test_an_unknown_customer_undoes_the_write_and_leaves_no_partition(db: Database) -> None:
    ann = sign_up(db, phone="13900138001")
    run_id = _run(db, date(2025, 6, 1))
    with pytest.raises(RuntimeError, match=r"customer_score rows name customer 987654, unknown"):
        db.write(
            lambda s: _write_scores(
                s, run_id=run_id, scores=_scores([ann, 987654], date(2025, 6, 1), "important_value")
            )
        )
    with pytest.raises(RuntimeError, match=r"customer_risk rows name customer 987654, unknown"):
        db.write(
            lambda s: churn.record_risk(
                session=s,
                run_id=run_id,
                result=_risk([ann, 987654], date(2025, 6, 1), "low"),
                previous_run_id=None,
            )
        )
    assert _partitions(db) == []
    assert (_count(db, CustomerScore, run_id), _count(db, CustomerRisk, run_id)) == (0, 0)
    _write(db, run_id, [ann], date(2025, 6, 1), "low")
    assert (_count(db, CustomerScore, run_id), _count(db, CustomerRisk, run_id)) == (1, 1)
