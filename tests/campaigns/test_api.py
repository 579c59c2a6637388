"""Campaigns over HTTP and on the console: a marketer creates, a chain manager approves, the
send goes out once, opens and clicks come back, and the results read conversions against the
holdout; a store manager sees their stores' customers only."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

from patron.campaigns import results as campaign_results
from patron.campaigns import service as campaigns
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.engagement import service as outbox
from patron.engagement.tokens import message_token
from patron.staff.roles import Role
from tests.campaigns.helpers import EMAIL, SMS, make_audience, make_template
from tests.consent.helpers import record
from tests.helpers import ACTOR, add_store, post_order, reachable_customer
from tests.web.helpers.api import api_client
from tests.web.helpers.console import console, text_of


def _shop(db: Database) -> list[int]:
    add_store(db, "SH01", "上海南京路店")
    add_store(db, "BJ01", "北京王府井店")
    people = [
        reachable_customer(db, store="SH01" if n % 2 else "BJ01", tags=["campaign"])
        for n in range(20)
    ]
    record(db, people, "email")
    return people


def test_a_marketer_creates_a_chain_manager_approves_and_the_send_goes_once(
    db: Database,
) -> None:
    people = _shop(db)
    audience = make_audience(db)
    with api_client(db, role=Role.MARKETER) as marketer:
        template = marketer.post("/api/v1/campaign-templates", json=EMAIL)
        assert template.status_code == 201, template.text
        bad = marketer.post("/api/v1/campaign-templates", json={**SMS, "text_zh": "8折"})
        assert bad.status_code == 422 and "text_zh" in bad.text
        created = marketer.post(
            "/api/v1/campaigns",
            json={
                "name": "周末",
                "audience_id": audience,
                "templates": {"email": template.json()["id"]},
                "holdout_percent": 20,
            },
        )
        assert created.status_code == 201, created.text
        cid = created.json()["id"]
        assert marketer.post(f"/api/v1/campaigns/{cid}/submit").json()["status"] == (
            "awaiting_approval"
        )
        assert marketer.post(f"/api/v1/campaigns/{cid}/approve").status_code == 403
        assert marketer.post(f"/api/v1/campaigns/{cid}/send").status_code == 409
    with api_client(db, role=Role.CHAIN_MANAGER) as manager:
        approved = manager.post(f"/api/v1/campaigns/{cid}/approve").json()
        assert approved["status"] == "scheduled" and approved["approved_by"]
        sent = manager.post(f"/api/v1/campaigns/{cid}/send").json()
        assert sent["treated"] + sent["held_out"] == len(people)
        assert manager.post(f"/api/v1/campaigns/{cid}/send").json()["already_sent"] is True
    queued = db.read(lambda s: outbox.count_by_status(session=s, source_kind="campaign"))
    assert queued == {"queued": sent["treated"]}


def test_opens_clicks_and_purchases_come_back_as_results_scoped_to_a_store(
    db: Database,
) -> None:
    people = _shop(db)
    audience = make_audience(db)
    email = make_template(db, EMAIL)
    from tests.campaigns.helpers import approved, make_campaign

    campaign = make_campaign(
        db, name="测量", audience_id=audience, templates={"email": email.id}, holdout_percent=30
    )
    approved(db, campaign.id)
    sent_at = utcnow() - timedelta(days=3)
    db.write(
        lambda s: campaigns.send_campaign(
            session=s, campaign_id=campaign.id, actor=ACTOR, now=sent_at
        )
    )
    members = db.read(lambda s: campaigns.campaign_members(session=s, campaign_id=campaign.id))
    treated = [m[0] for m in members if not m[1]]
    for n, cid in enumerate(treated[:4]):  # four treated customers buy after the send
        post_order(
            db,
            f"after-{n}",
            store_code="SH01",
            customer={"id": cid},
            at=sent_at + timedelta(days=1),
        )
    first = outbox.find_message_id
    message_id = db.read(
        lambda s: first(
            session=s,
            source_kind="campaign",
            source_id=str(campaign.id),
            customer_id=treated[0],
            channel="email",
        )
    )
    assert message_id is not None
    token = message_token(message_id)
    with api_client(db, role=None) as public:
        pixel = public.get(f"/o/{token}.gif")
        assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif"
        html = email_html(db, campaign.id)
        link = next(part for part in html.split('"') if "/c/" in part)
        query = parse_qs(urlparse(link).query)
        target = query["u"][0]
        follow = public.get(
            f"/c/{token}", params={"u": target, "s": query["s"][0]}, follow_redirects=False
        )
        assert follow.status_code == 302 and follow.headers["location"] == target
        forged = public.get(
            f"/c/{token}",
            params={"u": "https://evil.example", "s": query["s"][0]},
            follow_redirects=False,
        )
        assert forged.status_code == 404
    with api_client(db, role=Role.CHAIN_MANAGER) as manager:
        found = manager.get(f"/api/v1/campaigns/{campaign.id}/results").json()
    assert (found["opened"], found["clicked"]) == (1, 1)
    assert found["treated"]["customers"] + found["holdout"]["customers"] == len(people)
    assert found["treated"]["converted"] == 4 and found["holdout"]["converted"] == 0
    assert found["conversion_uplift"]["estimate"] > 0
    assert found["verdict"] in {"positive", "no_measurable_effect"}
    with api_client(db, role=Role.STORE_MANAGER, stores=["BJ01"]) as store:
        mine = store.get(f"/api/v1/campaigns/{campaign.id}/results").json()
    assert mine["scoped"] is True
    bj = mine["treated"]["customers"] + mine["holdout"]["customers"]
    assert 0 < bj < len(people)
    assert (
        db.read(
            lambda s: campaign_results.campaign_results(session=s, campaign_id=campaign.id)
        ).opened
        == 1
    )


def email_html(db: Database, campaign_id: int) -> str:
    """The HTML a campaign's e-mails carry (with its placeholders), from its outbox content."""
    contents = db.read(lambda s: outbox.get_contents(session=s, content_ids=range(1, 20)))
    return next(body["html"] for channel, body in contents.values() if channel == "email")


def test_the_console_creates_approves_sends_and_shows_results_in_chinese(db: Database) -> None:
    _shop(db)
    audience = make_audience(db)
    email = make_template(db, EMAIL)
    with console(db, "boss", Role.CHAIN_MANAGER) as (client, csrf):
        page = client.get("/campaigns")
        assert "新建营销活动" in page.text
        created = client.post(
            "/campaigns",
            data={
                "csrf_token": csrf,
                "name": "双十二",
                "audience_id": str(audience),
                "template_email": str(email.id),
                "offer": "none",
                "holdout_percent": "10",
                "conversion_days": "14",
                "priority": "0",
            },
            follow_redirects=False,
        )
        assert created.status_code == 303, created.text
        path = created.headers["location"]
        for action in ("submit", "approve", "send"):
            done = client.post(
                f"{path}/{action}", data={"csrf_token": csrf}, follow_redirects=False
            )
            assert done.status_code == 303, (action, done.text)
        text = text_of(client.get(path).text)
        assert "已发送" in text and "触达组" in text and "留出集" in text
        bad = client.post(
            "/campaigns", data={"csrf_token": csrf, "name": "", "audience_id": str(audience)}
        )
        assert bad.status_code == 422
        preview = client.get(f"/campaigns/templates/{email.id}")
        assert 'id="preview-text"' in preview.text
