"""Recording churn risk and reading it back: rows per customer, early-warning alerts only on
a crossing into high risk, the at-risk list scoped by store, texts in zh-CN and English."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from patron.analytics.churn import service as churn
from patron.analytics.churn.models import CHURN_RISK_HIGH_EVENT, CustomerRisk, RiskAlert
from patron.analytics.churn.result import ChurnResult
from patron.analytics.churn.scoring import score_churn
from patron.analytics.models import AnalyticsRun, RunStatus
from patron.catalog import service as catalog
from patron.catalog.schemas import StoreCreate
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.customers.exceptions import OutOfScope
from tests.analytics.churn.helpers import Shop
from tests.helpers import sign_up

AS_OF = date(2026, 3, 31)


def _run(db: Database, as_of: date = AS_OF, status: str = RunStatus.SUCCEEDED) -> int:
    """An analytics run row, as the pipeline's run_analytics starts one."""

    def work(session: Any) -> int:
        run = AnalyticsRun(as_of=as_of, engine="duckdb", status=status, started_at=utcnow())
        session.add(run)
        session.flush()
        return run.id

    return db.write(work)


def _result(risks: dict[int, float], as_of: date = AS_OF) -> ChurnResult:
    """A scored run: each customer's risk, with one long-gap reason at three times the gap."""
    ids = np.array(sorted(risks), dtype=np.int64)
    risk = np.array([risks[i] for i in ids.tolist()])
    band = np.where(risk >= 0.7, "high", np.where(risk >= 0.4, "medium", "low"))
    n = len(ids)
    frame = pd.DataFrame(
        {
            "customer_id": ids,
            "churn_risk": risk,
            "p_alive": 1 - risk,
            "expected_purchases_90d": np.full(n, 0.5),
            "clv_fen": np.full(n, 20000, dtype=np.int64),
            "value_at_stake_fen": np.round(risk * 30000).astype(np.int64),
            "risk_band": band,
            "reason_1": np.array(["long_gap"] * n, dtype=object),
            "reason_2": np.array([None] * n, dtype=object),
            "reason_3": np.array([None] * n, dtype=object),
            "action_1": np.array(["win_back_coupon"] * n, dtype=object),
            "action_2": np.array([None] * n, dtype=object),
            "action_3": np.array([None] * n, dtype=object),
        }
    )
    numbers = {
        "long_gap": {
            "ratio": np.full(n, 3.0),
            "days": np.full(n, 45.0),
            "usual_days": np.full(n, 15.0),
        }
    }
    return ChurnResult(as_of=as_of, report={"mode": "model"}, customers=frame, numbers=numbers)


def _record(db: Database, run_id: int, result: ChurnResult, previous: int | None) -> Any:
    return db.write(
        lambda s: churn.record_risk(
            session=s, run_id=run_id, result=result, previous_run_id=previous
        )
    )


@pytest.fixture
def people(db: Database) -> dict[str, int]:
    db.write(
        lambda s: [
            catalog.create_store(session=s, store_in=StoreCreate(code=c, name=c))
            for c in ("SH01", "HZ01")
        ]
    )
    return {
        "ann": sign_up(db, phone="13800138001", home_store_code="SH01"),
        "ben": sign_up(db, phone="13800138002", home_store_code="SH01"),
        "cai": sign_up(db, phone="13800138003", home_store_code="HZ01"),
    }


def _store_id(db: Database, code: str) -> int:
    return db.read(lambda s: catalog.get_store_by_code_or_raise(session=s, code=code).id)


def test_record_risk_writes_a_row_per_customer_and_the_first_run_raises_no_alert(
    db: Database, people: dict[str, int]
) -> None:
    run = _run(db)
    result = _result({people["ann"]: 0.9, people["ben"]: 0.5, people["cai"]: 0.1})
    recorded = _record(db, run, result, None)
    assert (recorded.customers, recorded.alerts) == (3, 0)
    rows = db.read(lambda s: {r.customer_id: r for r in s.scalars(select(CustomerRisk))})
    ann = rows[people["ann"]]
    assert (ann.band, ann.churn_risk, ann.clv_fen, ann.value_at_stake_fen) == (
        "high",
        0.9,
        20000,
        27000,
    )
    assert ann.reasons == [
        {
            "code": "long_gap",
            "numbers": {"ratio": 3, "days": 45, "usual_days": 15},
            "action": "win_back_coupon",
        }
    ]
    report = db.read(lambda s: churn.get_model_report(session=s))
    assert (report.run_id, report.mode, report.report["alerts"]) == (run, "model", 0)


def test_alerts_are_raised_only_on_a_crossing_into_high_risk(
    db: Database, people: dict[str, int]
) -> None:
    first = _run(db)
    _record(db, first, _result({people["ann"]: 0.9, people["ben"]: 0.5}), None)
    second = _run(db)
    # Ann stays high (no alert), Ben crosses from medium, Cai is new and high.
    again = _result({people["ann"]: 0.95, people["ben"]: 0.8, people["cai"]: 0.75})
    assert db.read(lambda s: churn.previous_risk_run(session=s, before_run_id=second)) == first
    recorded = _record(db, second, again, first)
    assert recorded.alerts == 2
    alerts = db.read(lambda s: {a.customer_id: a for a in s.scalars(select(RiskAlert))})
    assert set(alerts) == {people["ben"], people["cai"]}
    assert alerts[people["ben"]].previous_band == "medium"
    assert alerts[people["cai"]].previous_band is None
    assert alerts[people["ben"]].event == CHURN_RISK_HIGH_EVENT == "customer.churn_risk_high"
    assert alerts[people["ben"]].value_at_stake_fen == 24000

    # A third run on the same data: everyone high was already high, so nothing new.
    third = _run(db)
    assert _record(db, third, again, second).alerts == 0
    total = db.read(lambda s: s.scalar(select(func.count()).select_from(RiskAlert)))
    assert total == 2


def test_recording_a_run_twice_is_refused(db: Database, people: dict[str, int]) -> None:
    run = _run(db)
    _record(db, run, _result({people["ann"]: 0.9}), None)
    with pytest.raises(InvalidInput) as caught:
        _record(db, run, _result({people["ann"]: 0.9}), None)
    assert caught.value.field == "run_id"


def test_the_at_risk_list_is_scoped_to_the_staffs_stores_and_sorted_by_value(
    db: Database, people: dict[str, int]
) -> None:
    first = _run(db)
    _record(db, first, _result({p: 0.2 for p in people.values()}), None)
    second = _run(db)
    _record(
        db,
        second,
        _result({people["ann"]: 0.8, people["ben"]: 0.95, people["cai"]: 0.9}),
        first,
    )
    everyone = db.read(lambda s: churn.at_risk_list(session=s))
    assert everyone.run_id == second and everyone.total == 3
    assert [i.customer.id for i in everyone.items] == [people["ben"], people["cai"], people["ann"]]
    shanghai = frozenset({_store_id(db, "SH01")})
    scoped = db.read(lambda s: churn.at_risk_list(session=s, store_ids=shanghai))
    assert scoped.total == 2
    assert {i.customer.id for i in scoped.items} == {people["ann"], people["ben"]}
    paged = db.read(lambda s: churn.at_risk_list(session=s, page=2, page_size=2))
    assert [i.customer.id for i in paged.items] == [people["ann"]]
    reason = everyone.items[0].alert.reasons[0]
    assert reason.text["zh-CN"] == "购买间隔已是平时的3倍（已45天未购买，平时约15天一次）"
    assert reason.text["en"].startswith("It has been 3× their usual gap")
    assert reason.action_text == {"zh-CN": "发放回流优惠券", "en": "Send a win-back coupon"}


def test_failed_runs_are_not_read_as_the_latest(db: Database, people: dict[str, int]) -> None:
    good = _run(db)
    _record(db, good, _result({people["ann"]: 0.3}), None)
    failed = _run(db, status=RunStatus.FAILED)
    _record(db, failed, _result({people["ann"]: 0.9}), good)
    assert db.read(lambda s: churn.get_model_report(session=s)).run_id == good
    assert db.read(lambda s: churn.previous_risk_run(session=s, before_run_id=failed + 1)) == good


def test_risk_for_customer_is_their_history_and_respects_store_scope(
    db: Database, people: dict[str, int]
) -> None:
    first = _run(db, as_of=date(2026, 2, 28))
    _record(db, first, _result({people["cai"]: 0.5}, as_of=date(2026, 2, 28)), None)
    second = _run(db)
    _record(db, second, _result({people["cai"]: 0.9}), first)
    history = db.read(lambda s: churn.risk_for_customer(session=s, customer_id=people["cai"]))
    assert [(h.run_id, h.band) for h in history] == [(second, "high"), (first, "medium")]
    assert history[0].reasons[0].text["en"].startswith("It has been 3×")
    shanghai = frozenset({_store_id(db, "SH01")})
    with pytest.raises(OutOfScope):
        db.read(
            lambda s: churn.risk_for_customer(
                session=s, customer_id=people["cai"], store_ids=shanghai
            )
        )


def test_no_recorded_risk_is_a_clear_not_found(db: Database) -> None:
    with pytest.raises(churn.NoRiskScores):
        db.read(lambda s: churn.at_risk_list(session=s))


def test_a_scored_store_records_end_to_end(db: Database, people: dict[str, int]) -> None:
    """score_churn on an analytics store holding these customers, then record_risk."""
    shop = Shop()
    for n, cid in enumerate(people.values()):
        shop.customer(cid)
        for back in range(20 + 30 * n, 400, 25):
            shop.order(cid, date.fromordinal(AS_OF.toordinal() - back))
    result = score_churn(shop.connect(), as_of=AS_OF)
    run = _run(db)
    recorded = _record(db, run, result, None)
    assert recorded.customers == 3
    history = db.read(lambda s: churn.risk_for_customer(session=s, customer_id=people["cai"]))
    assert history[0].churn_risk == pytest.approx(
        float(result.customers.set_index("customer_id").loc[people["cai"], "churn_risk"])
    )
    report = db.read(lambda s: churn.get_model_report(session=s, run_id=run))
    assert report.mode == "fallback" and "1 − P(alive)" in report.report["message"]
