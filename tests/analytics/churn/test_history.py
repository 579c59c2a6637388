"""The one pass over the orders (churn/history.py) gives the purchase columns the per-cut-off
SQL gives (features.compute_columns), and scoring on it gives the same scores."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from patron.analytics.churn.features import compute_columns, store_tables
from patron.analytics.churn.history import PurchaseHistory, purchase_history
from patron.analytics.churn.scoring import score_churn
from tests.analytics.churn.helpers import Population, synthetic_population


@pytest.fixture(scope="module")
def population() -> Population:
    """A synthetic shop with refunds dated after their orders, returns without a known sale
    (some before the customer's first purchase), and tickets."""
    population = synthetic_population(customers=1200, seed=11)
    con = population.con
    # Refunds a month or more after the order, so cut-offs fall between order and refund.
    con.execute(
        "INSERT INTO refunds SELECT 500000 + order_id, order_id, "
        "ordered_at + INTERVAL 35 DAY, order_date + 35, paid_fen // 3 "
        "FROM orders WHERE order_id % 11 = 0 AND order_date + 35 <= ?",
        [population.as_of],
    )
    con.execute(
        "CREATE TABLE returns AS SELECT -order_id AS return_id, NULL::BIGINT AS order_id, "
        "NULL::BIGINT AS line_id, customer_id, store_id, channel, "
        "ordered_at + INTERVAL 9 DAY AS returned_at, order_date + ((order_id % 19) - 4)::INTEGER "
        "AS return_date, 'food' AS category, paid_fen // 4 AS amount_fen "
        "FROM orders WHERE order_id % 7 = 0"
    )
    con.execute(
        "CREATE TABLE tickets AS SELECT order_id AS ticket_id, customer_id, "
        "CASE WHEN order_id % 2 = 0 THEN 'complaint' ELSE 'question' END AS ticket_type, "
        "order_date AS opened_on, CASE WHEN order_id % 3 = 0 THEN NULL "
        "ELSE order_date + 20 END AS closed_on, NULL::DATE AS breached_on "
        "FROM orders WHERE order_id % 13 = 0"
    )
    return population


def _assert_same(one_pass: dict[str, Any], reference: dict[str, Any]) -> None:
    assert one_pass.keys() == reference.keys()
    np.testing.assert_array_equal(one_pass["customer_id"], reference["customer_id"])
    for name, expected in reference.items():
        np.testing.assert_allclose(one_pass[name], expected, rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("sample", [1000, 400])
def test_the_one_pass_gives_each_cutoffs_columns_as_the_per_cutoff_sql_does(
    population: Population, sample: int
) -> None:
    con = population.con
    tables = store_tables(con)
    assert {"returns", "tickets"} <= tables
    as_of = population.as_of
    cutoffs = [as_of - timedelta(days=40), as_of - timedelta(days=80), date(2024, 3, 1)]
    with purchase_history(con, upto=as_of, tables=tables) as history:
        [now] = history.columns_at([as_of])
        earlier = history.columns_at(cutoffs, sample_per_mille=sample)
    _assert_same(now, compute_columns(con, cutoff=as_of, tables=tables))
    for day, columns in zip(cutoffs, earlier, strict=True):
        reference = compute_columns(con, cutoff=day, tables=tables, sample_per_mille=sample)
        _assert_same(columns, reference)
    # The returns and the refunds after a cut-off were there to be left out.
    assert (now["refunded_fen"] > 0).sum() > (earlier[0]["refunded_fen"] > 0).sum() > 0


def test_cutoffs_must_come_latest_first_and_not_after_the_history(
    population: Population,
) -> None:
    con = population.con
    as_of = population.as_of
    before = con.sql("SHOW ALL TABLES").fetchall()
    with purchase_history(con, upto=as_of, tables=store_tables(con)) as history:
        with pytest.raises(ValueError, match="latest first"):
            history.columns_at([as_of - timedelta(days=9), as_of])
        with pytest.raises(ValueError, match="after the history"):
            history.columns_at([as_of + timedelta(days=1)])
        assert len(history.ids) == len(history.starts) - 1 > 0
    # The history lives in NumPy: nothing is left registered on the store's connection.
    assert con.sql("SHOW ALL TABLES").fetchall() == before


def test_scores_on_the_one_pass_are_the_scores_of_the_three_per_cutoff_queries(
    population: Population, monkeypatch: pytest.MonkeyPatch
) -> None:
    con = population.con
    one_pass = score_churn(con, as_of=population.as_of)

    def per_cutoff(
        self: PurchaseHistory, cutoffs: Sequence[date], *, sample_per_mille: int = 1000
    ) -> list[dict[str, Any]]:
        tables = set(self.tables)
        return [
            compute_columns(con, cutoff=day, tables=tables, sample_per_mille=sample_per_mille)
            for day in cutoffs
        ]

    monkeypatch.setattr(PurchaseHistory, "columns_at", per_cutoff)
    reference = score_churn(con, as_of=population.as_of)
    assert one_pass.report["mode"] == "model"
    pd.testing.assert_frame_equal(one_pass.customers, reference.customers, rtol=1e-9)
    drop = ("seconds", "steps", "steps_cpu")
    assert {k: v for k, v in one_pass.report.items() if k not in drop} == {
        k: v for k, v in reference.report.items() if k not in drop
    }


def test_a_cutoff_before_every_purchase_and_an_empty_store_give_no_customers(
    population: Population,
) -> None:
    con = population.con
    tables = store_tables(con)
    first = con.sql("SELECT min(order_date) FROM orders").fetchall()[0][0]
    early = first - timedelta(days=1)
    with purchase_history(con, upto=population.as_of, tables=tables) as history:
        [before] = history.columns_at([early])
    _assert_same(before, compute_columns(con, cutoff=early, tables=tables))
    assert len(before["customer_id"]) == 0
    # A store with no purchase at all by the history's day.
    with purchase_history(con, upto=early, tables=tables) as history:
        [nothing] = history.columns_at([early])
    _assert_same(nothing, compute_columns(con, cutoff=early, tables=tables))


def test_the_sample_is_the_sqls_for_any_customer_id() -> None:
    from patron.analytics.churn.features import in_sample

    ids = np.array([-(2**40), -1000004, -7, -1, 0, 1, 7, 999_999, 1000003, 2**40], dtype=np.int64)
    con = duckdb.connect()
    for per_mille in (1, 300, 641, 999):
        sql = [
            bool(
                con.execute(f"SELECT ({i} % 1000003) * 2654435761 % 1000 < {per_mille}").fetchall()[
                    0
                ][0]
            )
            for i in ids.tolist()
        ]
        assert in_sample(ids, per_mille).tolist() == sql


@pytest.mark.parametrize("low", [0, -50, 2**60])
def test_the_single_key_sort_orders_as_the_lexsort(low: int) -> None:
    from patron.analytics.churn.history import _sort_order

    rng = np.random.default_rng(3)
    major = np.sort(rng.integers(0, 300, size=5000)) + low  # nearly ordered, as read
    major[::7] = major[::-1][::7]
    minor = rng.integers(20000, 20400, size=5000)
    expected = np.lexsort((minor, major))
    np.testing.assert_array_equal(_sort_order(major, minor), expected)
    assert len(_sort_order(major[:0], minor[:0])) == 0


@pytest.mark.parametrize("day_low", [-20000, 0, 19000, 2**61])
def test_the_gaps_packed_into_one_key_sort_by_customer_then_length(day_low: int) -> None:
    from patron.analytics.churn.history import _by_length

    rng = np.random.default_rng(5)
    segment = np.sort(rng.integers(0, 400, size=6000))
    length = rng.integers(1, 90, size=6000)
    day = rng.integers(0, 700, size=6000) + day_low
    found = _by_length(segment.copy(), length.copy(), day.copy())
    order = np.lexsort((day, length, segment))  # ties in any order: here by day, as packed
    for got, want in zip(found, (segment[order], length[order], day[order]), strict=True):
        np.testing.assert_array_equal(got, want)
    empty = np.zeros(0, dtype=np.int64)
    assert all(len(v) == 0 for v in _by_length(empty, empty, empty))


def test_the_history_is_the_same_from_orders_in_any_row_order(population: Population) -> None:
    """The store keeps its orders clustered by customer and day, and the history then skips
    its sort; a store whose orders are in another order gives the same columns."""
    from patron.analytics.churn.history import _in_order
    from patron.analytics.engine.schema import ORDERS_CLUSTER_KEY

    con = population.con
    tables = store_tables(con)
    as_of = population.as_of
    cutoffs = [as_of, as_of - timedelta(days=60)]
    copies = {}
    for name, order_by in (("clustered", ORDERS_CLUSTER_KEY), ("shuffled", "hash(order_id)")):
        copy = duckdb.connect()
        for table in tables:
            copy.register("source", con.sql(f"SELECT * FROM {table}").arrow())
            extra = f" ORDER BY {order_by}" if table == "orders" else ""
            copy.execute(f"CREATE TABLE {table} AS SELECT * FROM source{extra}")
            copy.unregister("source")
        found = copy.sql(
            "SELECT customer_id, order_date - DATE '1970-01-01' AS day FROM orders "
            "WHERE customer_id IS NOT NULL"
        ).fetchnumpy()
        in_order = _in_order(
            *(np.asarray(found[c], dtype=np.int64) for c in ("customer_id", "day"))
        )
        assert in_order == (name == "clustered")
        with purchase_history(copy, upto=as_of, tables=tables) as history:
            copies[name] = history.columns_at(cutoffs)
    for clustered, shuffled in zip(copies["clustered"], copies["shuffled"], strict=True):
        _assert_same(shuffled, clustered)
