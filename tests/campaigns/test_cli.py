"""``patron campaigns send-due`` sends the scheduled campaigns whose time has come, once."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from patron.campaigns import service as campaigns
from patron.cli import app
from patron.core.db import Database
from tests.campaigns.helpers import SMS, approved, make_audience, make_campaign, make_template
from tests.consent.helpers import record
from tests.helpers import reachable_customer


def test_send_due_sends_a_scheduled_campaign_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import patron.core.db as core_db

    people = [reachable_customer(db, tags=["campaign"]) for _ in range(3)]
    record(db, people, "sms")
    campaign = make_campaign(
        db,
        name="定时",
        audience_id=make_audience(db),
        templates={"sms": make_template(db, SMS).id},
        holdout_percent=0,
    )
    approved(db, campaign.id)
    monkeypatch.setattr(core_db, "get_database", lambda: db)

    first = CliRunner().invoke(app, ["campaigns", "send-due"])
    again = CliRunner().invoke(app, ["campaigns", "send-due"])

    assert first.exit_code == 0, first.output
    assert f"campaign {campaign.id}: 3 messages" in first.output
    assert again.output == ""
    sent = db.read(lambda s: campaigns.get_campaign_or_raise(session=s, campaign_id=campaign.id))
    assert (sent.status, sent.messages) == ("sent", 3)
