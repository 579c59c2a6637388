"""The support API: tickets opened by a till's key for a sale in its store, moved (and
refused), photos kept to the ticket's store, returns refunded, the SLA report, surveys."""

from __future__ import annotations

from patron.core.db import Database
from patron.staff.roles import Role
from tests.helpers import add_store
from tests.support.helpers import policy, seed_holidays
from tests.web.helpers.api import api_client, error_fields, post_order

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PHONE = "13900000001"


def _shop(db: Database) -> None:
    add_store(db, "SH01", "人民广场店")
    add_store(db, "BJ01", "王府井店")


def test_a_cashier_opens_a_return_ticket_for_a_sale_in_her_store(db: Database) -> None:
    _shop(db)
    with api_client(db, role=Role.CASHIER, stores=["SH01"]) as till:
        order = post_order(till, "S-1", store_code="SH01", customer={"phone": PHONE})
        opened = till.post(
            "/api/v1/tickets",
            json={"ticket_type": "return", "subject": "尺码不合适", "customer": {"phone": PHONE},
                  "order_id": order["id"], "lines": [{"line_no": 1}]},
        )  # fmt: skip
        assert opened.status_code == 201, opened.text
        ticket = opened.json()
        assert (ticket["store_code"], ticket["status"]) == ("SH01", "new")
        listed = till.get("/api/v1/tickets", params={"open_only": True}).json()
        assert [t["id"] for t in listed] == [ticket["id"]]
        refused = till.post(f"/api/v1/tickets/{ticket['id']}/status", json={"status": "closed"})
        assert refused.status_code == 409
        assert refused.json()["error"] == "ticket_transition_refused"
        photo = till.post(
            f"/api/v1/tickets/{ticket['id']}/attachments", params={"name": "tag.png"}, content=PNG
        )
        assert photo.status_code == 201, photo.text
        got = till.get(f"/api/v1/tickets/{ticket['id']}/attachments/{photo.json()['id']}")
        assert got.status_code == 200 and got.content == PNG
        assert got.headers["content-type"] == "image/png"
        not_photo = till.post(
            f"/api/v1/tickets/{ticket['id']}/attachments", params={"name": "x.png"}, content=b"hi"
        )
        assert error_fields(not_photo) == ["file"]
    with api_client(db, role=Role.CASHIER, stores=["BJ01"]) as other:
        assert other.get(f"/api/v1/tickets/{ticket['id']}").status_code == 404
        path = f"/api/v1/tickets/{ticket['id']}/attachments/{photo.json()['id']}"
        assert other.get(path).status_code == 404
        assert other.get("/api/v1/tickets").json() == []
    with api_client(db, role=Role.SERVICE_AGENT) as agent:
        refund = agent.post(f"/api/v1/tickets/{ticket['id']}/refund")
        assert refund.status_code == 200, refund.text
        assert refund.json()["refund"]["amount_fen"] == 1000 and refund.json()["created"]
        assert agent.post(f"/api/v1/tickets/{ticket['id']}/refund").json()["created"] is False
        for status in ("in_progress", "resolved", "closed"):
            moved = agent.post(f"/api/v1/tickets/{ticket['id']}/status", json={"status": status})
            assert moved.status_code == 200, moved.text


def test_a_bad_ticket_names_its_field(db: Database) -> None:
    _shop(db)
    with api_client(db) as client:
        missing = client.post("/api/v1/tickets", json={"ticket_type": "complaint",
                                                       "subject": "x", "customer": {}})  # fmt: skip
        assert error_fields(missing) == ["customer"]
        wrong = client.post(
            "/api/v1/tickets",
            json={"ticket_type": "gripe", "subject": "x", "customer": {"phone": PHONE}},
        )
        assert error_fields(wrong) == ["ticket_type"]


def test_policies_the_report_and_surveys_through_the_api(db: Database) -> None:
    _shop(db)
    seed_holidays(db)
    policy(db, first_reply_minutes=60, resolve_minutes=480)
    with api_client(db) as admin:
        opened = admin.post(
            "/api/v1/tickets",
            json={"ticket_type": "complaint", "subject": "服务态度差", "store_code": "SH01",
                  "customer": {"phone": PHONE}},
        ).json()  # fmt: skip
        assert opened["first_reply_due_at"] is not None
        assert [p["name"] for p in admin.get("/api/v1/sla-policies").json()] == ["standard"]
        report = admin.get("/api/v1/sla/report").json()
        assert report["overall"]["tickets"] == 1 and report["by_store"][0]["key"] == "SH01"
        survey = admin.post(
            "/api/v1/surveys",
            json={"code": "csat", "name": "满意度", "trigger": "list", "questions": [
                {"key": "csat", "kind": "csat", "text_zh": "满意吗", "text_en": "Happy?"}]},
        )  # fmt: skip
        assert survey.status_code == 201, survey.text
        sent = admin.post(
            "/api/v1/surveys/csat/invitations", json={"customer_ids": [opened["customer_id"]]}
        )
        assert sent.status_code == 201 and sent.json()[0]["channel"] == "sms"
        results = admin.get("/api/v1/surveys/csat/results").json()
        assert (results["invited"], results["responded"]) == (1, 0)
    with api_client(db, role=Role.CASHIER, stores=["SH01"]) as till:
        assert till.post("/api/v1/sla-policies", json={}).status_code == 403
        assert till.get("/api/v1/surveys").status_code == 403


def test_report_periods_at_the_calendars_ends_are_clamped_not_a_server_error() -> None:
    from datetime import date

    from patron.support.api import period

    start, end = period(date(1, 1, 1), date(9999, 12, 31))
    assert start.year == 1900 and end.year == 9001
    start, end = period(None, date(1, 1, 1))
    assert start.date() == date(1900, 1, 1) and end.date() == date(1900, 1, 2)
