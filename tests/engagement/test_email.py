"""E-mail over real SMTP (aiosmtpd with STARTTLS and AUTH): the MIME that arrives, the
headers that let a bounce or an unsubscribe find its message, and SMTP's replies as outcomes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from patron.core.settings import Settings
from patron.engagement.channels.base import ClaimLost, EmailBody, Outcome, SendResult
from patron.engagement.channels.email import SmtpAdapter, classify_reply
from patron.engagement.tokens import message_of_bounce_address, read_message_token
from tests.engagement.channels_helpers import Handovers, outgoing
from tests.engagement.stand_ins import StandIns

OFFER = EmailBody(
    subject="会员日：全场 8 折",
    text="王小明，您好！\n本周六会员日，凭券 SH-8F3K 全场 8 折。\n.\n点开始的一行也要送到。",
    html="<p>王小明，您好！</p><p>凭券 <b>SH-8F3K</b> 全场 8 折。</p>",
)


def _send(
    settings: Settings, body: EmailBody = OFFER, **kwargs: Any
) -> tuple[SendResult, Handovers]:
    adapter = SmtpAdapter(settings)
    handover = Handovers()
    try:
        result = adapter.send(
            outgoing("wang@example.cn", body, channel="email", **kwargs), handover
        )
    finally:
        adapter.close()
    return result, handover


def test_a_marketing_email_arrives_with_both_parts_and_one_click_unsubscribe(
    configure: Callable[..., Settings], servers: StandIns
) -> None:
    result, handover = _send(configure(), message_id=42)

    assert result.outcome is Outcome.SENT
    assert result.provider_message_id == servers.smtp.received[0]["queue_id"]
    assert handover.calls == [1]
    (mail,) = servers.smtp.delivered
    msg = mail.message
    assert mail.to == ["wang@example.cn"]
    assert msg["Subject"] == "会员日：全场 8 折"
    assert msg["From"].addresses[0].addr_spec == "news@shop.example.cn"
    assert msg["Message-ID"] == "<patron-42@shop.example.cn>"
    assert read_message_token(msg["X-Patron-Message"]) == 42
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    links = msg["List-Unsubscribe"]
    assert f"<https://crm.shop.example.cn/u/{msg['X-Patron-Message']}>" in links
    assert "mailto:unsubscribe@shop.example.cn?subject=unsubscribe%20" in links
    plain = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = msg.get_body(("html",)).get_content()
    assert "凭券 SH-8F3K 全场 8 折" in plain
    assert "\n.\n" in plain  # a line of one dot survives the DATA section's dot-stuffing
    assert "<b>SH-8F3K</b>" in html


def test_a_bounce_comes_back_to_an_address_naming_its_message(
    configure: Callable[..., Settings], servers: StandIns
) -> None:
    _send(configure(), message_id=9001)
    (mail,) = servers.smtp.delivered
    assert mail.mail_from.startswith("bounces+9001.")
    assert message_of_bounce_address(mail.mail_from) == 9001
    forged = mail.mail_from.replace("bounces+9001.", "bounces+9002.")
    assert message_of_bounce_address(forged) is None


def test_a_transactional_email_has_no_unsubscribe_headers(
    configure: Callable[..., Settings], servers: StandIns
) -> None:
    _send(configure(), marketing=False)
    msg = servers.smtp.delivered[0].message
    assert msg["List-Unsubscribe"] is None
    assert msg["List-Unsubscribe-Post"] is None
    assert msg["X-Patron-Message"] is not None


def test_a_wrong_password_is_an_account_problem(
    configure: Callable[..., Settings], servers: StandIns
) -> None:
    result, handover = _send(configure(smtp_password="not-the-password"))
    assert result.outcome is Outcome.ACCOUNT
    assert handover.calls == []
    assert servers.smtp.delivered == []


def test_an_unknown_mailbox_is_an_invalid_recipient(
    configure: Callable[..., Settings], servers: StandIns
) -> None:
    servers.smtp.rcpt_script.fail(
        "wang@example.cn",
        "550 5.1.1 <wang@example.cn>: Recipient address rejected: User unknown",
    )
    result, handover = _send(configure())
    assert result.outcome is Outcome.INVALID_RECIPIENT
    assert result.code == "550"
    assert handover.calls == []


def test_a_temporary_refusal_after_data_is_retried_and_nothing_is_kept(
    configure: Callable[..., Settings], servers: StandIns
) -> None:
    servers.smtp.script.fail(
        "wang@example.cn", "451 4.3.0 Mail server temporarily rejected message"
    )
    result, _ = _send(configure())
    assert result.outcome is Outcome.RETRY
    assert servers.smtp.delivered == []


def test_a_refused_hand_over_leaves_the_server_with_nothing(
    configure: Callable[..., Settings], servers: StandIns
) -> None:
    adapter = SmtpAdapter(configure())
    with pytest.raises(ClaimLost):
        adapter.send(outgoing("wang@example.cn", OFFER, channel="email"), Handovers(allow=False))
    adapter.close()
    assert servers.smtp.delivered == []


def test_one_connection_carries_many_messages(
    configure: Callable[..., Settings], servers: StandIns
) -> None:
    adapter = SmtpAdapter(configure())
    for n in range(5):
        result = adapter.send(
            outgoing(f"m{n}@example.cn", OFFER, channel="email", message_id=n + 1), Handovers()
        )
        assert result.outcome is Outcome.SENT
    adapter.close()
    assert sorted(servers.smtp.per_recipient()) == [f"m{n}@example.cn" for n in range(5)]


@pytest.mark.parametrize(
    ("code", "text", "outcome"),
    [
        (250, "2.0.0 Ok: queued as ABC", Outcome.SENT),
        (421, "4.7.0 Too many connections, slow down", Outcome.RATE_LIMITED),
        (451, "4.3.0 Local error", Outcome.RETRY),
        (550, "5.1.1 User unknown", Outcome.INVALID_RECIPIENT),
        (553, "mailbox name not allowed", Outcome.INVALID_RECIPIENT),
        (550, "5.7.1 Message rejected as spam", Outcome.REJECTED),
        (554, "5.7.1 Rejected by policy", Outcome.REJECTED),
        (535, "5.7.8 Authentication credentials invalid", Outcome.ACCOUNT),
    ],
)
def test_smtp_replies_map_to_outcomes(code: int, text: str, outcome: Outcome) -> None:
    assert classify_reply(code, text) is outcome
