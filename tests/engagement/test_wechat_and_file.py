"""WeChat template and subscribe messages against a stand-in of the official API (token
fetch and refresh, client_msg_id), and the file sink that is every channel's default."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from patron.core.settings import Settings, get_settings
from patron.engagement.channels import adapter_for
from patron.engagement.channels.base import EmailBody, Outcome, WechatBody
from patron.engagement.channels.file import FileAdapter
from patron.engagement.channels.wechat import WechatAdapter
from patron.engagement.tokens import message_token, read_message_token
from tests.engagement.channels_helpers import Handovers, outgoing
from tests.engagement.stand_ins import StandIns

OPENID = "oPatron00000000000000000001"
NOTICE = WechatBody(
    template_id="TPL-member-day",
    data={"thing1": "会员日", "time2": "2026-03-14 10:00"},
    url="https://shop.example.cn/member-day",
)


def test_a_template_message_goes_to_the_openid_with_its_client_msg_id(
    configure: Callable[..., Settings], servers: StandIns
) -> None:
    adapter = WechatAdapter(configure())
    first = adapter.send(outgoing(OPENID, NOTICE, message_id=51, channel="wechat"), Handovers())
    second = adapter.send(
        outgoing("oPatron00000000000000000002", NOTICE, message_id=52, channel="wechat"),
        Handovers(),
    )
    assert first.outcome is second.outcome is Outcome.SENT
    assert servers.wechat.token_fetches == 1  # one token serves both
    sent = servers.wechat.received[0]
    assert sent["kind"] == "template"
    assert sent["client_msg_id"] == "patron-51"
    assert sent["data"] == {"thing1": {"value": "会员日"}, "time2": {"value": "2026-03-14 10:00"}}
    assert sent["url"] == "https://shop.example.cn/member-day"


def test_a_message_sent_again_with_its_key_is_not_doubled(
    configure: Callable[..., Settings], servers: StandIns
) -> None:
    adapter = WechatAdapter(configure())
    for _ in range(2):
        result = adapter.send(
            outgoing(OPENID, NOTICE, message_id=53, channel="wechat"), Handovers()
        )
        assert result.outcome is Outcome.SENT
    assert servers.wechat.per_recipient() == {OPENID: 1}
    assert adapter.idempotent


def test_a_replaced_token_is_fetched_again_and_the_message_sent_once(
    configure: Callable[..., Settings], servers: StandIns
) -> None:
    adapter = WechatAdapter(configure())
    adapter.send(outgoing(OPENID, NOTICE, message_id=54, channel="wechat"), Handovers())
    servers.wechat.expire_token()  # as if another server had forced a new token
    result = adapter.send(outgoing(OPENID, NOTICE, message_id=55, channel="wechat"), Handovers())
    assert result.outcome is Outcome.SENT
    assert servers.wechat.token_fetches == 2
    assert servers.wechat.per_recipient() == {OPENID: 2}


@pytest.mark.parametrize(
    ("errcode", "outcome"),
    [
        (43101, Outcome.INVALID_RECIPIENT),  # the user has not subscribed to this message
        (40003, Outcome.INVALID_RECIPIENT),
        (40037, Outcome.REJECTED),  # no such template
        (47003, Outcome.REJECTED),
        (45009, Outcome.RATE_LIMITED),
        (-1, Outcome.RETRY),
        (48001, Outcome.ACCOUNT),
    ],
)
def test_wechat_error_codes_map_to_outcomes(
    configure: Callable[..., Settings], servers: StandIns, errcode: int, outcome: Outcome
) -> None:
    servers.wechat.script.fail(OPENID, errcode)
    adapter = WechatAdapter(configure())
    result = adapter.send(outgoing(OPENID, NOTICE, channel="wechat"), Handovers())
    assert (result.outcome, result.code) == (outcome, str(errcode))


def test_a_wrong_app_secret_is_an_account_problem_and_nothing_is_sent(
    configure: Callable[..., Settings], servers: StandIns
) -> None:
    adapter = WechatAdapter(configure(wechat_app_secret="wrong"))
    handover = Handovers()
    result = adapter.send(outgoing(OPENID, NOTICE, channel="wechat"), handover)
    assert (result.outcome, result.code) == (Outcome.ACCOUNT, "token_40125")
    assert handover.calls == []


def test_a_subscribe_message_goes_to_the_mini_program_api(
    configure: Callable[..., Settings], servers: StandIns
) -> None:
    adapter = WechatAdapter(configure(wechat_kind="subscribe"))
    body = WechatBody(template_id="TPL-points", data={"number1": "320"}, page="pages/points/index")
    result = adapter.send(outgoing(OPENID, body, channel="wechat"), Handovers())
    assert result.outcome is Outcome.SENT
    sent = servers.wechat.received[0]
    assert (sent["kind"], sent["page"], sent["client_msg_id"]) == (
        "subscribe",
        "pages/points/index",
        None,
    )
    assert not adapter.idempotent  # subscribe messages take no client_msg_id


def test_nothing_leaves_by_default_every_message_goes_to_the_outbox_folder(
    tmp_path: Path,
) -> None:
    settings = get_settings()
    adapter = adapter_for("email", settings)
    assert isinstance(adapter, FileAdapter)
    body = EmailBody(subject="会员日", text="全场 8 折")
    handover = Handovers()
    result = adapter.send(
        outgoing("wang@example.cn", body, channel="email", message_id=61), handover
    )
    assert result.outcome is Outcome.SENT
    assert handover.calls == [1]
    path = settings.resolved_outbox_dir / "email.jsonl"
    line = json.loads(path.read_text(encoding="utf-8"))
    assert (line["to"], line["body"]["subject"], line["key"]) == (
        "wang@example.cn",
        "会员日",
        "patron-61",
    )
    assert path.stat().st_mode & 0o077 == 0  # addresses inside: the owner's only
    assert isinstance(adapter_for("sms", settings), FileAdapter)
    assert isinstance(adapter_for("wechat", settings), FileAdapter)


def test_a_message_token_reads_back_and_a_forged_one_does_not() -> None:
    token = message_token(1234)
    assert read_message_token(token) == 1234
    number, signature = token.split(".")
    assert read_message_token(f"1235.{signature}") is None
    assert read_message_token(f"{number}.{'0' * 16}") is None
    assert read_message_token("garbage") is None
