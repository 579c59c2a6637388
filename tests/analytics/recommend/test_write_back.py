"""A run's recommendation rows carry no foreign keys (a chain writes ten million a night):
the write-back checks the run and the customers they name once each, and a row naming an
unknown customer undoes the whole write (docs/operations.md)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import func, select, text, update

from patron.analytics.models import AnalyticsRun
from patron.analytics.recommend.models import CustomerRecommendation
from patron.analytics.recommend.service import (
    ROW_SCHEMA,
    RecommendationResult,
    record_recommendations,
)
from patron.core.db import Database
from patron.core.errors import InvalidInput
from tests.analytics.helpers import build_basket_shop

_AS_OF = date(2025, 9, 30)


def _result(customer_ids: list[int]) -> RecommendationResult:
    n = len(customer_ids)
    rows = pa.Table.from_pydict(
        {
            "customer_id": customer_ids,
            "rank": [99] * n,  # past every rank the run wrote
            "sku": ["MILK"] * n,
            "score": [0.5] * n,
            "source": ["popular"] * n,
            "due_on": [None] * n,
        },
        schema=ROW_SCHEMA,
    )
    return RecommendationResult(as_of=_AS_OF, rows=rows)


def _rows_of(db: Database, run_id: int) -> int:
    t = CustomerRecommendation.__table__
    query = select(func.count()).select_from(t).where(t.c.run_id == run_id)
    return int(db.read(lambda s: s.execute(query).scalar_one()))


def test_known_customers_are_written_and_an_unknown_one_undoes_the_write(db: Database) -> None:
    shop = build_basket_shop(db)
    before = _rows_of(db, shop.run_id)
    with pytest.raises(RuntimeError, match=r"customer 987654, unknown"):
        db.write(
            lambda s: record_recommendations(
                session=s, run_id=shop.run_id, result=_result([shop.members[0], 987654])
            )
        )
    assert _rows_of(db, shop.run_id) == before  # nothing of the refused write is kept

    with pytest.raises(InvalidInput, match="no analytics run"):
        db.write(
            lambda s: record_recommendations(
                session=s, run_id=shop.run_id + 1000, result=_result([shop.members[0]])
            )
        )


def _run(db: Database, as_of: date) -> int:
    from patron.analytics.engine import AnalyticsParams
    from patron.analytics.runs import _start_run

    params = AnalyticsParams(as_of=as_of)
    run_id = db.write(lambda s: _start_run(s, params=params, engine="duckdb", trigger="test"))
    db.write(
        lambda s: s.execute(
            update(AnalyticsRun).where(AnalyticsRun.id == run_id).values(status="succeeded")
        )
    )
    return run_id


def _ranked(customer_id: int, skus: list[str], as_of: date) -> RecommendationResult:
    n = len(skus)
    rows = pa.Table.from_pydict(
        {
            "customer_id": [customer_id] * n,
            "rank": list(range(1, n + 1)),
            "sku": skus,
            "score": [1.0 / (k + 1) for k in range(n)],
            "source": ["repeat"] * n,
            "due_on": [as_of] + [None] * (n - 1),
        },
        schema=ROW_SCHEMA,
    )
    return RecommendationResult(as_of=as_of, rows=rows)


def _partitions(db: Database) -> list[str]:
    if db.engine.dialect.name != "postgresql":
        return []
    query = text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass('customer_recommendation') ORDER BY c.relname"
    )
    return list(db.read(lambda s: s.execute(query).scalars().all()))


def test_each_run_is_read_back_whole_and_its_pruning_takes_only_its_rows(db: Database) -> None:
    """On PostgreSQL each run's rows are a partition of their own (made, filled and
    attached in the write's transaction); reads, a second write into a run, and the
    pruning of an old run behave as on SQLite's plain table."""
    from patron.analytics.runs import prune_score_history
    from patron.analytics.serving import customer_recommendations
    from tests.helpers import sign_up

    ann, bo = sign_up(db, phone="13900138001"), sign_up(db, phone="13900138002")
    old, new = _run(db, date(2025, 6, 1)), _run(db, date(2025, 6, 2))
    for run_id, as_of, skus in ((old, date(2025, 6, 1), ["TEA", "JAM"]), (new, _AS_OF, ["MILK"])):
        written = db.write(
            lambda s, r=run_id, a=as_of, k=skus: record_recommendations(
                session=s, run_id=r, result=_ranked(ann, k, a)
            )
        )
        assert written == len(skus)
    # A second write into the latest run: into the partition already attached.
    db.write(
        lambda s: record_recommendations(
            session=s, run_id=new, result=_ranked(bo, ["BREAD", "JAM"], _AS_OF)
        )
    )
    if db.engine.dialect.name == "postgresql":
        assert _partitions(db) == sorted(
            [f"customer_recommendation_run_{old}", f"customer_recommendation_run_{new}"]
        )
    found = db.read(lambda s: customer_recommendations(session=s, customer_id=ann, today=_AS_OF))
    assert (found.run_id, found.as_of) == (new, _AS_OF)
    assert [(i.rank, i.sku, i.reason) for i in found.items] == [(1, "MILK", "due")]
    found = db.read(lambda s: customer_recommendations(session=s, customer_id=bo, today=_AS_OF))
    assert [(i.rank, i.sku, i.reason) for i in found.items] == [
        (1, "BREAD", "due"),
        (2, "JAM", "repeat"),
    ]
    assert (_rows_of(db, old), _rows_of(db, new)) == (2, 3)
    ids = db.read(lambda s: s.execute(select(CustomerRecommendation.id)).scalars().all())
    assert sorted(ids) == list(range(1, 6))  # one sequence across the runs' partitions

    # The old run is past the week kept and not its month's last: pruned.
    assert db.write(lambda s: prune_score_history(session=s, keep_days=7, today=_AS_OF)) == 1
    assert (_rows_of(db, old), _rows_of(db, new)) == (0, 3)
    if db.engine.dialect.name == "postgresql":
        assert _partitions(db) == [f"customer_recommendation_run_{new}"]
    found = db.read(lambda s: customer_recommendations(session=s, customer_id=ann, today=_AS_OF))
    assert [i.sku for i in found.items] == ["MILK"]


def test_a_refused_write_leaves_no_partition(db: Database) -> None:
    from tests.helpers import sign_up

    ann = sign_up(db, phone="13900138001")
    run_id = _run(db, _AS_OF)
    with pytest.raises(RuntimeError, match=r"customer 987654, unknown"):
        db.write(
            lambda s: record_recommendations(
                session=s, run_id=run_id, result=_result([ann, 987654])
            )
        )
    assert _partitions(db) == []
    assert _rows_of(db, run_id) == 0
    db.write(lambda s: record_recommendations(session=s, run_id=run_id, result=_result([ann])))
    assert _rows_of(db, run_id) == 1


def test_the_index_builds_memory_is_put_back_for_the_rest_of_the_transaction(
    db: Database,
) -> None:
    """On PostgreSQL the write raises ``maintenance_work_mem`` for its partition's index
    builds (docs/operations.md) and puts the session's value back once they are done."""
    from tests.helpers import sign_up

    ann = sign_up(db, phone="13900138001")
    run_id = _run(db, _AS_OF)

    def write(s: Any) -> tuple[str | None, str | None]:
        dialect = s.connection().dialect.name
        show = "SELECT current_setting('maintenance_work_mem')"
        if dialect == "postgresql":
            s.connection().exec_driver_sql("SET LOCAL maintenance_work_mem = '3MB'")
        before = s.connection().exec_driver_sql(show).scalar() if dialect == "postgresql" else None
        record_recommendations(session=s, run_id=run_id, result=_ranked(ann, ["TEA"], _AS_OF))
        after = s.connection().exec_driver_sql(show).scalar() if dialect == "postgresql" else None
        return before, after

    before, after = db.write(write)
    assert before == after
    assert _rows_of(db, run_id) == 1
    if db.engine.dialect.name == "postgresql":
        assert _partitions(db) == [f"customer_recommendation_run_{run_id}"]
