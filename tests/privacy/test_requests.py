from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from patron.audit import service as audit
from patron.core.db import Database
from patron.privacy import requests
from patron.privacy.exceptions import RequestClosed
from patron.privacy.schemas import PrivacyRequestChange
from patron.support.workingtime import BusinessCalendar, PublicHolidays
from tests.helpers import ACTOR, sign_up
from tests.privacy.helpers import file_request

# National Day 2026: 1-7 October off, Saturday 10 October worked in lieu.
GOLDEN_WEEK = PublicHolidays(
    holidays={date(2026, 10, d): "国庆节" for d in range(1, 8)},
    workdays={date(2026, 10, 10): "国庆节"},
    years=frozenset({2026}),
)


def test_working_days_skip_public_holidays_and_count_days_worked_in_lieu() -> None:
    calendar = BusinessCalendar(public=GOLDEN_WEEK)
    # Received Wednesday 30 September: 8, 9, 10 (Saturday, worked), 12 ... are working days.
    assert requests.add_working_days(calendar, date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert requests.add_working_days(calendar, date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert requests.add_working_days(calendar, date(2026, 9, 30), 15) == date(2026, 10, 27)


def test_a_request_is_due_fifteen_working_days_after_receipt(db: Database) -> None:
    customer = sign_up(db, phone="13800138000", name="王小明")
    # Monday 2 November 2026, 10:00 in Shanghai: three weeks of working days later.
    found = file_request(db, customer, received_at=datetime(2026, 11, 2, 2, 0, tzinfo=UTC))
    assert (found.status, found.due_on) == ("new", date(2026, 11, 23))


def test_a_request_moves_to_done_with_its_outcome_and_is_audited(db: Database) -> None:
    customer = sign_up(db, phone="13800138001")
    filed = file_request(db, customer, kind="erasure")

    def change(action: str, outcome: str = "") -> object:
        change_in = PrivacyRequestChange(action=action, outcome=outcome)  # type: ignore[arg-type]
        return db.write(
            lambda s: requests.change_request(
                session=s, request_id=filed.id, change=change_in, actor=ACTOR
            )
        )

    change("start")
    done = change("refuse", "储值卡余额未结清")
    assert done.status == "refused"  # type: ignore[attr-defined]
    assert done.handler == ACTOR.name  # type: ignore[attr-defined]
    with pytest.raises(RequestClosed):
        change("done", "已删除")
    actions = [
        e.action
        for e in db.read(lambda s: audit.list_audit(session=s, target_id=str(customer))).items
    ]
    assert actions[:3] == [
        "privacy.request.refuse",
        "privacy.request.start",
        "privacy.request.create",
    ]


def test_closing_a_request_needs_an_outcome() -> None:
    with pytest.raises(ValueError, match="outcome"):
        PrivacyRequestChange(action="done", outcome="")


def test_reminders_list_requests_due_soon_once_a_day(db: Database) -> None:
    customer = sign_up(db, phone="13800138002")
    soon = file_request(db, customer, received_at=datetime(2026, 11, 2, 2, 0, tzinfo=UTC))
    file_request(db, customer, received_at=datetime(2026, 11, 20, 2, 0, tzinfo=UTC))

    def remind(today: date) -> list[int]:
        return [
            r.id
            for r in db.write(
                lambda s: requests.requests_due_soon(session=s, within_days=3, today=today)
            )
        ]

    assert remind(date(2026, 11, 20)) == [soon.id]
    assert remind(date(2026, 11, 20)) == []  # once a day
    assert remind(date(2026, 11, 21)) == [soon.id]
