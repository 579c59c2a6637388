"""The privacy officer's console pages and the public privacy notice."""

from __future__ import annotations

import io
import json
import re
import zipfile

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from patron.core.db import Database
from patron.staff.roles import Role
from patron.web.app import create_app
from tests.web.helpers.console import console, make_shop, text_of


def _new_request(client: TestClient, csrf: str, customer: int, kind: str) -> str:
    made = client.post(
        "/privacy/requests",
        data={
            "csrf_token": csrf,
            "customer_id": str(customer),
            "kind": kind,
            "requested_by": "本人",
            "channel": "in_store",
            "verification": "身份证原件核对",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    return str(made.headers["location"])


def test_a_privacy_officer_handles_an_access_request_from_the_queue(db: Database) -> None:
    shop = make_shop(db)
    with console(db, "officer", Role.PRIVACY_OFFICER) as (client, csrf):
        where = _new_request(client, csrf, shop.a_customer, "access")
        queue = client.get("/privacy")
        assert queue.status_code == 200
        assert "查阅与复制" in text_of(queue.text) and "新请求" in text_of(queue.text)

        download = client.post(f"{where}/export", data={"csrf_token": csrf, "reason": "查阅请求"})
        assert download.status_code == 200
        assert download.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
            data = json.loads(archive.read("data.json"))
        assert data["customer"][0]["name"] == "王小明"
        assert len(data["orders"]) == 2

        done = client.post(
            f"{where}/change",
            data={"csrf_token": csrf, "action": "done", "outcome": "已交付副本"},
        )
        assert done.status_code == 200
        assert re.search(r'id="status">完成<', done.text)
        request_id = where.rsplit("/", 1)[1]
        assert f'id="request-{request_id}"' not in client.get("/privacy").text  # left the queue
        assert f'id="request-{request_id}"' in client.get("/privacy?show=done").text
        audit = text_of(client.get("/audit").text)
        assert "为查阅请求导出了个人信息" in audit and "完成了个人信息请求" in audit
        report = text_of(client.get("/privacy/report").text)
        assert re.search(r"officer 0 0 1 1", report)


def test_closing_a_request_without_an_outcome_names_the_field(db: Database) -> None:
    shop = make_shop(db)
    with console(db, "officer", Role.PRIVACY_OFFICER) as (client, csrf):
        where = _new_request(client, csrf, shop.a_customer, "erasure")
        refused = client.post(
            f"{where}/change", data={"csrf_token": csrf, "action": "refuse", "outcome": ""}
        )
        assert refused.status_code == 422
        assert "处理结果" in re.search(r'id="error">([^<]+)<', refused.text).group(1)  # type: ignore[union-attr]
        unknown = client.post(
            "/privacy/requests",
            data={
                "csrf_token": csrf,
                "customer_id": "999999",
                "kind": "access",
                "requested_by": "本人",
                "channel": "phone",
                "verification": "回拨核对",
            },
        )
        assert unknown.status_code == 422 and 'id="error"' in unknown.text


def test_the_register_is_edited_and_downloaded_as_excel(db: Database) -> None:
    with console(db, "officer", Role.PRIVACY_OFFICER) as (client, csrf):
        line = {
            "csrf_token": csrf,
            "purpose": "会员积分",
            "data_kinds": "姓名、手机号、消费记录",
            "recipients": "无",
            "retention": "注销后 3 年",
            "legal_basis": "履行合同",
        }
        assert (
            client.post("/privacy/register", data=line, follow_redirects=False).status_code == 303
        )
        page = client.get("/privacy/register")
        activity = re.search(r'id="activity-(\d+)"', page.text)
        assert activity
        changed = {**line, "retention": "注销后 2 年"}
        client.post(f"/privacy/register/{activity.group(1)}", data=changed)
        book = client.get("/privacy/register.xlsx")
        sheet = load_workbook(io.BytesIO(book.content), read_only=True).active
        rows = list(sheet.values)  # type: ignore[union-attr]
        assert rows[0][0] == "处理目的"
        assert rows[1][:5] == (
            "会员积分",
            "姓名、手机号、消费记录",
            "无",
            "注销后 2 年",
            "履行合同",
        )
        missing = client.post("/privacy/register", data={**line, "purpose": ""})
        assert missing.status_code == 422 and "处理目的" in missing.text


def test_the_privacy_notice_is_public_per_shop(db: Database) -> None:
    make_shop(db)
    with console(db, "officer", Role.PRIVACY_OFFICER) as (client, csrf):
        line = {
            "csrf_token": csrf,
            "purpose": "会员积分",
            "data_kinds": "姓名、手机号",
            "retention": "注销后 3 年",
            "legal_basis": "履行合同",
        }
        client.post("/privacy/register", data=line)
    with TestClient(create_app(db)) as stranger:
        notice = stranger.get("/privacy-notice/A01")
        assert notice.status_code == 200
        assert "上海一店" in notice.text and "会员积分" in notice.text
        assert "15 个工作日" in notice.text
        assert stranger.get("/privacy-notice/ZZ99").status_code == 404


def test_other_roles_cannot_open_the_privacy_pages(db: Database) -> None:
    with console(db, "clerk", Role.SERVICE_AGENT) as (client, _csrf):
        assert client.get("/privacy").status_code == 403
        assert client.get("/privacy/register.xlsx").status_code == 403


def test_an_anonymised_customer_still_opens_on_the_console_without_personal_data(
    db: Database,
) -> None:
    from datetime import timedelta

    from patron.core.clock import utcnow
    from patron.privacy import retention
    from patron.privacy.schemas import PolicyIn
    from tests.helpers import ACTOR

    shop = make_shop(db)
    link = f'href="/customers/{shop.a_customer}"'
    with console(db, "before", Role.PRIVACY_OFFICER) as (client, _csrf):
        assert link in client.get("/customers", params={"q": "13800138000"}).text
    policy_in = PolicyIn(kind="inactive_customers", keep_months=12)
    db.write(lambda s: retention.set_policy(session=s, policy_in=policy_in, actor=ACTOR))
    later = utcnow() + timedelta(days=3 * 366)
    done = db.write(
        lambda s: retention.apply_retention(session=s, actor=ACTOR, dry_run=False, now=later)
    )
    assert done.counts["inactive_customers"]["customers"] == 2
    with console(db, "officer", Role.PRIVACY_OFFICER) as (client, _csrf):
        page = client.get(f"/customers/{shop.a_customer}")
        assert page.status_code == 200
        assert "王小明" not in page.text and "138" not in text_of(page.text)
        found = client.get("/customers", params={"q": "13800138000"})
        assert found.status_code == 200
        assert link not in found.text  # the phone number no longer finds them


def test_a_privacy_officer_erases_once_the_legal_hold_is_lifted(db: Database) -> None:
    shop = make_shop(db)
    with console(db, "officer", Role.PRIVACY_OFFICER) as (client, csrf):
        where = _new_request(client, csrf, shop.a_customer, "erasure")
        held = client.post(f"{where}/holds", data={"csrf_token": csrf, "reason": "消费纠纷待仲裁"})
        assert held.status_code == 200
        page = text_of(held.text)
        assert "法律保留: 消费纠纷待仲裁" in page and "删除此人的个人信息" in page

        refused = client.post(f"{where}/erase", data={"csrf_token": csrf})
        assert refused.status_code == 422
        assert "暂不能删除：法律保留 消费纠纷待仲裁" in text_of(refused.text)
        assert re.search(r'id="status">新请求<', refused.text)

        hold_id = re.search(r'id="lift-(\d+)"', refused.text)
        assert hold_id is not None
        lifted = client.post(f"{where}/holds/{hold_id[1]}/lift", data={"csrf_token": csrf})
        assert lifted.status_code == 200 and 'id="holds"' not in lifted.text
        erased = client.post(f"{where}/erase", data={"csrf_token": csrf})
        assert erased.status_code == 200
        assert re.search(r'id="status">完成<', erased.text)
        customer = text_of(client.get(f"/customers/{shop.a_customer}").text)
        assert "王小明" not in customer
        assert "删除了个人信息（销毁其数据密钥）" in text_of(client.get("/audit").text)
