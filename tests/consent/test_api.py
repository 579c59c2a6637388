"""Consent over HTTP: read and change (audited), the one-click unsubscribe link of a marketing
e-mail, and the SMS providers' reply callbacks ("回复TD退订")."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from patron.audit.service import list_audit
from patron.consent import get_consent
from patron.core.db import Database
from patron.core.settings import get_settings
from patron.engagement.tokens import message_token
from patron.staff.roles import Role
from tests.consent.helpers import grant_marketing
from tests.engagement.builders import enqueue, message_of
from tests.helpers import reachable_customer
from tests.web.helpers.api import api_client
from tests.web.helpers.console import console, text_of


def _marketing(db: Database, cid: int, channel: str) -> bool | None:
    consent = db.read(lambda s: get_consent(session=s, customer_id=cid))
    return next(
        s.granted for s in consent.states if s.channel == channel and s.purpose == "marketing"
    )


def test_staff_change_consent_over_the_api_and_the_change_is_audited(db: Database) -> None:
    cid = reachable_customer(db)
    with api_client(db) as client:
        response = client.post(
            f"/api/v1/customers/{cid}/consent",
            json={
                "changes": [{"channel": "wechat", "purpose": "marketing", "granted": True}],
                "source": "mini_program",
                "notice_version": "v3",
            },
        )
        assert response.status_code == 200, response.text
        wechat = [s for s in response.json()["states"] if s["channel"] == "wechat"]
        assert {(s["purpose"], s["granted"], s["allowed"]) for s in wechat} == {
            ("marketing", True, True),
            ("service", None, True),
        }
        bad = client.post(
            f"/api/v1/customers/{cid}/consent",
            json={"changes": [{"channel": "fax", "purpose": "marketing", "granted": True}]},
        )
        assert bad.status_code == 422
        assert "fax" in bad.text or "channel" in bad.text
        assert client.get(f"/api/v1/customers/{cid}/consent").json()["history"][0]["source"] == (
            "mini_program"
        )
    entries = db.read(lambda s: list_audit(session=s, action="consent.change")).items
    assert [e.target_id for e in entries] == [str(cid)]


def test_the_unsubscribe_link_asks_on_get_and_withdraws_on_the_one_click_post(
    db: Database,
) -> None:
    cid = reachable_customer(db)
    enqueue(db, [cid])  # grants e-mail marketing, then enqueues a marketing e-mail
    token = message_token(message_of(db, cid).id)
    with api_client(db, role=None) as client:
        page = client.get(f"/u/{token}")
        assert page.status_code == 200 and 'id="unsubscribe-form"' in page.text
        assert _marketing(db, cid, "email") is True  # a scanner's GET changes nothing
        done = client.post(
            f"/u/{token}",
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert done.status_code == 200 and 'id="unsubscribed"' in done.text
        assert client.post(f"/u/{token}").status_code == 200  # twice: nothing more
        tampered = token[:-1] + ("1" if token[-1] == "0" else "0")
        assert client.get(f"/u/{tampered}").status_code == 404
    assert _marketing(db, cid, "email") is False
    assert _marketing(db, cid, "sms") is None
    history = db.read(lambda s: get_consent(session=s, customer_id=cid)).history
    assert [(e.source, e.granted) for e in history if e.channel == "email"] == [
        ("unsubscribe", False),
        ("till", True),
    ]


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PATRON_SMS_INBOUND_TOKEN", "s3cret-hook")
    get_settings.cache_clear()
    yield "s3cret-hook"  # type: ignore[misc]
    get_settings.cache_clear()


def test_an_aliyun_td_reply_withdraws_sms_marketing_and_other_replies_do_nothing(
    db: Database, hook: str
) -> None:
    replier = reachable_customer(db, phone="13912345678")
    chatter = reachable_customer(db, phone="13987654321")
    grant_marketing(db, [replier, chatter], "sms", "email")
    beijing_now = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    push = [
        {
            "phone_number": "13912345678",
            "send_time": beijing_now,
            "content": "TD",
            "sign_name": "会员中心",
            "dest_code": "SMS_465970123",
            "sequence_id": 1,
        },
        {"phone_number": "13987654321", "content": "谢谢", "send_time": "2026-12-06 10:01:00"},
        {"phone_number": "13700000000", "content": "退订"},  # nobody's number
    ]
    with api_client(db, role=None) as client:
        answer = client.post(f"/hooks/sms/{hook}/aliyun", json=push)
        assert answer.status_code == 200 and answer.json()["code"] == 0
        assert client.post("/hooks/sms/wrong/aliyun", json=push).status_code == 404
        bad = client.post(f"/hooks/sms/{hook}/aliyun", json=[{"content": "TD"}])
        assert bad.status_code == 422
    assert _marketing(db, replier, "sms") is False
    assert _marketing(db, replier, "email") is True  # only SMS marketing
    assert _marketing(db, chatter, "sms") is True


def test_the_generic_reply_callback_reads_a_chinese_stop_word(db: Database, hook: str) -> None:
    cid = reachable_customer(db, phone="13911112222")
    grant_marketing(db, [cid], "sms")
    with api_client(db, role=None) as client:
        answer = client.post(
            f"/hooks/sms/{hook}/replies", json={"phone": "+86 139 1111 2222", "text": " 退订 "}
        )
    assert answer.json() == {"unsubscribed": True, "customer_ids": [cid]}
    assert _marketing(db, cid, "sms") is False


def test_the_360_page_shows_consent_and_records_a_change_from_its_form(db: Database) -> None:
    cid = reachable_customer(db)
    grant_marketing(db, [cid], "sms")
    with console(db, role=Role.SERVICE_AGENT) as (client, csrf):
        page = client.get(f"/customers/{cid}")
        assert 'id="consent-states"' in page.text and 'id="consent-form"' in page.text
        saved = client.post(
            f"/customers/{cid}/consent",
            data={
                "csrf_token": csrf,
                "channel": "sms",
                "purpose": "marketing",
                "granted": "0",
                "source": "console",
                "notice_version": "v3",
            },
            follow_redirects=False,
        )
        assert saved.status_code == 303
        text = text_of(client.get(f"/customers/{cid}").text)
        assert "撤回" in text or "withdrawn" in text
    assert _marketing(db, cid, "sms") is False
    with console(db, "reader", role=Role.ANALYST) as (client, _csrf):
        page = client.get(f"/customers/{cid}")
        assert 'id="consent-states"' in page.text and 'id="consent-form"' not in page.text
