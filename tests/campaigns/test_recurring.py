"""Recurring campaigns: each occurrence, in the chain's zone, is a send of its own with its
own holdout draw and results, the audience drawn again each time; an occurrence found too
late is passed over, never sent late."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from patron import audiences
from patron.campaigns import service as campaigns
from patron.campaigns.scheduler import send_due
from patron.core.db import Database
from patron.core.errors import Conflict
from tests.campaigns.helpers import SMS, approved, make_audience, make_campaign, make_template
from tests.consent.helpers import record
from tests.helpers import ACTOR, reachable_customer

# Sunday 1 March 2026; Mondays at 10:00 in Shanghai are 02:00 UTC.
START = datetime(2026, 3, 1, tzinfo=UTC)
FIRST = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
SECOND = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)


def _members(db: Database, n: int) -> list[int]:
    people = [reachable_customer(db, tags=["campaign"]) for _ in range(n)]
    record(db, people, "sms")
    return people


def _weekly(db: Database, recurrence: str = "0 10 * * 1") -> int:
    campaign = make_campaign(
        db,
        name="每周一",
        audience_id=make_audience(db),
        templates={"sms": make_template(db, SMS).id},
        holdout_percent=20,
        send_at=START.isoformat(),
        recurrence=recurrence,
    )
    assert (campaign.recurrence, campaign.zone) == (recurrence, "Asia/Shanghai")
    approved(db, campaign.id)
    return campaign.id


def _get(db: Database, campaign_id: int) -> campaigns.CampaignRead:
    return db.read(lambda s: campaigns.get_campaign_or_raise(session=s, campaign_id=campaign_id))


def test_each_occurrence_is_a_send_of_its_own_with_the_audience_drawn_again(
    db: Database,
) -> None:
    _members(db, 10)
    series = _weekly(db)
    assert _get(db, series).send_at == FIRST  # Monday 10:00 in Shanghai

    assert send_due(db, actor=ACTOR, now=FIRST - timedelta(minutes=1)) == []
    first = send_due(db, actor=ACTOR, now=FIRST + timedelta(minutes=1))
    assert len(first) == 1 and first[0].series_id == series and first[0].audience == 10
    assert send_due(db, actor=ACTOR, now=FIRST + timedelta(minutes=2)) == []  # once

    _members(db, 5)  # joined during the week
    audiences.refresh_audience_store(db=db)
    assert _get(db, series).send_at == SECOND
    second = send_due(db, actor=ACTOR, now=SECOND + timedelta(minutes=1))
    assert len(second) == 1 and second[0].audience == 15

    occurrences = db.read(lambda s: campaigns.list_occurrences(session=s, series_id=series))
    assert [o.occurrence_at for o in occurrences] == [SECOND, FIRST]
    assert all(o.status == "sent" and o.series_id == series for o in occurrences)
    assert occurrences[0].seed != occurrences[1].seed  # a holdout drawn for each
    assert {o.id for o in occurrences} == {first[0].campaign_id, second[0].campaign_id}
    assert occurrences[1].messages == first[0].messages["sms"]
    assert _get(db, series).status == "scheduled"  # the series goes on


def test_an_occurrence_found_too_late_is_passed_over(db: Database) -> None:
    _members(db, 3)
    series = _weekly(db)
    late = send_due(db, actor=ACTOR, now=FIRST + timedelta(days=2))  # the server was down
    assert [o.missed_occurrence for o in late] == [FIRST]
    assert db.read(lambda s: campaigns.list_occurrences(session=s, series_id=series)) == []
    assert _get(db, series).send_at == SECOND


def test_monthly_on_the_8th_and_a_paused_series_skips_what_fell_meanwhile(
    db: Database,
) -> None:
    _members(db, 3)
    series = _weekly(db, "0 10 8 * *")
    assert _get(db, series).send_at == datetime(2026, 3, 8, 2, 0, tzinfo=UTC)
    db.write(lambda s: campaigns.pause_campaign(session=s, campaign_id=series, actor=ACTOR))
    with pytest.raises(Conflict):  # paused: not sent, not even by "Send now"
        db.write(lambda s: campaigns.send_campaign(session=s, campaign_id=series, actor=ACTOR))
    back_on = datetime(2026, 5, 20, 4, 0, tzinfo=UTC)  # March's and April's 8th fell while paused
    resumed = db.write(
        lambda s: campaigns.resume_campaign(session=s, campaign_id=series, actor=ACTOR, now=back_on)
    )
    assert resumed.status == "scheduled"
    assert resumed.send_at == datetime(2026, 6, 8, 2, 0, tzinfo=UTC)  # 8 June, 10:00 Shanghai
    local = resumed.send_at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert (local.day, local.hour, local.minute) == (8, 10, 0)


def test_the_api_takes_a_schedule_and_lists_the_occurrences(db: Database, api: TestClient) -> None:
    _members(db, 3)
    audience = make_audience(db)
    template = make_template(db, SMS).id
    body = {
        "name": "周报",
        "audience_id": audience,
        "templates": {"sms": template},
        "recurrence": "every monday",
    }
    refused = api.post("/api/v1/campaigns", json=body)
    assert refused.status_code == 422
    assert "recurrence" in refused.text and "recurrence_invalid" in refused.text

    body["recurrence"] = "0 10 * * 1"
    created = api.post("/api/v1/campaigns", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["recurrence"] == "0 10 * * 1"
    listed = api.get(f"/api/v1/campaigns/{created.json()['id']}/occurrences")
    assert listed.status_code == 200 and listed.json() == []


def test_the_console_schedules_a_recurring_campaign_and_lists_its_occurrences(
    db: Database,
) -> None:
    from patron.staff.roles import Role
    from tests.web.helpers.console import console, text_of

    _members(db, 3)
    audience = make_audience(db)
    sms = make_template(db, SMS)
    with console(db, "boss", Role.CHAIN_MANAGER) as (client, csrf):
        form = {
            "csrf_token": csrf,
            "name": "会员日",
            "audience_id": str(audience),
            "template_sms": str(sms.id),
            "holdout_percent": "10",
            "recurrence": "每月八号上午十点发送",
        }
        refused = client.post("/campaigns", data=form)
        assert refused.status_code == 422, refused.text
        errors = [line for line in refused.text.splitlines() if "error" in line]
        assert any("不是有效的重复周期" in line for line in errors), errors
        form["recurrence"] = "0 10 8 * *"
        created = client.post("/campaigns", data=form, follow_redirects=False)
        assert created.status_code == 303, created.text
        path = created.headers["location"]
        series = int(path.rsplit("/", 1)[1])
        for action in ("submit", "approve"):
            client.post(f"{path}/{action}", data={"csrf_token": csrf})
        due = _get(db, series).send_at
        assert due is not None
        send_due(db, actor=ACTOR, now=due + timedelta(minutes=1))
        page = client.get(path)
        text = text_of(page.text)
        assert "重复" in text and "0 10 8 * *" in text and "各次发送" in text
        assert 'id="campaign-occurrences"' in page.text
        (occurrence,) = db.read(lambda s: campaigns.list_occurrences(session=s, series_id=series))
        assert f'href="/campaigns/{occurrence.id}"' in page.text
        shown = text_of(client.get(f"/campaigns/{occurrence.id}").text)
        assert "周期活动的一次发送" in shown and "已发送" in shown
