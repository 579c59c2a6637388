"""The journeys console: a marketer switches a shipped journey on, runs the due steps, reads
its figures; a bad edit is refused at its box in Chinese and saves nothing; a store's staff
see their store's tasks only and mark one done."""

from __future__ import annotations

from datetime import timedelta

from patron.core.clock import utcnow
from patron.core.db import Database
from patron.journeys import EventRecord, feed_events, get_journey_by_code
from patron.staff.roles import Role
from tests.helpers import add_store, reachable_customer
from tests.journeys.helpers import entries, local, shop, switch_on, tick
from tests.web.helpers.console import console, text_of


def test_a_marketer_switches_a_journey_on_and_reads_its_figures(db: Database) -> None:
    shop(db, 小王="1990-05-01")
    switch_on(db)  # installed, all off
    journey = db.read(lambda s: get_journey_by_code(session=s, code="points_expiring"))
    assert journey is not None and not journey.enabled
    with console(db, "mkt", Role.MARKETER) as (client, csrf):
        listed = client.get("/journeys")
        assert listed.status_code == 200 and "积分到期提醒" in listed.text
        on = client.post(
            f"/journeys/{journey.id}/enable", data={"csrf_token": csrf}, follow_redirects=False
        )
        assert on.status_code == 303
        page = client.get(f"/journeys/{journey.id}")
        assert 'id="journey-state">已启用' in page.text
        assert "发送消息" in text_of(page.text)
        bad = client.post(
            f"/journeys/{journey.id}",
            data={"trigger": '{"kind": "event", "event": "points.expiring"}',
                  "steps": '[{"kind": "wait"}]', "csrf_token": csrf},
        )  # fmt: skip
        assert bad.status_code == 422
        assert "等待需要时长或时刻" in bad.text
        broken = client.post(
            f"/journeys/{journey.id}",
            data={"trigger": "{", "steps": "[]", "csrf_token": csrf},
        )
        assert broken.status_code == 422 and "不是有效的 JSON" in broken.text
        assert client.get(f"/journeys/{journey.id}").text.count("版本 1") >= 1


def test_store_staff_see_their_stores_tasks_and_mark_one_done(db: Database) -> None:
    people = shop(db, 小王="1990-05-01")
    switch_on(db, "churn_risk")
    now = utcnow()
    record = EventRecord(1, "risk-1", "customer.churn_risk_high", people["小王"], None, now, {})
    db.write(lambda s: feed_events(session=s, records=[record], now=now))
    tick(db, now + timedelta(seconds=1))
    with console(db, "clerk", Role.STORE_MANAGER, ["SH01"]) as (client, csrf):
        page = client.get("/tasks")
        assert "流失预警：请致电回访该会员" in page.text
        task_id = page.text.split('id="task-')[1].split('"')[0]
        done = client.post(
            f"/tasks/{task_id}/done", data={"csrf_token": csrf}, follow_redirects=False
        )
        assert done.status_code == 303
        assert 'id="no-tasks"' in client.get("/tasks").text


def test_a_store_manager_sees_only_their_stores_customers_among_a_journeys_entries(
    db: Database,
) -> None:
    people = shop(db, 小王="1990-05-01")
    add_store(db, "BJ01", "北京王府井店")
    other = reachable_customer(db, store="BJ01", name="小北", birthday="1990-05-01")
    journey = switch_on(db, "birthday")["birthday"]
    tick(db, local(2027, 5, 1, 10, 0))
    assert {e.customer_id for e in entries(db, journey)} == {people["小王"], other}
    with console(db, "mkt", Role.MARKETER) as (client, csrf):
        ran = client.post(
            "/journeys/run",
            data={"journey_id": str(journey), "csrf_token": csrf},
            follow_redirects=False,
        )
        assert ran.status_code == 303 and ran.headers["location"] == f"/journeys/{journey}"
        page = client.get(f"/journeys/{journey}").text
        assert f'href="/customers/{people["小王"]}"' in page
        assert f'href="/customers/{other}"' in page
    with console(db, "clerk", Role.STORE_MANAGER, ["SH01"]) as (client, _):
        page = client.get(f"/journeys/{journey}").text
        assert f'href="/customers/{people["小王"]}"' in page
        assert f'href="/customers/{other}"' not in page
