"""The extract: the contract's tables, business days, refunds, merges, and re-runs that move
only what changed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import ibis
import pytest

from patron.analytics import extract as extract_module
from patron.analytics import store as analytics_store
from patron.analytics.engine import Tables
from patron.analytics.store import AnalyticsBusy
from patron.catalog import service as catalog
from patron.catalog.schemas import ProductIn, StoreCreate
from patron.core.db import Database
from patron.customers import service as customers
from patron.customers.schemas import CustomerUpdate
from tests.analytics.pipeline.helpers import ACTOR, build_chain, query, refund, run_extract
from tests.helpers import post_order


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "analytics.duckdb"


def test_extract_writes_the_contract_tables_with_business_days_and_categories(
    db: Database, store_path: Path
) -> None:
    chain = build_chain(db)
    result = run_extract(db, store_path)
    assert result.full and result.totals["orders"] == 4 and result.totals["customers"] == 3

    with analytics_store.connect(store_path) as duck:
        Tables.from_backend(ibis.duckdb.from_connection(duck))  # raises on a schema mismatch

    days = dict(query(store_path, "SELECT order_id, order_date FROM orders"))
    assert days[chain.orders["alice_1"]] == date(2026, 3, 2)  # Shanghai: past midnight
    assert days[chain.orders["bob_1"]] == date(2026, 3, 1)  # London: still the 1st
    signup = query(
        store_path, "SELECT signup_date FROM customers WHERE customer_id = ?", [chain.alice]
    )
    assert signup == [(date(2026, 1, 2),)]  # 16:30 UTC is past midnight in Shanghai

    walk_in = query(
        store_path,
        "SELECT customer_id, paid_fen FROM orders WHERE order_id = ?",
        [chain.orders["walk_in"]],
    )
    assert walk_in == [(None, 1000)]
    categories = dict(
        query(
            store_path,
            "SELECT sku, category FROM order_lines WHERE order_id IN (?, ?)",
            [chain.orders["alice_1"], chain.orders["carol_1"]],
        )
    )
    assert categories == {"APPLE": "生鲜", "TISSUE": "日用", "NO-SUCH-SKU": ""}
    amounts = query(
        store_path,
        "SELECT gross_fen, paid_fen, refunded_fen, net_fen FROM orders WHERE order_id = ?",
        [chain.orders["alice_1"]],
    )
    assert amounts == [(3800, 3800, 0, 3800)]


def test_a_rerun_moves_nothing_and_new_orders_move_alone(db: Database, store_path: Path) -> None:
    chain = build_chain(db)
    run_extract(db, store_path)
    again = run_extract(db, store_path)
    assert not again.full
    assert again.rows_moved == 0, again.moved

    post_order(db, "A2", customer={"id": chain.alice}, store_code="SH01")
    later = run_extract(db, store_path)
    assert later.moved.get("orders") == 1
    assert later.moved.get("order_lines") == 1
    assert later.rows_moved == 2, later.moved
    assert later.totals["orders"] == 5


def test_a_refund_after_extract_updates_the_order_and_its_lines(
    db: Database, store_path: Path
) -> None:
    chain = build_chain(db)
    order_id = chain.orders["alice_1"]
    run_extract(db, store_path)
    refund(db, "R1", order_id, lines=[{"line_no": 1, "quantity": 1}])

    result = run_extract(db, store_path)
    assert result.moved["refunds"] == 1 and result.moved["refund_lines"] == 1
    assert query(
        store_path,
        "SELECT paid_fen, refunded_fen, net_fen FROM orders WHERE order_id = ?",
        [order_id],
    ) == [(3800, 1500, 2300)]
    lines = query(
        store_path,
        "SELECT sku, refunded_fen, net_fen FROM order_lines WHERE order_id = ? ORDER BY sku",
        [order_id],
    )
    assert lines == [("APPLE", 1500, 1500), ("TISSUE", 0, 800)]
    assert query(store_path, "SELECT refund_date, amount_fen FROM refunds") == [
        (date(2026, 3, 5), 1500)
    ]
    assert run_extract(db, store_path).rows_moved == 0


def test_merge_and_unmerge_after_extract_move_orders_and_profiles(
    db: Database, store_path: Path
) -> None:
    chain = build_chain(db)
    run_extract(db, store_path)
    merge = db.write(
        lambda s: customers.merge_customers(
            session=s,
            survivor_id=chain.alice,
            merged_id=chain.bob,
            reason="same person",
            actor=ACTOR,
        )
    )
    run_extract(db, store_path)
    live = {row[0] for row in query(store_path, "SELECT customer_id FROM customers")}
    assert live == {chain.alice, chain.carol}
    owner = query(
        store_path, "SELECT customer_id FROM orders WHERE order_id = ?", [chain.orders["bob_1"]]
    )
    assert owner == [(chain.alice,)]
    assert run_extract(db, store_path).rows_moved == 0

    db.write(lambda s: customers.unmerge_customers(session=s, merge_id=merge.id, actor=ACTOR))
    run_extract(db, store_path)
    live = {row[0] for row in query(store_path, "SELECT customer_id FROM customers")}
    assert live == {chain.alice, chain.bob, chain.carol}
    owner = query(
        store_path, "SELECT customer_id FROM orders WHERE order_id = ?", [chain.orders["bob_1"]]
    )
    assert owner == [(chain.bob,)]


def test_profiles_products_and_store_zones_changed_in_place_are_carried_over(
    db: Database, store_path: Path
) -> None:
    chain = build_chain(db)
    run_extract(db, store_path)
    db.write(
        lambda s: customers.update_customer(
            session=s, customer_id=chain.carol, customer_in=CustomerUpdate(home_store_code="LDN")
        )
    )
    db.write(
        lambda s: catalog.upsert_products(
            session=s, products_in=[ProductIn(sku="NO-SUCH-SKU", name="新品", category_path="零食")]
        )
    )
    db.write(
        lambda s: catalog.upsert_store(
            session=s,
            store_in=StoreCreate(
                code="LDN", name="London", city="London", timezone="Asia/Shanghai"
            ),
        )
    )
    result = run_extract(db, store_path)
    assert result.moved["customers"] == 1
    assert result.moved["products"] == 1 and result.moved["order_lines"] == 1
    assert result.moved["orders"] == 1  # Bob's order moves to the next day
    assert query(
        store_path, "SELECT home_store_id FROM customers WHERE customer_id = ?", [chain.carol]
    ) == [(chain.london,)]
    assert query(
        store_path, "SELECT category FROM order_lines WHERE order_id = ?", [chain.orders["carol_1"]]
    ) == [("零食",)]
    assert query(
        store_path, "SELECT order_date FROM orders WHERE order_id = ?", [chain.orders["bob_1"]]
    ) == [(date(2026, 3, 2),)]
    assert run_extract(db, store_path).rows_moved == 0


def test_full_rebuild_gives_the_same_tables(db: Database, store_path: Path) -> None:
    chain = build_chain(db)
    run_extract(db, store_path)
    refund(db, "R1", chain.orders["carol_1"])
    run_extract(db, store_path)
    sql = "SELECT * FROM orders ORDER BY order_id"
    lines_sql = "SELECT * FROM order_lines ORDER BY line_id"
    incremental = (query(store_path, sql), query(store_path, lines_sql))
    rebuilt = run_extract(db, store_path, full=True)
    assert rebuilt.full
    assert (query(store_path, sql), query(store_path, lines_sql)) == incremental


def test_orders_are_kept_in_customer_order_once_enough_arrive_unsorted(
    db: Database, store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = build_chain(db)
    physical = "SELECT customer_id FROM orders ORDER BY rowid"
    first = run_extract(db, store_path)
    assert first.clustered
    in_customer_order = [*sorted([chain.alice, chain.bob, chain.carol]), None]
    assert [c for (c,) in query(store_path, physical)] == in_customer_order

    monkeypatch.setattr(extract_module, "UNCLUSTERED_SHARE", 0.5)
    post_order(db, "A2", customer={"id": chain.alice}, store_code="SH01")
    few = run_extract(db, store_path)  # 1 of 5 came in unsorted: appended at the end
    assert not few.clustered
    assert [c for (c,) in query(store_path, physical)] == [*in_customer_order, chain.alice]

    for n in range(4):  # 5 of 9 unsorted: the table is rewritten
        post_order(db, f"B{n + 2}", customer={"id": chain.bob}, store_code="SH01")
    many = run_extract(db, store_path)
    assert many.clustered and many.totals["orders"] == 9
    owners = [c for (c,) in query(store_path, physical)]
    assert owners == sorted(owners, key=lambda c: (c is None, c or 0))
    assert run_extract(db, store_path).rows_moved == 0  # nothing lost or moved twice


def test_a_second_run_is_refused_while_one_holds_the_store(store_path: Path) -> None:
    with (
        analytics_store.run_lock(store_path),
        pytest.raises(AnalyticsBusy, match="another analytics run is going"),
        analytics_store.run_lock(store_path),
    ):
        pass
    with analytics_store.run_lock(store_path):  # released: free again
        pass
