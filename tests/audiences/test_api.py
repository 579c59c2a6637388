"""The audiences API: saving, counting an unsaved definition, store scope, bad definitions
named by field, the members' CSV export (masked, scoped, audited)."""

from __future__ import annotations

import csv
import io

from patron.audiences import service
from patron.audit import service as audit
from patron.core.db import Database
from patron.staff.roles import Role
from tests.audiences.helpers import build_shop
from tests.web.helpers.api import api_client, error_fields

VIP = {"conditions": [{"kind": "tag", "tags": ["vip"]}]}


def test_a_marketer_saves_an_audience_and_counts_it_and_a_draft(db: Database) -> None:
    build_shop(db, analytics_run=False)
    with api_client(db, role=Role.MARKETER) as marketer:
        draft = marketer.post("/api/v1/audiences/count", json={"definition": VIP})
        assert draft.status_code == 200, draft.text
        assert draft.json()["count"] == 2
        assert draft.json()["facts_as_of"] is not None
        saved = marketer.post("/api/v1/audiences", json={"name": "贵宾", "definition": VIP})
        assert saved.status_code == 201, saved.text
        audience_id = saved.json()["id"]
        assert marketer.get(f"/api/v1/audiences/{audience_id}/count").json()["count"] == 2
        again = marketer.post("/api/v1/audiences", json={"name": "贵宾", "definition": VIP})
        assert again.status_code == 409
        everyone = marketer.patch(
            f"/api/v1/audiences/{audience_id}", json={"definition": {"conditions": []}}
        )
        assert everyone.status_code == 200, everyone.text
        assert marketer.get(f"/api/v1/audiences/{audience_id}/count").json()["count"] == 4
        assert [a["name"] for a in marketer.get("/api/v1/audiences").json()] == ["贵宾"]
        assert marketer.delete(f"/api/v1/audiences/{audience_id}").status_code == 204
        assert marketer.get(f"/api/v1/audiences/{audience_id}").status_code == 404


def test_a_store_manager_counts_only_their_stores_customers_and_cannot_build(
    db: Database,
) -> None:
    build_shop(db, analytics_run=False)
    with api_client(db, role=Role.STORE_MANAGER, stores=["SH01"]) as manager:
        counted = manager.post("/api/v1/audiences/count", json={"definition": VIP})
        assert counted.status_code == 200, counted.text
        assert counted.json()["count"] == 1  # alice; bob belongs to BJ01
        assert counted.json()["scoped_to_stores"] is not None
        refused = manager.post("/api/v1/audiences", json={"name": "x", "definition": VIP})
        assert refused.status_code == 403
    with api_client(db, role=Role.CASHIER, stores=["SH01"]) as cashier:
        assert cashier.post("/api/v1/audiences/count", json={}).status_code == 403


def test_invalid_definitions_are_refused_naming_the_field(db: Database) -> None:
    with api_client(db, role=Role.MARKETER) as marketer:
        unknown_segment = {
            "name": "x",
            "definition": {
                "conditions": [
                    {
                        "kind": "group",
                        "match": "any",
                        "conditions": [{"kind": "segment", "values": ["gold_star"]}],
                    }
                ]
            },
        }
        fields = error_fields(marketer.post("/api/v1/audiences", json=unknown_segment))
        # The condition's kind follows its place, as pydantic names a tagged union's member.
        assert fields == ["definition.conditions.0.group.conditions.0.segment.values.0"]
        no_upper = {
            "name": "x",
            "definition": {"conditions": [{"kind": "points", "op": "between", "value": 5}]},
        }
        fields = error_fields(marketer.post("/api/v1/audiences", json=no_upper))
        assert fields == ["definition.conditions.0.points.value_to"]
        unknown_kind = {"definition": {"conditions": [{"kind": "horoscope"}]}}
        response = marketer.post("/api/v1/audiences/count", json=unknown_kind)
        assert response.status_code == 422
        no_field = {
            "definition": {"conditions": [{"kind": "custom_field", "field": "shoe", "value": "42"}]}
        }
        response = marketer.post("/api/v1/audiences/count", json=no_field)
        assert error_fields(response) == ["definition.conditions.0.custom_field.field"]
        empty_group = {"definition": {"conditions": [{"kind": "group", "conditions": []}]}}
        fields = error_fields(marketer.post("/api/v1/audiences/count", json=empty_group))
        assert fields == ["definition.conditions.0"]
    assert db.read(lambda s: service.list_audiences(session=s)) == []


def test_the_export_is_masked_scoped_and_audited(db: Database) -> None:
    shop = build_shop(db, analytics_run=False)
    with api_client(db, role=Role.MARKETER) as marketer:
        audience_id = marketer.post(
            "/api/v1/audiences", json={"name": "贵宾", "definition": VIP}
        ).json()["id"]
        response = marketer.get(f"/api/v1/audiences/{audience_id}/export")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert rows[0][:3] == ["customer_id", "name", "phone"]
        assert [int(r[0]) for r in rows[1:]] == [shop.alice, shop.bob]
        assert "13800000001" not in response.text and "张丽" not in response.text
        assert "****" in rows[1][2]
        refused = marketer.get(
            f"/api/v1/audiences/{audience_id}/export", params={"reveal": "true", "reason": "x"}
        )
        assert refused.status_code == 403
    with api_client(db, role=Role.ADMIN) as admin:
        needs_reason = admin.get(
            f"/api/v1/audiences/{audience_id}/export", params={"reveal": "true"}
        )
        assert error_fields(needs_reason) == ["reason"]
        revealed = admin.get(
            f"/api/v1/audiences/{audience_id}/export",
            params={"reveal": "true", "reason": "门店回访"},
        )
        assert "13800000001" in revealed.content.decode("utf-8-sig")
    entries = db.read(lambda s: audit.list_audit(session=s, action="audience.export")).items
    assert len(entries) == 2
    by_reveal = {e.details["revealed"]: e for e in entries}
    assert by_reveal[False].details["rows"] == 2
    assert by_reveal[True].reason == "门店回访"
