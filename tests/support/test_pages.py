"""The service console in Chinese: a cashier opens a return ticket, the agent works it, the
inbox and the 360 page show it with its SLA clock, the manager reads the SLA report; the
public survey page takes one answer per link."""

from __future__ import annotations

import re
from datetime import timedelta

from patron.core.clock import utcnow
from patron.core.db import Database
from patron.engagement import service as engagement
from patron.staff.roles import Role
from patron.support.surveys import service as surveys
from patron.support.surveys.schemas import SurveyCreate
from tests.helpers import ACTOR, add_store, post_order
from tests.support.helpers import policy, seed_holidays
from tests.web.helpers.console import console, make_staff, text_of

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _shop(db: Database) -> int:
    add_store(db, "SH01", "人民广场店")
    seed_holidays(db)
    policy(db, first_reply_minutes=60, resolve_minutes=480)
    order = post_order(db, "S-1", store_code="SH01", customer={"phone": "13900000001",
                                                                 "name": "王小明"})  # fmt: skip
    return order.order.id


def test_a_cashier_opens_a_return_ticket_and_sees_it_in_her_inbox(db: Database) -> None:
    order_id = _shop(db)
    with console(db, "cashier", Role.CASHIER, ["SH01"]) as (client, csrf):
        form = client.get("/tickets/new", params={"order_id": order_id, "ticket_type": "return"})
        assert form.status_code == 200 and "开工单" in form.text
        bad = client.post("/tickets", data={"csrf_token": csrf, "ticket_type": "return",
                                            "subject": "", "phone": "13900000001"})  # fmt: skip
        assert bad.status_code == 422 and "主题" in text_of(bad.text)
        opened = client.post(
            "/tickets",
            data={"csrf_token": csrf, "ticket_type": "return", "subject": "鞋码不合适",
                  "phone": "13900000001", "order_id": str(order_id), "lines": "1"},
            follow_redirects=False,
        )  # fmt: skip
        assert opened.status_code == 303, opened.text
        page = client.get(opened.headers["location"])
        assert "鞋码不合适" in page.text and "新建" in text_of(page.text)
        ticket_path = opened.headers["location"].split("?")[0]
        photo = client.post(f"{ticket_path}/photos", data={"csrf_token": csrf},
                            files={"file": ("tag.png", PNG, "image/png")}, follow_redirects=False)  # fmt: skip
        assert photo.status_code == 303
        page = client.get(ticket_path)
        src = re.search(r'<img src="([^"]+)"', page.text)
        assert src and client.get(src[1]).content == PNG
        inbox = client.get("/tickets")
        assert "鞋码不合适" in inbox.text and "clock-green" in inbox.text
        customer = re.search(r'href="/customers/(\d+)"', page.text)
        assert customer
        profile = client.get(f"/customers/{customer[1]}")
        assert "section-support" in profile.text and "鞋码不合适" in profile.text


def test_an_agent_replies_refunds_and_resolves_and_the_manager_reads_the_report(
    db: Database,
) -> None:
    order_id = _shop(db)
    with console(db, "cashier", Role.CASHIER, ["SH01"]) as (client, csrf):
        opened = client.post(
            "/tickets",
            data={"csrf_token": csrf, "ticket_type": "return", "subject": "退货",
                  "phone": "13900000001", "order_id": str(order_id)},
            follow_redirects=False,
        )  # fmt: skip
        path = opened.headers["location"].split("?")[0]
    with console(db, "agent", Role.SERVICE_AGENT) as (client, csrf):

        def post(action: str, **data: str) -> object:
            response = client.post(f"{path}/{action}", data={"csrf_token": csrf, **data},
                                   follow_redirects=False)  # fmt: skip
            assert response.status_code == 303, response.text
            return response

        post("entries", kind="reply", body="您好，已为您办理退货")
        post("refund")
        refused = client.post(f"{path}/status", data={"csrf_token": csrf, "status": "closed"})
        assert refused.status_code == 422 and "工单不能从“处理中”变为“已关闭”" in text_of(
            refused.text
        )
        post("status", status="resolved")
        page = text_of(client.get(path).text)
        assert "已解决" in page and "已退款" in page
    with console(db, "boss", Role.STORE_MANAGER, ["SH01"]) as (client, _csrf):
        report = client.get("/service/sla")
        assert report.status_code == 200
        text = text_of(report.text)
        assert "SLA 报表" in text and "SH01" in text and "100.0%" in text


def test_the_public_page_takes_one_answer_per_link(db: Database) -> None:
    _shop(db)
    questions = [
        {"key": "nps", "kind": "nps", "text_zh": "您会推荐我们吗？", "text_en": "Recommend?"}
    ]
    survey_in = SurveyCreate.model_validate({"code": "s", "name": "回访", "trigger": "list",
                                             "questions": questions})  # fmt: skip
    db.write(lambda s: surveys.create_survey(session=s, survey_in=survey_in, actor=ACTOR))
    made = db.write(lambda s: surveys.invite(session=s, code="s", customer_ids=[1], actor=ACTOR))
    path = f"/s/{made[0].token}"
    make_staff(db, "nobody")
    from fastapi.testclient import TestClient

    from patron.web.app import create_app

    with TestClient(create_app(db)) as client:
        page = client.get(path)
        assert page.status_code == 200 and "小明" in page.text and "王小明" not in page.text
        assert "13900000001" not in page.text and "您会推荐我们吗" in page.text
        missing = client.post(path, data={})
        assert missing.status_code == 422
        done = client.post(path, data={"nps": "10"})
        assert done.status_code == 200 and 'id="thanks"' in done.text
        again = client.get(path)
        assert again.status_code == 410 and 'id="invalid"' in again.text
        assert client.get("/s/1.2.abc.def").status_code == 410
    with console(db, "boss", Role.CHAIN_MANAGER) as (client, _csrf):
        listed = client.get("/surveys")
        assert listed.status_code == 200 and "回访" in listed.text
        results = text_of(client.get("/surveys/s").text)
        assert "问卷结果" in results and "回复率" in results and "100.0%" in results
        assert client.get("/surveys/s", params={"since": "yesterday"}).status_code == 422
    assert engagement  # the invitation went out through the outbox
    assert utcnow() - timedelta(days=1) < utcnow()
