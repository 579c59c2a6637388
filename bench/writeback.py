"""The write-back alone, on PostgreSQL: a chain's run of ``--members`` members with ten
recommendation rows each (10.7 M rows at the default), written by
``record_recommendations`` into a fresh, migrated schema, twice (two runs: the second
finds the first's rows in place, as a nightly does), then the pruning of the first run.
``--scores``: each run writes a score row per member first (``_write_scores``), timed
apart; ``--risk``: then a churn risk row, with its reasons, for 585 of every thousand members
(``record_risk``, the second run's against the first's), timed apart;
``--no-recommendations``: only those.

Prints, per step, the wall seconds, the client's CPU seconds and the PostgreSQL backend's
CPU seconds (read from /proc for the session's backend process; parallel index-build
workers are not counted, the server's settings decide whether there are any; ``--serial``
turns them off for the bench's sessions, so that the backend's figure is all of the
server's work). The rows
are synthetic (random SKUs and scores, in member order as the step makes them): the
write-back only needs their shape.

    PATRON_BENCH_PG_DB=patron_x .venv/bin/python bench/writeback.py --members 1070000
    PATRON_BENCH_PG_DB=patron_x .venv/bin/python bench/writeback.py --scores --risk \
        --no-recommendations --serial --members 1000000
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
from _common import postgres_schema

AS_OF = date(2026, 3, 31)
PER_MEMBER = 10


def rows(members: int, seed: int = 7) -> Any:
    from patron.analytics.recommend.service import ROW_SCHEMA

    rng = np.random.default_rng(seed)
    n = members * PER_MEMBER
    labels = pa.array([f"SKU{k:05d}" for k in range(2000)], pa.string())
    sources = pa.array(["repeat", "similar", "rule", "popular"], pa.string())
    due = rng.integers(20_000, 20_600, n).astype(np.int32)
    return pa.Table.from_arrays(
        [
            pa.array(np.repeat(np.arange(1, members + 1, dtype=np.int64), PER_MEMBER)),
            pa.array(np.tile(np.arange(1, PER_MEMBER + 1, dtype=np.int16), members)),
            pa.DictionaryArray.from_arrays(
                pa.array(rng.integers(0, 2000, n, dtype=np.int32)), labels
            ),
            pa.array(rng.random(n)),
            pa.DictionaryArray.from_arrays(pa.array(rng.integers(0, 4, n, dtype=np.int8)), sources),
            pa.array(due, mask=rng.random(n) < 0.5).cast(pa.date32()),
        ],
        schema=ROW_SCHEMA,
    )


def score_rows(members: int, seed: int = 7) -> Any:
    """A score row per member, with the columns and types the scores step gives."""
    rng = np.random.default_rng(seed)
    n = members
    segments = pa.array(["champions", "loyal", "at_risk", "hibernating", "new"], pa.string())
    stages = pa.array(["new", "active", "lapsing", "lost"], pa.string())
    recency = rng.integers(0, 365, n)
    bought = rng.random(n) < 0.8
    first = rng.integers(19_000, 20_500, n).astype(np.int32)
    return pa.table(
        {
            "customer_id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
            "as_of": pa.array(np.full(n, (AS_OF - date(1970, 1, 1)).days, np.int32)).cast(
                pa.date32()
            ),
            "recency_days": pa.array(recency, mask=~bought),
            "frequency": pa.array(rng.integers(0, 40, n).astype(np.int64)),
            "monetary_fen": pa.array(rng.integers(0, 5_000_000, n).astype(np.int64)),
            "r_score": pa.array(rng.integers(1, 6, n).astype(np.int64), mask=~bought),
            "f_score": pa.array(rng.integers(1, 6, n).astype(np.int64), mask=~bought),
            "m_score": pa.array(rng.integers(1, 6, n).astype(np.int64), mask=~bought),
            "segment": pa.DictionaryArray.from_arrays(
                pa.array(rng.integers(0, 5, n).astype(np.int8), mask=~bought), segments
            ).cast(pa.string()),
            "stage": pa.DictionaryArray.from_arrays(
                pa.array(rng.integers(0, 4, n).astype(np.int8)), stages
            ).cast(pa.string()),
            "first_order_date": pa.array(first, mask=~bought).cast(pa.date32()),
            "last_order_date": pa.array(first + 30, mask=~bought).cast(pa.date32()),
        }
    )


RISK_SHARE = 0.585  # of the members, risk rows at chain scale (585,402 of 1 M customers)


def churn_result(members: int, seed: int = 7) -> Any:
    """A churn step's result for ``RISK_SHARE`` of the members, each with up to three
    reasons and their numbers, in the shape ``score_churn`` gives (the write-back only
    needs that)."""
    import pandas as pd

    from patron.analytics.churn.result import ChurnResult

    rng = np.random.default_rng(seed)
    ids = np.flatnonzero(rng.random(members) < RISK_SHARE) + 1
    n = len(ids)
    risk = rng.random(n)
    bands = np.where(risk > 0.7, "high", np.where(risk > 0.4, "medium", "low"))
    codes = np.array(["long_gap", "fewer_visits", "spending_less", "lapsed_category"], object)
    actions = np.array(["win_back_coupon", "reminder", "staff_call", "category_offer"], object)
    frame: dict[str, Any] = {
        "customer_id": ids.astype(np.int64),
        "churn_risk": risk,
        "p_alive": 1 - risk,
        "expected_purchases_90d": rng.random(n) * 4,
        "clv_fen": rng.integers(0, 2_000_000, n),
        "value_at_stake_fen": rng.integers(0, 1_000_000, n),
        "risk_band": bands,
    }
    reasons = rng.integers(0, 4, n)  # how many reasons each row has
    for k in range(1, 4):
        picked = rng.integers(0, 4, n)
        has = reasons >= k
        frame[f"reason_{k}"] = np.where(has, codes[(picked + k) % 4], None)
        frame[f"action_{k}"] = np.where(has, actions[(picked + k) % 4], None)
    numbers = {
        "long_gap": {"ratio": rng.random(n) * 5, "days": rng.integers(0, 400, n).astype(float)},
        "fewer_visits": {"percent": rng.integers(0, 100, n).astype(float)},
        "spending_less": {"percent": rng.random(n) * 100},
        "lapsed_category": {"days": rng.integers(0, 400, n).astype(float)},
    }
    return ChurnResult(
        as_of=AS_OF, report={"mode": "model"}, customers=pd.DataFrame(frame), numbers=numbers
    )


def _backend_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _client_cpu() -> float:
    t = os.times()
    return t.user + t.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_070_000)
    parser.add_argument("--scores", action="store_true", help="score rows too, timed apart")
    parser.add_argument("--risk", action="store_true", help="churn risk rows too, timed apart")
    parser.add_argument(
        "--no-recommendations", action="store_true", help="only the score and risk rows"
    )
    parser.add_argument("--serial", action="store_true", help="no parallel index builds")
    args = parser.parse_args()

    from sqlalchemy import text

    from patron.analytics.churn.service import record_risk
    from patron.analytics.engine import AnalyticsParams
    from patron.analytics.recommend.service import RecommendationResult, record_recommendations
    from patron.analytics.runs import _start_run, _write_scores, prune_score_history
    from patron.core.db import Database
    from patron.core.migrate import upgrade

    recommend = not args.no_recommendations
    table = rows(args.members if recommend else 0)
    result = RecommendationResult(as_of=AS_OF, rows=table)
    scores = score_rows(args.members) if args.scores else None
    churn = churn_result(args.members) if args.risk else None
    print(f"{table.num_rows:,} recommendation rows for {args.members:,} members")
    if churn is not None:
        print(f"{len(churn.customers):,} churn risk rows")
    with postgres_schema("patron_bench_writeback") as url:
        db = Database(url)
        try:
            upgrade(db)
            with db.engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO customer (id, signed_up_at, status, created_at, updated_at)"
                        " SELECT g, now(), 'active', now(), now()"
                        " FROM generate_series(1, :n) g"
                    ),
                    {"n": args.members},
                )
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE customer")

            def timed(name: str, work: Any) -> Any:
                with db.session(write=True) as session:
                    pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
                    if args.serial:
                        session.connection().exec_driver_sql(
                            "SET LOCAL max_parallel_maintenance_workers = 0"
                        )
                    assert isinstance(pid, int)
                    wall, cpu, server = time.perf_counter(), _client_cpu(), _backend_cpu(pid)
                    found = work(session)
                    session.commit()
                    took = time.perf_counter() - wall
                    used, served = _client_cpu() - cpu, _backend_cpu(pid) - server
                print(
                    f"  {name}: {took:.2f} s wall, client CPU {used:.2f} s, "
                    f"PostgreSQL backend CPU {served:.2f} s",
                    flush=True,
                )
                return found

            params = AnalyticsParams(as_of=AS_OF)
            first = db.write(
                lambda s: _start_run(s, params=params, engine="duckdb", trigger="bench")
            )
            if scores is not None:
                timed(
                    "run 1: scores",
                    lambda s: _write_scores(s, run_id=first, scores=scores),
                )
            if churn is not None:
                timed(
                    "run 1: churn risk",
                    lambda s: record_risk(
                        session=s, run_id=first, result=churn, previous_run_id=None
                    ),
                )
            if recommend:
                timed(
                    "run 1: write-back",
                    lambda s: record_recommendations(session=s, run_id=first, result=result),
                )
            second = db.write(
                lambda s: _start_run(s, params=params, engine="duckdb", trigger="bench")
            )
            if scores is not None:
                timed(
                    "run 2: scores",
                    lambda s: _write_scores(s, run_id=second, scores=scores),
                )
            if churn is not None:
                timed(
                    "run 2: churn risk",
                    lambda s: record_risk(
                        session=s, run_id=second, result=churn, previous_run_id=first
                    ),
                )
            if recommend:
                timed(
                    "run 2: write-back",
                    lambda s: record_recommendations(session=s, run_id=second, result=result),
                )
            with db.engine.begin() as conn:
                conn.execute(
                    text("UPDATE analytics_run SET status = 'succeeded', as_of = :d WHERE id = :r"),
                    {"d": date(2025, 1, 1), "r": first},
                )
                conn.execute(
                    text("UPDATE analytics_run SET status = 'succeeded', as_of = :d WHERE id = :r"),
                    {"d": date(2025, 1, 2), "r": second},
                )
            pruned = timed(
                "prune run 1", lambda s: prune_score_history(session=s, keep_days=30, today=AS_OF)
            )
            print(f"  ({pruned} run pruned)")
        finally:
            db.dispose()


if __name__ == "__main__":
    main()
