"""Custom profile fields: defined by an administrator, valued through the API and the 360
page, personal ones encrypted at rest and masked; and audiences over the others."""

from __future__ import annotations

from sqlalchemy import text

from patron.audit import service as audit
from patron.core.db import Database
from patron.staff.roles import Role
from tests.audiences.helpers import build_shop, members
from tests.security.helpers import CIPHERTEXT
from tests.web.helpers.api import api_client, error_fields
from tests.web.helpers.console import console

FIELDS = [
    {"code": "shoe_size", "label": "鞋码", "kind": "number"},
    {"code": "pet", "label": "宠物", "kind": "choice", "choices": ["猫", "狗"]},
    {"code": "anniversary", "label": "纪念日", "kind": "date"},
    {"code": "note", "label": "偏好", "kind": "text"},
    {"code": "id_card", "label": "身份证号", "kind": "text", "personal": True},
]


def _define(db: Database) -> None:
    with api_client(db) as admin:
        for field in FIELDS:
            response = admin.post("/api/v1/custom-fields", json=field)
            assert response.status_code == 201, response.text


def test_only_an_administrator_defines_fields_and_bad_definitions_name_the_field(
    db: Database,
) -> None:
    with api_client(db, role=Role.MARKETER) as marketer:
        refused = marketer.post("/api/v1/custom-fields", json=FIELDS[0])
        assert refused.status_code == 403
    with api_client(db) as admin:
        no_choices = {"code": "pet", "label": "宠物", "kind": "choice"}
        assert error_fields(admin.post("/api/v1/custom-fields", json=no_choices)) == ["choices"]
        bad_code = {"code": "Shoe Size", "label": "鞋码", "kind": "number"}
        assert error_fields(admin.post("/api/v1/custom-fields", json=bad_code)) == ["code"]
        assert admin.post("/api/v1/custom-fields", json=FIELDS[0]).status_code == 201
        assert admin.post("/api/v1/custom-fields", json=FIELDS[0]).status_code == 409


def test_values_are_checked_by_kind_and_personal_ones_encrypted_and_masked(
    db: Database,
) -> None:
    shop = build_shop(db, analytics_run=False)
    _define(db)
    url = f"/api/v1/customers/{shop.alice}/fields"
    with api_client(db, role=Role.SERVICE_AGENT) as agent:
        for code, value in (("shoe_size", "大"), ("pet", "鱼"), ("anniversary", "2026-13-01")):
            response = agent.put(url, json={"values": {code: value, "note": "不会写入"}})
            assert error_fields(response) == [f"fields.{code}"], response.text
        unknown = agent.put(url, json={"values": {"hat": "L"}})
        assert error_fields(unknown) == ["fields.hat"]
        good = {
            "shoe_size": "37.5",
            "pet": "猫",
            "anniversary": "2020-05-20",
            "note": "喜欢绿茶",
            "id_card": "310101199001011234",
        }
        saved = agent.put(url, json={"values": good})
        assert saved.status_code == 200, saved.text
        shown = {f["code"]: f["value"] for f in saved.json()}
        assert shown["shoe_size"] == "37.5" and shown["pet"] == "猫"
        assert shown["id_card"] == "****1234"
        assert agent.get(url, params={"reveal": "true"}).status_code == 422  # no reason
        revealed = agent.get(url, params={"reveal": "true", "reason": "核对身份"})
        assert {f["code"]: f["value"] for f in revealed.json()}["id_card"] == good["id_card"]
        cleared = agent.put(url, json={"values": {"note": None}})
        assert {f["code"]: f["value"] for f in cleared.json()}["note"] is None
    with api_client(db, role=Role.MARKETER) as marketer:
        masked = marketer.get(url).json()
        assert {f["code"]: f["value"] for f in masked}["id_card"] == "****1234"
        assert marketer.get(url, params={"reveal": "true", "reason": "x"}).status_code == 403
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT value, secret FROM customer_field_value")).all()
    secrets = [r[1] for r in rows if r[1] is not None]
    assert len(secrets) == 1 and CIPHERTEXT.match(secrets[0])
    assert all("310101" not in (r[0] or "") for r in rows)
    reveals = db.read(lambda s: audit.list_audit(session=s, action="customer.reveal")).items
    assert [e.details["fields"] for e in reveals] == [["fields.id_card"]]


def test_the_360_page_shows_and_saves_the_fields(db: Database) -> None:
    shop = build_shop(db, analytics_run=False)
    _define(db)
    with console(db, "ann", Role.SERVICE_AGENT) as (client, csrf):
        page = client.get(f"/customers/{shop.bob}")
        assert "更多资料" in page.text and 'name="field.shoe_size"' in page.text
        assert 'name="field.id_card"' not in page.text  # personal: through the API
        wrong = client.post(
            f"/customers/{shop.bob}/fields",
            data={"csrf_token": csrf, "field.shoe_size": "四十二"},
        )
        assert wrong.status_code == 422 and 'class="error"' in wrong.text
        saved = client.post(
            f"/customers/{shop.bob}/fields",
            data={"csrf_token": csrf, "field.shoe_size": "42", "field.pet": "狗"},
        )
        assert saved.status_code == 200 and 'id="fields-saved"' in saved.text
        assert 'value="42"' in saved.text


def test_audiences_select_on_fields_that_are_not_personal(db: Database) -> None:
    shop = build_shop(db, analytics_run=False)
    _define(db)
    with api_client(db) as admin:
        for who, values in (
            (
                shop.alice,
                {"shoe_size": "37", "pet": "猫", "anniversary": "2020-05-20", "note": "喜欢绿茶"},
            ),
            (shop.bob, {"shoe_size": "42", "pet": "狗", "note": "红茶"}),
            (shop.carol, {"shoe_size": "39.5", "id_card": "310101199001011234"}),
        ):
            assert (
                admin.put(f"/api/v1/customers/{who}/fields", json={"values": values}).status_code
                == 200
            )
    from patron import audiences

    audiences.refresh_audience_store(db=db)

    def field(**condition: object) -> list[str]:
        return shop.names(members(db, {"conditions": [{"kind": "custom_field", **condition}]}))

    assert field(field="shoe_size", op="gte", value="39.5") == ["bob", "carol"]
    assert field(field="shoe_size", op="between", value="37", value_to="40") == ["alice", "carol"]
    assert field(field="pet", op="in", values=["猫"]) == ["alice"]
    assert field(field="pet", op="not_in", values=["猫"]) == ["bob", "carol", "dave"]
    assert field(field="anniversary", op="before", value="2021-01-01") == ["alice"]
    assert field(field="note", op="contains", value="茶") == ["alice", "bob"]
    assert field(field="note", op="eq", value="红茶") == ["bob"]
    assert field(field="note", op="ne", value="红茶") == ["alice", "carol", "dave"]
    assert field(field="pet", op="is_set") == ["alice", "bob"]
    assert field(field="pet", op="is_not_set") == ["carol", "dave"]
    with api_client(db, role=Role.MARKETER) as marketer:
        personal = {
            "definition": {
                "conditions": [{"kind": "custom_field", "field": "id_card", "value": "1"}]
            }
        }
        response = marketer.post("/api/v1/audiences/count", json=personal)
        assert error_fields(response) == ["definition.conditions.0.custom_field.field"]
        wrong_op = {
            "definition": {
                "conditions": [{"kind": "custom_field", "field": "pet", "op": "gt", "value": "1"}]
            }
        }
        response = marketer.post("/api/v1/audiences/count", json=wrong_op)
        assert error_fields(response) == ["definition.conditions.0.custom_field.op"]
        not_a_number = {
            "definition": {
                "conditions": [
                    {"kind": "custom_field", "field": "shoe_size", "op": "gt", "value": "大"}
                ]
            }
        }
        response = marketer.post("/api/v1/audiences/count", json=not_a_number)
        assert error_fields(response) == ["definition.conditions.0.custom_field.value"]
