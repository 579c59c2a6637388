"""SMS through Aliyun, Tencent Cloud and a signed webhook, each against a local server that
checks the provider's signature and answers in the provider's format and codes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from patron.core.settings import Settings
from patron.engagement.channels import adapter_for
from patron.engagement.channels.aliyun import AliyunSmsAdapter
from patron.engagement.channels.base import ClaimLost, Outcome, SmsBody
from patron.engagement.channels.tencent import TencentSmsAdapter
from patron.engagement.channels.webhook import WebhookSmsAdapter
from tests.engagement.channels_helpers import Handovers, outgoing
from tests.engagement.stand_ins import StandIns

PHONE = "+8613912345678"
BODY = SmsBody(
    text="王小明您好，会员日凭券SH-8F3K全场8折，回复TD退订",
    templates={"aliyun": "SMS_465970123", "tencent": "2049123", "webhook": "member-day"},
    params={"name": "王小明", "code": "SH-8F3K"},
)


def test_aliyun_receives_a_signed_send_sms_with_the_template_and_its_parameters(
    configure: Callable[..., Settings], servers: StandIns
) -> None:
    adapter = AliyunSmsAdapter(configure(sms="aliyun"))
    handover = Handovers()
    result = adapter.send(outgoing(PHONE, BODY, message_id=31), handover)
    adapter.close()

    assert result.outcome is Outcome.SENT
    (sms,) = servers.aliyun.received
    assert sms == {
        "to": "13912345678",
        "template": "SMS_465970123",
        "params": {"name": "王小明", "code": "SH-8F3K"},
        "sign": "南京路店",
        "out_id": "patron-31",
        "biz_id": result.provider_message_id,
    }
    assert handover.calls == [1]
    assert servers.aliyun.refused_signatures == 0


def test_aliyun_refuses_a_request_signed_with_the_wrong_secret(
    configure: Callable[..., Settings], servers: StandIns
) -> None:
    adapter = AliyunSmsAdapter(configure(sms="aliyun", aliyun_access_key_secret="wrong"))
    result = adapter.send(outgoing(PHONE, BODY), Handovers())
    assert (result.outcome, result.code) == (Outcome.ACCOUNT, "SignatureDoesNotMatch")
    assert servers.aliyun.refused_signatures == 1
    assert servers.aliyun.received == []


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("isv.BUSINESS_LIMIT_CONTROL", Outcome.RATE_LIMITED),
        ("Throttling.User", Outcome.RATE_LIMITED),
        ("isv.MOBILE_NUMBER_ILLEGAL", Outcome.INVALID_RECIPIENT),
        ("isv.SMS_TEMPLATE_ILLEGAL", Outcome.REJECTED),
        ("isv.SMS_SIGNATURE_ILLEGAL", Outcome.REJECTED),
        ("isv.AMOUNT_NOT_ENOUGH", Outcome.ACCOUNT),
        ("InvalidAccessKeyId.NotFound", Outcome.ACCOUNT),
        ("isp.SYSTEM_ERROR", Outcome.RETRY),
    ],
)
def test_aliyun_error_codes_map_to_outcomes(
    configure: Callable[..., Settings], servers: StandIns, code: str, outcome: Outcome
) -> None:
    servers.aliyun.script.fail("13912345678", code)
    adapter = AliyunSmsAdapter(configure(sms="aliyun"))
    result = adapter.send(outgoing(PHONE, BODY), Handovers())
    assert (result.outcome, result.code) == (outcome, code)
    assert servers.aliyun.received == []


def test_tencent_receives_a_tc3_signed_send_sms_with_parameters_in_template_order(
    configure: Callable[..., Settings], servers: StandIns
) -> None:
    adapter = TencentSmsAdapter(configure(sms="tencent"))
    result = adapter.send(outgoing(PHONE, BODY, message_id=32), Handovers())
    adapter.close()

    assert result.outcome is Outcome.SENT
    assert result.provider_message_id and result.provider_message_id.startswith("2433:")
    (sms,) = servers.tencent.received
    assert sms == {
        "to": PHONE,
        "template": "2049123",
        "params": ["王小明", "SH-8F3K"],
        "sign": "南京路店",
        "session": "patron-32",
    }
    assert servers.tencent.refused_signatures == 0


def test_tencent_refuses_a_request_signed_with_the_wrong_key(
    configure: Callable[..., Settings], servers: StandIns
) -> None:
    adapter = TencentSmsAdapter(configure(sms="tencent", tencent_secret_key="wrong"))
    result = adapter.send(outgoing(PHONE, BODY), Handovers())
    assert (result.outcome, result.code) == (Outcome.ACCOUNT, "AuthFailure.SignatureFailure")
    assert servers.tencent.received == []


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("LimitExceeded.PhoneNumberDailyLimit", Outcome.RATE_LIMITED),
        ("RequestLimitExceeded", Outcome.RATE_LIMITED),
        ("InvalidParameterValue.IncorrectPhoneNumber", Outcome.INVALID_RECIPIENT),
        ("FailedOperation.PhoneNumberInBlacklist", Outcome.INVALID_RECIPIENT),
        ("FailedOperation.TemplateIncorrectOrUnapproved", Outcome.REJECTED),
        ("FailedOperation.InsufficientBalanceInSmsPackage", Outcome.ACCOUNT),
        ("InternalError.Timeout", Outcome.RETRY),
    ],
)
def test_tencent_error_codes_map_to_outcomes(
    configure: Callable[..., Settings], servers: StandIns, code: str, outcome: Outcome
) -> None:
    servers.tencent.script.fail(PHONE, code)
    adapter = TencentSmsAdapter(configure(sms="tencent"))
    result = adapter.send(outgoing(PHONE, BODY), Handovers())
    assert (result.outcome, result.code) == (outcome, code)
    assert servers.tencent.received == []


def test_the_webhook_gets_a_standard_webhooks_signature_and_drops_a_repeat(
    configure: Callable[..., Settings], servers: StandIns
) -> None:
    adapter = WebhookSmsAdapter(configure(sms="webhook"))
    first = adapter.send(outgoing(PHONE, BODY, message_id=33), Handovers())
    again = adapter.send(outgoing(PHONE, BODY, message_id=33), Handovers())
    adapter.close()

    assert first.outcome is again.outcome is Outcome.SENT
    assert first.provider_message_id == "gw-patron-33"
    assert servers.webhook.per_recipient() == {PHONE: 1}
    assert servers.webhook.received[0]["text"] == BODY.text
    assert adapter.idempotent


def test_the_webhook_is_refused_with_the_wrong_secret(
    configure: Callable[..., Settings], servers: StandIns
) -> None:
    adapter = WebhookSmsAdapter(configure(sms="webhook", sms_webhook_secret="whsec_d3Jvbmc="))
    result = adapter.send(outgoing(PHONE, BODY), Handovers())
    assert result.outcome is Outcome.ACCOUNT
    assert servers.webhook.refused_signatures == 1


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        ((429, {"Retry-After": "120"}), Outcome.RATE_LIMITED),
        ((503, {}), Outcome.RETRY),
        ((422, {"error": "invalid_recipient"}), Outcome.INVALID_RECIPIENT),
        ((400, {}), Outcome.REJECTED),
        ((410, {}), Outcome.ACCOUNT),
    ],
)
def test_webhook_answers_map_to_outcomes(
    configure: Callable[..., Settings],
    servers: StandIns,
    answer: tuple[int, dict[str, str]],
    outcome: Outcome,
) -> None:
    servers.webhook.script.fail(PHONE, answer)
    adapter = WebhookSmsAdapter(configure(sms="webhook"))
    result = adapter.send(outgoing(PHONE, BODY), Handovers())
    assert result.outcome is outcome
    if answer[0] == 429:
        assert result.retry_after_s == 120


@pytest.mark.parametrize("provider", ["aliyun", "tencent", "webhook"])
def test_a_request_cut_short_by_a_refused_hand_over_is_dropped_by_the_provider(
    configure: Callable[..., Settings], servers: StandIns, provider: str
) -> None:
    adapter = adapter_for("sms", configure(sms=provider))
    with pytest.raises(ClaimLost):
        adapter.send(outgoing(PHONE, BODY), Handovers(allow=False))
    adapter.close()
    stand_in = getattr(servers, provider)
    assert stand_in.received == []
    assert stand_in.requests == 0  # the server never had a whole request to answer


def test_an_sms_without_this_providers_template_is_rejected_before_sending(
    configure: Callable[..., Settings], servers: StandIns
) -> None:
    adapter = AliyunSmsAdapter(configure(sms="aliyun"))
    handover = Handovers()
    result = adapter.send(outgoing(PHONE, SmsBody(text="hi", templates={"tencent": "1"})), handover)
    assert (result.outcome, result.code) == (Outcome.REJECTED, "no_template")
    assert handover.calls == []


def test_a_provider_without_its_credentials_is_named_in_the_error(
    configure: Callable[..., Settings],
) -> None:
    with pytest.raises(ValueError, match="PATRON_ALIYUN_ACCESS_KEY_ID"):
        AliyunSmsAdapter(configure(sms="aliyun", aliyun_access_key_id=""))
