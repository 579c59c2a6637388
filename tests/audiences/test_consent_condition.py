"""The consent condition: who may be sent what on a channel, by the rule every send obeys
(docs/consent.md), read from the states copied into the analytics store."""

from __future__ import annotations

from patron import audiences
from patron.audiences import builder
from patron.audiences.schemas import Definition
from patron.core.db import Database
from tests.audiences.helpers import build_shop, members
from tests.consent.helpers import record


def _consent(channel: str, purpose: str = "marketing", op: str = "allowed") -> dict[str, object]:
    return {"conditions": [{"kind": "consent", "channel": channel, "purpose": purpose, "op": op}]}


def test_consent_selects_who_may_be_sent_marketing_or_service_on_a_channel(
    db: Database,
) -> None:
    shop = build_shop(db, analytics_run=False)
    record(db, [shop.alice, shop.bob], "sms")
    record(db, [shop.bob], "sms", purpose="service", granted=False)  # stopped the channel
    record(db, [shop.carol], "email")
    record(db, [shop.dave], "sms", granted=False)
    audiences.refresh_audience_store(db=db)

    assert shop.names(members(db, _consent("sms"))) == ["alice"]
    assert shop.names(members(db, _consent("sms", op="not_allowed"))) == ["bob", "carol", "dave"]
    assert shop.names(members(db, _consent("sms", "service"))) == ["alice", "carol", "dave"]
    assert shop.names(members(db, _consent("email"))) == ["carol"]
    assert shop.names(members(db, _consent("wechat"))) == []
    both = {
        "match": "any",
        "conditions": _consent("sms")["conditions"] + _consent("email")["conditions"],  # type: ignore[operator]
    }
    assert shop.names(members(db, both)) == ["alice", "carol"]


def test_the_builder_holds_a_consent_condition() -> None:
    form = {
        "type.r.0": ["cond"],
        "kind.r.0": ["consent"],
        "channel.r.0": ["email"],
        "purpose.r.0": ["marketing"],
        "op.r.0": ["not_allowed"],
    }
    state = builder.parse_state(form)
    definition = Definition.model_validate(builder.to_definition(state))
    condition = definition.conditions[0]
    assert condition.model_dump(mode="json") == {
        "kind": "consent",
        "op": "not_allowed",
        "channel": "email",
        "purpose": "marketing",
    }
    assert builder.from_definition(definition) == state


def test_the_console_builder_offers_consent_by_channel_and_purpose(db: Database) -> None:
    from patron.staff.roles import Role
    from tests.web.helpers.console import console

    shop = build_shop(db, analytics_run=False)
    record(db, [shop.alice], "email")
    audiences.refresh_audience_store(db=db)
    with console(db, "mia", Role.MARKETER) as (client, csrf):
        page = client.post(
            "/audiences/builder",
            data={
                "csrf_token": csrf,
                "type.r.0": "cond",
                "kind.r.0": "consent",
                "channel.r.0": "email",
                "purpose.r.0": "marketing",
                "op.r.0": "allowed",
            },
        )
        assert page.status_code == 200, page.text
        assert 'id="channel-r-0"' in page.text and 'id="purpose-r-0"' in page.text
        assert "允许" in page.text and "邮箱" in page.text
        assert '<b id="live-count">1</b>' in page.text  # alice, the one who agreed
