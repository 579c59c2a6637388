"""SMS through Aliyun's Dysms API (``SendSms``, version 2017-05-25), signed with the current
V3 method (``ACS3-HMAC-SHA256``): the parameters travel in a form body, whose SHA-256 the
signature covers with the ``host``, ``content-type`` and ``x-acs-*`` headers."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime
from urllib.parse import quote

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
VERSION = "2017-05-25"
ALGORITHM = "ACS3-HMAC-SHA256"
FORM = "application/x-www-form-urlencoded"

# Dysms's codes, as outcomes. A code not listed is permanent (REJECTED) unless the HTTP
# status says the server failed (5xx: RETRY).
CODES: dict[str, Outcome] = {
    "OK": Outcome.SENT,
    "isv.BUSINESS_LIMIT_CONTROL": Outcome.RATE_LIMITED,  # per-number minute/hour/day limit
    "isv.DAY_LIMIT_CONTROL": Outcome.RATE_LIMITED,
    "Throttling": Outcome.RATE_LIMITED,
    "Throttling.User": Outcome.RATE_LIMITED,
    "Throttling.Api": Outcome.RATE_LIMITED,
    "isv.MOBILE_NUMBER_ILLEGAL": Outcome.INVALID_RECIPIENT,
    "isv.MOBILE_COUNT_OVER_LIMIT": Outcome.INVALID_RECIPIENT,
    "isv.BLACK_KEY_CONTROL_LIMIT": Outcome.REJECTED,
    "isv.SMS_TEMPLATE_ILLEGAL": Outcome.REJECTED,  # not approved, or not this account's
    "isv.SMS_SIGNATURE_ILLEGAL": Outcome.REJECTED,
    "isv.SMS_SIGN_ILLEGAL": Outcome.REJECTED,
    "isv.TEMPLATE_MISSING_PARAMETERS": Outcome.REJECTED,
    "isv.TEMPLATE_PARAMS_ILLEGAL": Outcome.REJECTED,
    "isv.INVALID_PARAMETERS": Outcome.REJECTED,
    "isv.PARAM_LENGTH_LIMIT": Outcome.REJECTED,
    "isv.SMS_CONTENT_ILLEGAL": Outcome.REJECTED,
    "isv.AMOUNT_NOT_ENOUGH": Outcome.ACCOUNT,
    "isv.OUT_OF_SERVICE": Outcome.ACCOUNT,
    "isv.PRODUCT_UN_SUBSCRIPT": Outcome.ACCOUNT,
    "isv.PRODUCT_UNSUBSCRIBE": Outcome.ACCOUNT,
    "isv.ACCOUNT_NOT_EXISTS": Outcome.ACCOUNT,
    "isv.ACCOUNT_ABNORMAL": Outcome.ACCOUNT,
    "isv.DENY_IP_RANGE": Outcome.ACCOUNT,
    "isp.RAM_PERMISSION_DENY": Outcome.ACCOUNT,
    "Forbidden.RAM": Outcome.ACCOUNT,
    "InvalidAccessKeyId.NotFound": Outcome.ACCOUNT,
    "InvalidAccessKeyId.Inactive": Outcome.ACCOUNT,
    "SignatureDoesNotMatch": Outcome.ACCOUNT,
    "IncompleteSignature": Outcome.ACCOUNT,
    "isp.SYSTEM_ERROR": Outcome.RETRY,
    "ServiceUnavailable": Outcome.RETRY,
    "InternalError": Outcome.RETRY,
    "SignatureNonceUsed": Outcome.RETRY,
}


def classify(status: int, code: str | None) -> Outcome:
    if code in CODES:
        return CODES[code]
    return Outcome.RETRY if status >= 500 or code is None else Outcome.REJECTED


def _percent(value: str) -> str:
    return quote(value, safe="-_.~")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sign(
    *,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    key_id: str,
    secret: str,
) -> str:
    """The ``Authorization`` header of a V3 request. ``headers`` are those to sign (names in
    lower case): ``host``, ``content-type`` and every ``x-acs-*``."""
    names = sorted(headers)
    canonical_headers = "".join(f"{n}:{headers[n].strip()}\n" for n in names)
    signed = ";".join(names)
    canonical = "\n".join([method, path or "/", query, canonical_headers, signed, _sha256(body)])
    to_sign = f"{ALGORITHM}\n{_sha256(canonical.encode('utf-8'))}"
    signature = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{ALGORITHM} Credential={key_id},SignedHeaders={signed},Signature={signature}"


def form_body(params: dict[str, str]) -> bytes:
    return "&".join(f"{_percent(k)}={_percent(v)}" for k, v in sorted(params.items())).encode()


class AliyunSmsAdapter:
    provider = "aliyun"
    channel = "sms"
    idempotent = False  # Dysms takes no idempotency key; ``OutId`` only names the message

    def __init__(self, settings: Settings) -> None:
        if not (
            settings.aliyun_access_key_id
            and settings.aliyun_access_key_secret
            and settings.aliyun_sms_sign_name
        ):
            raise ValueError(
                "PATRON_SMS_CHANNEL=aliyun needs PATRON_ALIYUN_ACCESS_KEY_ID, "
                "PATRON_ALIYUN_ACCESS_KEY_SECRET and PATRON_ALIYUN_SMS_SIGN_NAME"
            )
        self.key_id = settings.aliyun_access_key_id
        self.secret = settings.aliyun_access_key_secret.get_secret_value()
        self.sign_name = settings.aliyun_sms_sign_name
        self.link = HttpLink(settings.aliyun_sms_endpoint)

    def request(self, message: Outgoing) -> tuple[dict[str, str], bytes]:
        body = message.body
        if not isinstance(body, SmsBody):
            raise TypeError("an SMS needs an SmsBody")
        template = body.templates.get(self.provider)
        if not template:
            raise LookupError("the message has no Aliyun template code")
        payload = form_body(
            {
                # Mainland numbers without +86; others with their country code, no "+".
                "PhoneNumbers": message.to.removeprefix("+86").removeprefix("+"),
                "SignName": self.sign_name,
                "TemplateCode": template,
                "TemplateParam": json.dumps(body.params, ensure_ascii=False),
                "OutId": message.key,
            }
        )
        signed = {
            "host": self.link.netloc,
            "content-type": FORM,
            "x-acs-action": ACTION,
            "x-acs-version": VERSION,
            "x-acs-date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "x-acs-signature-nonce": secrets.token_hex(16),
            "x-acs-content-sha256": _sha256(payload),
        }
        authorization = sign(
            method="POST",
            path="/",
            query="",
            headers=signed,
            body=payload,
            key_id=self.key_id,
            secret=self.secret,
        )
        headers = {k: v for k, v in signed.items() if k != "host"}
        headers["Authorization"] = authorization
        headers["Accept"] = "application/json"
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
            answer = json.loads(reply.body)
        except ValueError:
            answer = {}
        code = answer.get("Code") if isinstance(answer, dict) else None
        words = answer.get("Message") if isinstance(answer, dict) else None
        outcome = classify(reply.status, code)
        if outcome is Outcome.SENT:
            return SendResult(outcome, code, None, answer.get("BizId"))
        return SendResult(
            outcome,
            code or f"http_{reply.status}",
            clip(words or reply.body.decode("utf-8", "replace")),
            retry_after_s=reply.retry_after(),
        )

    def close(self) -> None:
        self.link.close()
