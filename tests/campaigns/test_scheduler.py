"""``patron serve`` sends a scheduled campaign by itself when its time comes, in the one
process holding the leader lock."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from patron.campaigns import service as campaigns
from patron.campaigns.scheduler import LOCK, CampaignScheduler
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.leader import leader_lock
from patron.core.settings import get_settings
from patron.web.app import create_app
from tests.campaigns.helpers import SMS, approved, make_audience, make_campaign, make_template
from tests.consent.helpers import record
from tests.helpers import reachable_customer


def _due_campaign(db: Database, name: str = "定时", *, in_minutes: float = 0) -> int:
    people = [reachable_customer(db, tags=[name]) for _ in range(3)]
    record(db, people, "sms")
    campaign = make_campaign(
        db,
        name=name,
        audience_id=make_audience(db, tag=name, name=name),
        templates={"sms": make_template(db, {**SMS, "name": name}).id},
        holdout_percent=0,
        send_at=(utcnow() + timedelta(minutes=in_minutes)).isoformat(),
    )
    approved(db, campaign.id)
    return campaign.id


def _status(db: Database, campaign_id: int) -> str:
    return db.read(
        lambda s: campaigns.get_campaign_or_raise(session=s, campaign_id=campaign_id)
    ).status


def test_the_server_sends_a_due_campaign_by_itself(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign_id = _due_campaign(db, in_minutes=-1)
    monkeypatch.setenv("PATRON_CAMPAIGN_SCHEDULER", "true")
    monkeypatch.setenv("PATRON_CAMPAIGN_POLL_S", "0.1")
    get_settings.cache_clear()
    with TestClient(create_app(db)):  # the server's life: its lifespan starts the scheduler
        deadline = time.monotonic() + 60
        while _status(db, campaign_id) != "sent":
            assert time.monotonic() < deadline, "the server did not send the due campaign"
            time.sleep(0.1)
    sent = db.read(lambda s: campaigns.get_campaign_or_raise(session=s, campaign_id=campaign_id))
    assert sent.messages == 3 and sent.approved_by is not None


def test_only_the_leader_sends_and_a_campaign_not_yet_due_waits(db: Database) -> None:
    due = _due_campaign(db, "到点", in_minutes=-1)
    later = _due_campaign(db, "稍后", in_minutes=60)
    scheduler = CampaignScheduler(db)
    with leader_lock(db, LOCK) as held:  # another server process is the leader
        assert held
        assert scheduler.run_once() is None
    assert _status(db, due) == "scheduled"

    outcomes = scheduler.run_once()
    assert outcomes is not None and [o.campaign_id for o in outcomes] == [due]
    assert (_status(db, due), _status(db, later)) == ("sent", "scheduled")
    assert scheduler.run_once() == []  # sent once: nothing more to do


def test_the_server_starts_no_scheduler_when_told_not_to(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from patron.campaigns.scheduler import start_scheduler

    assert start_scheduler(db) is None  # tests start none unless they ask
    monkeypatch.setenv("PATRON_CAMPAIGN_SCHEDULER", "false")
    get_settings.cache_clear()
    assert start_scheduler(db) is None
