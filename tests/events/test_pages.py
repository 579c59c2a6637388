"""The events and webhooks console, in Chinese (the console's default language)."""

from __future__ import annotations

import re

from patron.core.db import Database
from patron.staff.roles import Role
from tests.events.helpers import publish
from tests.helpers import sign_up
from tests.web.helpers.console import console, text_of


def _secret_on(html: str) -> str:
    found = re.search(r'<code id="secret">(whsec_[^<]+)</code>', html)
    assert found, "the secret is shown"
    return found.group(1)


def test_an_admin_subscribes_sees_the_secret_once_pauses_and_rotates(db: Database) -> None:
    with console(db) as (client, csrf):
        made = client.post(
            "/webhooks",
            data={
                "csrf_token": csrf,
                "name": "ERP",
                "url": "http://127.0.0.1:9/hook",
                "event_types": ["order.created", "customer.merged"],
            },
        )
        assert made.status_code == 200, made.text
        secret = _secret_on(made.text)
        assert "仅显示这一次" in made.text
        listed = client.get("/webhooks")
        assert secret not in listed.text  # never shown again
        assert "订单已记录" in text_of(listed.text) and "顾客已合并" in text_of(listed.text)
        subscription = re.search(r'id="subscription-(\d+)"', listed.text)
        assert subscription
        sid = subscription.group(1)
        paused = client.post(f"/webhooks/{sid}/pause", data={"csrf_token": csrf})
        assert '<td class="status">已暂停</td>' in paused.text
        assert 'class="resume"' in paused.text
        rotated = client.post(f"/webhooks/{sid}/rotate", data={"csrf_token": csrf})
        assert _secret_on(rotated.text) != secret


def test_a_bad_subscription_names_the_field_in_chinese_and_saves_nothing(db: Database) -> None:
    with console(db) as (client, csrf):
        refused = client.post(
            "/webhooks",
            data={"csrf_token": csrf, "name": "ERP", "url": "ftp://erp", "event_types": ["x"]},
        )
        assert refused.status_code == 422
        assert "事件类型" in text_of(refused.text) or "接收地址" in text_of(refused.text)
        assert "还没有订阅" in text_of(refused.text)


def test_deliveries_show_their_attempts_and_can_be_sent_again(db: Database) -> None:
    customer = sign_up(db, phone="13800138000")
    with console(db) as (client, csrf):
        client.post(
            "/webhooks",
            data={
                "csrf_token": csrf,
                "name": "ERP",
                "url": "http://127.0.0.1:9/hook",
                "event_types": ["tier.changed"],
            },
        )
        publish(db, "tier.changed", customer_id=customer, properties={"tier": "gold"})
        sid = re.search(r'id="subscription-(\d+)"', client.get("/webhooks").text)
        assert sid
        page = client.get(f"/webhooks/{sid.group(1)}")
        assert "等待中" in text_of(page.text) and "等级变更" in text_of(page.text)
        delivery = re.search(r'action="/webhooks/deliveries/(\d+)/redeliver"', page.text)
        assert delivery
        again = client.post(
            f"/webhooks/deliveries/{delivery.group(1)}/redeliver",
            data={"csrf_token": csrf},
            follow_redirects=False,
        )
        assert again.status_code == 303


def test_the_events_page_lists_and_filters_the_stream(db: Database) -> None:
    customer = sign_up(db, phone="13800138000")
    publish(db, "tier.changed", customer_id=customer, properties={"tier": "gold"})
    with console(db) as (client, _csrf):
        page = _table(client.get("/events").text)
        assert "等级变更" in page and "新建顾客" in page
        only = _table(client.get("/events", params={"type": "tier.changed"}).text)
        assert "等级变更" in only and "新建顾客" not in only
        client.get("/language/en")
        assert "Tier changed" in _table(client.get("/events").text)


def _table(html: str) -> str:
    found = re.search(r'<table id="events">.*?</table>', html, re.S)
    assert found
    return text_of(found.group(0))


def test_only_admins_open_the_events_and_webhooks_pages(db: Database) -> None:
    with console(db, "manager", Role.CHAIN_MANAGER) as (client, _csrf):
        assert client.get("/events").status_code == 403
        assert client.get("/webhooks").status_code == 403
