"""Privacy over HTTP."""

from __future__ import annotations

import io
import zipfile

from patron.core.db import Database
from patron.staff.roles import Role
from tests.helpers import sign_up
from tests.web.helpers.api import api_client


def test_a_request_is_recorded_handled_and_exported_over_the_api(db: Database) -> None:
    customer = sign_up(db, phone="13800138000", name="王小明")
    with api_client(db, role=Role.PRIVACY_OFFICER) as client:
        made = client.post(
            "/api/v1/privacy/requests",
            json={
                "customer_id": customer,
                "kind": "access",
                "requested_by": "本人",
                "channel": "email",
                "verification": "回拨预留手机号核对",
                "received_at": "2026-11-02T02:00:00Z",
            },
        )
        assert made.status_code == 201, made.text
        assert made.json()["due_on"] == "2026-11-23"
        request_id = made.json()["id"]
        listed = client.get("/api/v1/privacy/requests", params={"open": "true"}).json()
        assert [r["id"] for r in listed] == [request_id]

        data = client.post(
            f"/api/v1/privacy/customers/{customer}/export",
            json={"reason": "查阅请求", "request_id": request_id},
        )
        assert data.status_code == 200
        assert data.headers["cache-control"] == "no-store"
        assert "README.md" in zipfile.ZipFile(io.BytesIO(data.content)).namelist()

        closing = client.post(
            f"/api/v1/privacy/requests/{request_id}/change", json={"action": "done"}
        )
        assert closing.status_code == 422  # no outcome
        assert closing.json()["detail"][0]["field"] == "outcome"
        done = client.post(
            f"/api/v1/privacy/requests/{request_id}/change",
            json={"action": "done", "outcome": "已发送副本"},
        )
        assert done.json()["status"] == "done"
        again = client.post(
            f"/api/v1/privacy/requests/{request_id}/change",
            json={"action": "refuse", "outcome": "重复"},
        )
        assert again.status_code == 409
        reveals = client.get("/api/v1/privacy/reveals").json()
        assert reveals[0]["access_exports"] == 1


def test_an_id_beyond_any_record_is_refused_naming_its_field(db: Database) -> None:
    """An id no record can have (beyond 64 bits) is a 422 on its field, not a 500 from the
    database driver; nothing is recorded."""
    customer = sign_up(db, phone="13800138000", name="王小明")
    huge = 2**70
    with api_client(db, role=Role.PRIVACY_OFFICER) as client:
        made = client.post(
            "/api/v1/privacy/requests",
            json={
                "customer_id": huge,
                "kind": "access",
                "requested_by": "本人",
                "channel": "email",
                "verification": "回拨预留手机号核对",
            },
        )
        assert made.status_code == 422, made.text
        assert made.json()["detail"][0]["field"] == "customer_id"
        assert client.get("/api/v1/privacy/requests").json() == []
        export = client.post(
            f"/api/v1/privacy/customers/{customer}/export",
            json={"reason": "查阅请求", "request_id": huge},
        )
        assert export.status_code == 422, export.text
        assert export.json()["detail"][0]["field"] == "request_id"


def test_retention_is_set_and_dry_run_over_the_api(db: Database) -> None:
    with api_client(db, role=Role.ADMIN) as client:
        set_ = client.put(
            "/api/v1/privacy/retention", json={"kind": "inactive_customers", "keep_months": 36}
        )
        assert set_.status_code == 200, set_.text
        dry = client.post("/api/v1/privacy/retention/run").json()
        assert dry["dry_run"] is True
        assert dry["counts"]["inactive_customers"]["customers"] == 0
        bad = client.put("/api/v1/privacy/retention", json={"kind": "photos", "keep_months": 1})
        assert bad.status_code == 422
