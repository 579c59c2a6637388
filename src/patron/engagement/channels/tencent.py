"""SMS through Tencent Cloud (``SendSms``, version 2021-01-11), signed with TC3-HMAC-SHA256:
a JSON body, the ``content-type`` and ``host`` headers signed, and a signing key derived
from the secret key through the day, the service and ``tc3_request``."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

from patron.core.settings import Settings
from patron.engagement.channels.base import (
    Handover,
    Outcome,
    Outgoing,
    SendResult,
    SmsBody,
    clip,
)
from patron.engagement.channels.http import HttpLink, NotSent, Unconfirmed

ACTION = "SendSms"
VERSION = "2021-01-11"
SERVICE = "sms"
ALGORITHM = "TC3-HMAC-SHA256"
JSON_TYPE = "application/json; charset=utf-8"

# Tencent's codes (of the request, or of one number in SendStatusSet), as outcomes; a code is
# matched whole first, then by its family (the part before the first dot).
CODES: dict[str, Outcome] = {
    "Ok": Outcome.SENT,
    "RequestLimitExceeded": Outcome.RATE_LIMITED,
    "LimitExceeded.PhoneNumberDailyLimit": Outcome.RATE_LIMITED,
    "LimitExceeded.PhoneNumberOneHourLimit": Outcome.RATE_LIMITED,
    "LimitExceeded.PhoneNumberThirtySecondLimit": Outcome.RATE_LIMITED,
    "LimitExceeded.PhoneNumberSameContentDailyLimit": Outcome.RATE_LIMITED,
    "LimitExceeded.DeliveryFrequencyLimit": Outcome.RATE_LIMITED,
    "LimitExceeded.AppDailyLimit": Outcome.RATE_LIMITED,
    "InvalidParameterValue.IncorrectPhoneNumber": Outcome.INVALID_RECIPIENT,
    "FailedOperation.PhoneNumberInBlacklist": Outcome.INVALID_RECIPIENT,
    "FailedOperation.PhoneNumberOnBlacklist": Outcome.INVALID_RECIPIENT,
    "UnsupportedOperation.UnsupportedRegion": Outcome.INVALID_RECIPIENT,
    "FailedOperation.TemplateIncorrectOrUnapproved": Outcome.REJECTED,
    "FailedOperation.SignatureIncorrectOrUnapproved": Outcome.REJECTED,
    "FailedOperation.ContainSensitiveWord": Outcome.REJECTED,
    "FailedOperation.InsufficientBalanceInSmsPackage": Outcome.ACCOUNT,
    "FailedOperation.FailResolvePacket": Outcome.RETRY,
    "AuthFailure": Outcome.ACCOUNT,
    "UnauthorizedOperation": Outcome.ACCOUNT,
    "InternalError": Outcome.RETRY,
    "LimitExceeded": Outcome.RATE_LIMITED,
    "InvalidParameterValue": Outcome.REJECTED,
    "InvalidParameter": Outcome.REJECTED,
    "MissingParameter": Outcome.REJECTED,
    "UnsupportedOperation": Outcome.REJECTED,
}


def classify(code: str) -> Outcome:
    if code in CODES:
        return CODES[code]
    return CODES.get(code.split(".", 1)[0], Outcome.REJECTED)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def sign(
    *, secret_id: str, secret_key: str, host: str, body: bytes, timestamp: int, service: str
) -> str:
    """The ``Authorization`` header of a TC3-HMAC-SHA256 POST to ``/`` with a JSON body."""
    day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{JSON_TYPE}\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{day}/{service}/tc3_request"
    to_sign = "\n".join(
        [ALGORITHM, str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), day), service), "tc3_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"{ALGORITHM} Credential={secret_id}/{scope}, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )


class TencentSmsAdapter:
    provider = "tencent"
    channel = "sms"
    idempotent = False  # SendSms takes no idempotency key; SessionContext only names it

    def __init__(self, settings: Settings) -> None:
        if not (
            settings.tencent_secret_id
            and settings.tencent_secret_key
            and settings.tencent_sms_app_id
            and settings.tencent_sms_sign_name
        ):
            raise ValueError(
                "PATRON_SMS_CHANNEL=tencent needs PATRON_TENCENT_SECRET_ID, "
                "PATRON_TENCENT_SECRET_KEY, PATRON_TENCENT_SMS_APP_ID and "
                "PATRON_TENCENT_SMS_SIGN_NAME"
            )
        self.secret_id = settings.tencent_secret_id
        self.secret_key = settings.tencent_secret_key.get_secret_value()
        self.app_id = settings.tencent_sms_app_id
        self.sign_name = settings.tencent_sms_sign_name
        self.region = settings.tencent_sms_region
        self.link = HttpLink(settings.tencent_sms_endpoint)

    def request(self, message: Outgoing) -> tuple[dict[str, str], bytes]:
        body = message.body
        if not isinstance(body, SmsBody):
            raise TypeError("an SMS needs an SmsBody")
        template = body.templates.get(self.provider)
        if not template:
            raise LookupError("the message has no Tencent template id")
        payload = json.dumps(
            {
                "PhoneNumberSet": [message.to],
                "SmsSdkAppId": self.app_id,
                "SignName": self.sign_name,
                "TemplateId": template,
                "TemplateParamSet": list(body.params.values()),
                "SessionContext": message.key,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")
        timestamp = int(datetime.now(UTC).timestamp())
        headers = {
            "Content-Type": JSON_TYPE,
            "X-TC-Action": ACTION,
            "X-TC-Version": VERSION,
            "X-TC-Region": self.region,
            "X-TC-Timestamp": str(timestamp),
            "Authorization": sign(
                secret_id=self.secret_id,
                secret_key=self.secret_key,
                host=self.link.netloc,
                body=payload,
                timestamp=timestamp,
                service=SERVICE,
            ),
        }
        return headers, payload

    def send(self, message: Outgoing, handover: Handover) -> SendResult:
        try:
            headers, payload = self.request(message)
        except LookupError as exc:
            return SendResult(Outcome.REJECTED, "no_template", str(exc))
        try:
            reply = self.link.post("/", headers=headers, body=payload, handover=handover)
        except NotSent as exc:
            return SendResult(Outcome.RETRY, "network", clip(str(exc)))
        except Unconfirmed as exc:
            return SendResult(Outcome.UNCONFIRMED, "no_reply", clip(str(exc)))
        try:
            answer = json.loads(reply.body).get("Response", {})
        except (ValueError, AttributeError):
            answer = None
        if not isinstance(answer, dict):
            outcome = Outcome.RETRY if reply.status >= 500 else Outcome.REJECTED
            return SendResult(
                outcome, f"http_{reply.status}", clip(reply.body.decode(errors="replace"))
            )
        error = answer.get("Error")
        if isinstance(error, dict):
            code = str(error.get("Code", "InternalError"))
            return SendResult(classify(code), code, clip(error.get("Message")))
        statuses = answer.get("SendStatusSet") or [{}]
        status = statuses[0]
        code = str(status.get("Code", "InternalError"))
        outcome = classify(code)
        if outcome is Outcome.SENT:
            return SendResult(outcome, code, None, status.get("SerialNo"))
        return SendResult(outcome, code, clip(status.get("Message")))

    def close(self) -> None:
        self.link.close()
