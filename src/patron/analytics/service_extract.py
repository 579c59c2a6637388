"""Service signals into the analytics store: ``tickets`` and ``survey_answers``, rebuilt
whole on every extract (they are few). A table is created only when the shop has such rows,
so the churn model's service features are used only where the data exists
(analytics/churn/features.py: a feature constant for everyone would only add noise)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from patron.support import signals

TICKETS_DDL = (
    "CREATE OR REPLACE TABLE tickets (ticket_id BIGINT, customer_id BIGINT, "
    "ticket_type VARCHAR, opened_on DATE, closed_on DATE, breached_on DATE)"
)
ANSWERS_DDL = (
    "CREATE OR REPLACE TABLE survey_answers (response_id BIGINT, customer_id BIGINT, "
    "answered_on DATE, csat INTEGER, nps INTEGER)"
)


def load_service_signals(source: Connection, duck: Any, timezone: str) -> dict[str, int]:
    """Copy the shop's tickets and survey answers; returns the rows per table."""
    zone = ZoneInfo(timezone)
    with Session(bind=source) as session:
        tickets = signals.ticket_rows(session=session, zone=zone)
        answers = signals.answer_rows(session=session, zone=zone)
    for name, ddl, rows, width in (
        ("tickets", TICKETS_DDL, tickets, 6),
        ("survey_answers", ANSWERS_DDL, answers, 5),
    ):
        if not rows:
            duck.execute(f"DROP TABLE IF EXISTS {name}")
            continue
        duck.execute(ddl)
        marks = ", ".join("?" * width)
        duck.executemany(f"INSERT INTO {name} VALUES ({marks})", [list(r) for r in rows])
    return {"tickets": len(tickets), "survey_answers": len(answers)}
