"""Running the pipeline: scores written with history, summaries, failures recorded."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from patron.analytics import runs as analytics_runs
from patron.analytics import service
from patron.analytics import store as analytics_store
from patron.analytics.engine import SEGMENTS
from patron.analytics.models import RunStatus
from patron.analytics.store import AnalyticsBusy
from patron.core.db import Database
from patron.core.errors import InvalidInput
from tests.analytics.pipeline.helpers import build_chain, refund
from tests.helpers import post_order

AS_OF = date(2026, 3, 20)


def test_a_run_scores_every_customer_and_keeps_the_history(db: Database) -> None:
    chain = build_chain(db)
    first = service.run_analytics(db=db, as_of=AS_OF)
    assert first.status == RunStatus.SUCCEEDED
    assert first.customers_scored == 3
    assert [s.step for s in first.steps] == list(service.STEPS)
    assert first.finished_at is not None and first.error is None

    refund(db, "R1", chain.orders["alice_1"])  # all of Alice's order back: no purchase left
    post_order(db, "C2", customer={"id": chain.carol}, store_code="SH01")
    second = service.run_analytics(db=db, as_of=AS_OF)
    extract_step = next(s for s in second.steps if s.step == "extract")
    assert extract_step.rows and extract_step.rows > 0

    history = db.read(lambda s: service.scores_for_customer(session=s, customer_id=chain.alice))
    assert [h.run_id for h in history] == [second.id, first.id]
    assert history[1].frequency == 1 and history[1].monetary_fen == 3800
    assert history[0].frequency == 0 and history[0].stage == "prospect"
    carol = db.read(lambda s: service.scores_for_customer(session=s, customer_id=chain.carol))
    assert carol[0].frequency == 2 and carol[1].frequency == 1
    latest = db.read(lambda s: service.latest_run(session=s))
    assert latest is not None and latest.id == second.id


def test_summaries_count_every_scored_customer(db: Database) -> None:
    build_chain(db)
    run = service.run_analytics(db=db, as_of=AS_OF)
    segments = db.read(lambda s: service.segment_summary(session=s))
    assert segments.run_id == run.id
    assert [g.code for g in segments.groups][: len(SEGMENTS)] == list(SEGMENTS)
    assert sum(g.customers for g in segments.groups) == 3
    assert sum(g.monetary_fen for g in segments.groups) == 3800 + 1000 + 500
    stages = db.read(lambda s: service.stage_summary(session=s))
    assert sum(g.customers for g in stages.groups) == 3
    assert {g.code: g.customers for g in stages.groups}["new"] == 3

    page = db.read(lambda s: service.list_customers_by(session=s, stage="new", limit=2))
    assert len(page.items) == 2 and page.next_cursor is not None
    rest = db.read(
        lambda s: service.list_customers_by(session=s, stage="new", cursor=page.next_cursor)
    )
    assert len(rest.items) == 1 and rest.next_cursor is None

    cohorts = db.read(lambda s: service.read_cohorts(session=s))
    assert cohorts.run_id == run.id
    assert cohorts.rows and cohorts.rows[0]["cohort_month"] == date(2026, 3, 1)
    by_store = db.read(lambda s: service.read_kpis(session=s, by="store"))
    assert {r["store_code"] for r in by_store.rows} == {"SH01", "LDN"}


def test_a_failed_run_is_recorded_with_its_error(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_chain(db)

    def broken(*_: object) -> None:
        raise RuntimeError("definitions broke")

    monkeypatch.setattr(analytics_runs, "cohorts", broken)
    with pytest.raises(RuntimeError, match="definitions broke"):
        service.run_analytics(db=db, as_of=AS_OF)
    runs = db.read(lambda s: service.list_runs(session=s))
    assert runs[0].status == RunStatus.FAILED
    assert runs[0].error == "RuntimeError: definitions broke"
    assert [s.step for s in runs[0].steps] == ["extract", "scores"]
    assert db.read(lambda s: service.latest_run(session=s)) is None


def test_bad_input_names_the_field(db: Database) -> None:
    with pytest.raises(InvalidInput) as engine:
        service.run_analytics(db=db, engine="pandas")
    assert engine.value.field == "engine"
    with pytest.raises(InvalidInput) as day:
        service.run_analytics(db=db, as_of=date(2999, 1, 1))
    assert day.value.field == "as_of"
    with pytest.raises(InvalidInput) as param:
        service.run_analytics(db=db, as_of=AS_OF, params={"lapsed_days": 0})
    assert param.value.field == "params.lapsed_days"
    with pytest.raises(InvalidInput) as both:
        db.read(lambda s: service.list_customers_by(session=s, segment="x", stage="new"))
    assert both.value.field == "segment"


def test_a_run_is_refused_while_another_holds_the_store(db: Database) -> None:
    with analytics_store.run_lock(service.store_path()), pytest.raises(AnalyticsBusy):
        service.run_analytics(db=db, as_of=AS_OF)
    assert db.read(lambda s: service.list_runs(session=s)) == []


def test_the_store_lives_in_the_data_directory_by_default(tmp_path: Path) -> None:
    assert service.store_path() == tmp_path / "data" / "analytics.duckdb"


def test_a_run_records_churn_risk_and_value_for_every_buyer(db: Database) -> None:
    from patron.analytics.churn import service as churn

    chain = build_chain(db)
    first = service.run_analytics(db=db, as_of=AS_OF)
    risk = db.read(lambda s: churn.risk_for_customer(session=s, customer_id=chain.carol))
    assert [r.run_id for r in risk] == [first.id]
    assert 0.0 <= risk[0].churn_risk <= 1.0 and 0.0 <= risk[0].p_alive <= 1.0
    assert risk[0].clv_fen >= 0
    report = db.read(lambda s: churn.get_model_report(session=s))
    assert report.run_id == first.id
    second = service.run_analytics(db=db, as_of=AS_OF)
    again = db.read(lambda s: churn.risk_for_customer(session=s, customer_id=chain.carol))
    assert [r.run_id for r in again] == [second.id, first.id]


def test_old_runs_rows_are_pruned_keeping_each_months_last_and_the_latest(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from patron.analytics.churn import service as churn
    from patron.core.settings import get_settings

    chain = build_chain(db)  # its orders are on 1 March
    days = [date(2026, 3, 5), date(2026, 3, 31), date(2026, 4, 10), date(2026, 5, 19)]
    runs = [service.run_analytics(db=db, as_of=day) for day in days]
    history = db.read(lambda s: service.scores_for_customer(session=s, customer_id=chain.alice))
    assert len(history) == 4  # no retention set: every run kept

    # 30 days back from 20 May: the March and April runs are old; 31 March is March's
    # last run and 10 April is April's, so only 5 March goes.
    def prune(s: Session) -> int:
        return service.prune_score_history(session=s, keep_days=30, today=date(2026, 5, 20))

    assert db.write(prune) == 1
    history = db.read(lambda s: service.scores_for_customer(session=s, customer_id=chain.alice))
    assert [h.run_id for h in history] == [runs[3].id, runs[2].id, runs[1].id]
    risk = db.read(lambda s: churn.risk_for_customer(session=s, customer_id=chain.alice))
    assert [r.run_id for r in risk] == [runs[3].id, runs[2].id, runs[1].id]
    gone = db.read(lambda s: service.get_run(session=s, run_id=runs[0].id))
    assert gone is not None and gone.scores_pruned_at is not None
    with pytest.raises(InvalidInput) as refused:
        db.read(lambda s: service.segment_summary(session=s, run_id=runs[0].id))
    assert refused.value.field == "run_id"
    assert db.write(prune) == 0  # nothing more to do

    # Set in the settings, each run prunes after itself (here a day's history is kept).
    monkeypatch.setenv("PATRON_ANALYTICS_KEEP_DAYS", "1")
    get_settings.cache_clear()
    try:
        latest = service.run_analytics(db=db, as_of=AS_OF)  # 20 March, run last
    finally:
        monkeypatch.delenv("PATRON_ANALYTICS_KEEP_DAYS")
        get_settings.cache_clear()
    left = [r.id for r in db.read(lambda s: service.list_runs(session=s)) if not r.scores_pruned_at]
    # Each month's last (31 March, 10 April, 19 May) and the latest run.
    assert sorted(left) == [runs[1].id, runs[2].id, runs[3].id, latest.id]
