from __future__ import annotations

from datetime import timedelta

from patron.core.clock import utcnow
from patron.core.db import Database
from patron.jobs.privacy import privacy_job, remind_due_requests
from tests.helpers import sign_up
from tests.privacy.helpers import file_request


def test_reminders_list_a_request_due_soon_once_however_often_the_job_runs(db: Database) -> None:
    customer = sign_up(db, phone="13800138000")
    due = file_request(db, customer, received_at=utcnow() - timedelta(days=40))  # overdue
    file_request(db, customer)  # due in three weeks
    assert [r.id for r in remind_due_requests(db, within_days=3)] == [due.id]
    privacy_job(db)
    assert remind_due_requests(db, within_days=3) == []
