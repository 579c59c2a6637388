"""The survey builder and the SLA policy page in Chinese: who may open them, what a form
stores (the same as the API would), and a bad box shown at its field with nothing stored."""

from __future__ import annotations

from sqlalchemy import select

from patron.audit.models import AuditEntry
from patron.core.db import Database
from patron.staff.roles import Role
from patron.support import sla
from patron.support.surveys import service as surveys
from tests.support.helpers import policy
from tests.web.helpers.console import console, text_of


def _actions(db: Database) -> list[str]:
    return db.read(lambda s: list(s.scalars(select(AuditEntry.action))))


def _question(key: str, kind: str, zh: str, en: str = "", options: str = "") -> dict[str, str]:
    return {"q_key": key, "q_kind": kind, "q_text_zh": zh, "q_text_en": en,
            "q_options": options, "q_required": "yes"}  # fmt: skip


def _survey_form(csrf: str, *questions: dict[str, str], **fields: str) -> dict[str, object]:
    data: dict[str, object] = {"csrf_token": csrf, "code": "after-visit", "name": "到店回访",
                               "trigger": "list", "valid_days": "7", "step": "save", **fields}  # fmt: skip
    for name in ("q_key", "q_kind", "q_text_zh", "q_text_en", "q_options", "q_required"):
        data[name] = [q[name] for q in questions]
    return data


def test_the_survey_builder_is_for_those_who_manage_surveys(db: Database) -> None:
    with console(db, "agent", Role.SERVICE_AGENT) as (client, _csrf):
        assert "/surveys/new" not in client.get("/surveys").text
        assert client.get("/surveys/new").status_code == 403
    with console(db, "marketer", Role.MARKETER) as (client, _csrf):
        assert 'href="/surveys/new"' in client.get("/surveys").text
        page = client.get("/surveys/new")
        assert page.status_code == 200 and "新建问卷" in page.text


def test_a_survey_built_in_the_form_is_stored_as_the_api_would_and_audited(
    db: Database,
) -> None:
    with console(db, "marketer", Role.MARKETER) as (client, csrf):
        more = client.post("/surveys/new", data=_survey_form(
            csrf, _question("csat", "csat", "满意吗？"), step="add"))  # fmt: skip
        assert more.status_code == 200 and more.text.count('name="q_key"') == 2
        fewer = client.post("/surveys/new", data=_survey_form(
            csrf, _question("a", "text", "甲"), _question("b", "text", "乙"), step="remove-0"))  # fmt: skip
        assert fewer.text.count('name="q_key"') == 1 and 'value="b"' in fewer.text
        made = client.post(
            "/surveys/new",
            data=_survey_form(
                csrf,
                _question("csat", "csat", "您满意吗？", "Satisfied?"),
                _question("nps", "nps", "会推荐吗？", "Recommend us?"),
                _question("ces", "ces", "办理容易吗？", "Was it easy?"),
                _question("why", "choice", "主要原因", "Why", "speed | 速度 | Speed\nstaff | 服务"),
                _question("", "text", "还有什么想说的？", ""),
                _question("", "text", "", ""),  # an empty row is skipped
            ),
            follow_redirects=False,
        )
        assert made.status_code == 303, text_of(made.text)
        assert made.headers["location"] == "/surveys/after-visit"
        assert "到店回访" in client.get("/surveys").text
    stored = db.read(lambda s: surveys.list_surveys(session=s))
    assert [s.code for s in stored] == ["after-visit"]
    survey = stored[0]
    assert survey.name == "到店回访" and survey.trigger == "list" and survey.valid_days == 7
    assert [q.kind for q in survey.questions] == ["csat", "nps", "ces", "choice", "text"]
    assert [q.key for q in survey.questions][-1] == "q5"
    assert survey.questions[4].text_en == "还有什么想说的？"
    assert [(o.code, o.zh, o.en) for o in survey.questions[3].options] == [
        ("speed", "速度", "Speed"),
        ("staff", "服务", "服务"),
    ]
    assert survey.created_by == "marketer"
    assert _actions(db).count("survey.create") == 1


def test_a_bad_survey_shows_the_error_at_its_field_in_chinese_and_stores_nothing(
    db: Database,
) -> None:
    with console(db, "marketer", Role.MARKETER) as (client, csrf):
        no_name = client.post("/surveys/new", data=_survey_form(
            csrf, _question("csat", "csat", "满意吗？"), name=""))  # fmt: skip
        assert no_name.status_code == 422
        assert 'id="name-error">必填' in no_name.text
        no_options = client.post("/surveys/new", data=_survey_form(
            csrf, _question("csat", "csat", "满意吗？"), _question("why", "choice", "原因")))  # fmt: skip
        assert (
            no_options.status_code == 422
            and 'id="question-1-error">选项: 单选题需要' in no_options.text
        )
        two_csat = client.post("/surveys/new", data=_survey_form(
            csrf, _question("a", "csat", "甲"), _question("b", "csat", "乙")))  # fmt: skip
        assert (
            two_csat.status_code == 422
            and 'id="questions-error">CSAT、NPS、CES 题各最多一道' in two_csat.text
        )
        reserved = client.post("/surveys/new", data=_survey_form(
            csrf, _question("a", "text", "甲"), code="New"))  # fmt: skip
        assert reserved.status_code == 422
        assert 'id="code-error">此编码为系统保留' in reserved.text
        nothing = client.post("/surveys/new", data=_survey_form(csrf))
        assert nothing.status_code == 422 and 'id="questions-error">必填' in nothing.text
        client.post("/surveys/new", data=_survey_form(csrf, _question("a", "text", "甲")))
        again = client.post("/surveys/new", data=_survey_form(csrf, _question("a", "text", "甲")))
        assert again.status_code == 422 and 'id="code-error"' in again.text
        assert "已有" in text_of(again.text) and 'value="after-visit"' in again.text
    assert len(db.read(lambda s: surveys.list_surveys(session=s))) == 1


def _policy_form(csrf: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": csrf, "name": "退货加急", "ticket_type": "return",
            "priority": "urgent", "tier_code": "", "first_reply_hours": "0.5",
            "resolve_hours": "8", "warn_percent": "75", "chain_after_hours": "4", **fields}  # fmt: skip


def test_the_sla_policies_are_for_those_who_manage_tickets(db: Database) -> None:
    policy(db, first_reply_minutes=90, resolve_minutes=960)
    with console(db, "agent", Role.SERVICE_AGENT) as (client, _csrf):
        assert "/service/sla/policies" not in client.get("/service/sla").text
        assert client.get("/service/sla/policies").status_code == 403
    with console(db, "chain", Role.CHAIN_MANAGER) as (client, _csrf):
        assert 'href="/service/sla/policies"' in client.get("/service/sla").text
        page = client.get("/service/sla/policies")
        assert page.status_code == 200 and "SLA 策略" in page.text
        row = text_of(page.text)
        assert "1.5" in row and "16" in row and "任意" in row


def test_a_policy_saved_in_the_form_is_stored_as_the_api_would_and_changed_in_place(
    db: Database,
) -> None:
    with console(db, "chain", Role.CHAIN_MANAGER) as (client, csrf):
        saved = client.post("/service/sla/policies", data=_policy_form(csrf),
                            follow_redirects=False)  # fmt: skip
        assert saved.status_code == 303, text_of(saved.text)
        stored = db.read(lambda s: sla.list_policies(session=s))
        assert [(p.ticket_type, p.priority, p.tier_code) for p in stored] == [
            ("return", "urgent", None)
        ]
        first = stored[0]
        assert (first.first_reply_minutes, first.resolve_minutes) == (30, 480)
        assert (first.warn_percent, first.chain_after_minutes) == (75, 240)
        edit = client.get("/service/sla/policies", params={"edit": first.id})
        assert 'value="退货加急"' in edit.text and 'value="0.5"' in edit.text
        client.post("/service/sla/policies", data=_policy_form(csrf, resolve_hours="4"))
    stored = db.read(lambda s: sla.list_policies(session=s))
    assert len(stored) == 1 and stored[0].resolve_minutes == 240
    assert stored[0].changed_by == "chain"
    assert _actions(db).count("sla_policy.save") == 2


def test_a_bad_policy_shows_the_error_at_its_field_in_chinese_and_stores_nothing(
    db: Database,
) -> None:
    with console(db, "chain", Role.CHAIN_MANAGER) as (client, csrf):
        no_hours = client.post("/service/sla/policies",
                               data=_policy_form(csrf, first_reply_hours=""))  # fmt: skip
        assert no_hours.status_code == 422
        assert 'id="first_reply_hours-error">必填' in no_hours.text
        words = client.post("/service/sla/policies",
                            data=_policy_form(csrf, resolve_hours="八小时"))  # fmt: skip
        assert words.status_code == 422 and 'id="resolve_hours-error">不是数字' in words.text
        late = client.post("/service/sla/policies",
                           data=_policy_form(csrf, first_reply_hours="9"))  # fmt: skip
        assert late.status_code == 422 and 'id="first_reply_hours-error">首次回复' in late.text
        assert 'value="退货加急"' in late.text
    assert db.read(lambda s: sla.list_policies(session=s)) == []
