"""Service signals in the churn model: complaints, open tickets, broken service levels, low
CSAT and detractor answers, copied into the analytics store by the extract and counted as
of the cut-off; left out where the shop has no tickets or answers."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np

from patron.analytics import store as analytics_store
from patron.analytics.churn.features import available_features, compute_columns, store_tables
from patron.analytics.churn.reasons import render_reason
from patron.analytics.extract import extract
from patron.core.db import Database
from tests.analytics.churn.helpers import Shop
from tests.support.helpers import move, open_ticket, policy, seed_holidays, shanghai

AS_OF = date(2025, 6, 30)
SERVICE = {"complaints", "open_tickets", "sla_breaches", "low_csat", "detractor"}


def _shop() -> Shop:
    shop = Shop()
    for customer in (1, 2):
        shop.customer(customer)
        shop.order(customer, AS_OF - timedelta(days=200))
        shop.order(customer, AS_OF - timedelta(days=20))
    return shop


def test_a_shop_without_tickets_or_answers_leaves_the_service_features_out() -> None:
    con = _shop().connect()
    usable, missing = available_features(store_tables(con))
    assert not SERVICE & {f.name for f in usable}
    assert missing["complaints"] == ["tickets"] and missing["detractor"] == ["survey_answers"]


def test_service_counts_see_only_what_was_known_at_the_cut_off() -> None:
    con = _shop().connect()
    con.execute(
        "CREATE TABLE tickets (ticket_id BIGINT, customer_id BIGINT, ticket_type VARCHAR, "
        "opened_on DATE, closed_on DATE, breached_on DATE)"
    )
    con.execute(
        "CREATE TABLE survey_answers (response_id BIGINT, customer_id BIGINT, "
        "answered_on DATE, csat INTEGER, nps INTEGER)"
    )
    day = AS_OF - timedelta(days=10)
    later = AS_OF + timedelta(days=5)  # after the cut-off: unknown then
    con.executemany(
        "INSERT INTO tickets VALUES (?, ?, ?, ?, ?, ?)",
        [
            [1, 1, "complaint", day, None, day],
            [2, 1, "complaint", AS_OF - timedelta(days=200), AS_OF - timedelta(days=190), None],
            [3, 1, "return", day, later, None],
            [4, 2, "complaint", later, None, later],
        ],
    )
    con.executemany(
        "INSERT INTO survey_answers VALUES (?, ?, ?, ?, ?)",
        [[1, 1, day, 1, 2], [2, 2, day, 5, 10], [3, 2, later, 1, 0]],
    )
    tables = store_tables(con)
    usable, _missing = available_features(tables)
    assert {f.name for f in usable} >= SERVICE
    c = compute_columns(con, cutoff=AS_OF, tables=tables)
    assert c["complaints_recent"].tolist() == [1.0, 0.0]
    assert c["open_tickets"].tolist() == [2.0, 0.0]  # the return closed only after
    assert c["sla_breaches_recent"].tolist() == [1.0, 0.0]
    assert c["low_csat_recent"].tolist() == [1.0, 0.0]
    assert c["detractor_recent"].tolist() == [1.0, 0.0]
    complaints = next(f for f in usable if f.name == "complaints")
    assert complaints.applies(c).tolist() == [True, False]
    numbers = {k: float(v[0]) for k, v in complaints.numbers(c).items()}
    assert render_reason("complaints", numbers, "zh-CN") == "近90天投诉了1次"
    assert np.isclose(complaints.value(c)[0], np.log(2))


def test_the_extract_copies_tickets_and_answers_dated_in_the_shops_zone(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "analytics.duckdb"
    with analytics_store.connect(path) as duck:
        extract(db=db, duck=duck, timezone="Asia/Shanghai")
        assert "tickets" not in store_tables(duck)
    seed_holidays(db)
    policy(db, first_reply_minutes=60, resolve_minutes=120)
    ticket = open_ticket(db, opened_at=shanghai(2026, 3, 3, 23, 30))  # 15:30 UTC
    move(db, ticket.id, "resolved", at=shanghai(2026, 3, 4, 10, 0))
    with analytics_store.connect(path) as duck:
        extract(db=db, duck=duck, timezone="Asia/Shanghai")
        rows = duck.execute("SELECT customer_id, ticket_type, opened_on, closed_on FROM tickets")
        assert rows.fetchall() == [
            (ticket.customer_id, "complaint", date(2026, 3, 3), date(2026, 3, 4))
        ]
        assert "survey_answers" not in store_tables(duck)
