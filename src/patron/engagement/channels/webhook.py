"""SMS through any HTTP endpoint (an in-house gateway, a provider without an adapter here),
signed the way Standard Webhooks signs: ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature`` headers, the signature an HMAC-SHA256 of ``{id}.{timestamp}.{body}``.

The request body is JSON: ``{"id", "to", "text", "template", "params"}``. The ``webhook-id`` is
the message's key and stays the same when a message is sent again, so the endpoint drops a
repeat (Standard Webhooks' idempotency rule). The endpoint answers:

- 2xx: sent; a JSON body's ``id`` is kept as the provider's message id;
- 429, or 503 with Retry-After: slow down; other 5xx, 408: try again later;
- 401, 403, 410: the account or the endpoint is wrong (alarm);
- other 4xx: permanent. A JSON body's ``error`` may say which: ``invalid_recipient`` or
  ``rejected`` (the default).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

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


def secret_bytes(secret: str) -> bytes:
    """A ``whsec_``-prefixed secret is base64 (the Standard Webhooks form); any other is used
    as it is."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode("utf-8")


def signature(secret: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.digest(secret, signed, hashlib.sha256)).decode()


def classify(status: int, error: str | None) -> Outcome:
    if 200 <= status < 300:
        return Outcome.SENT
    if status == 429:
        return Outcome.RATE_LIMITED
    if status in (408, 425) or status >= 500:
        return Outcome.RETRY
    if status in (401, 403, 410):
        return Outcome.ACCOUNT
    if error == Outcome.INVALID_RECIPIENT:
        return Outcome.INVALID_RECIPIENT
    return Outcome.REJECTED


class WebhookSmsAdapter:
    provider = "webhook"
    channel = "sms"
    idempotent = True

    def __init__(self, settings: Settings) -> None:
        if not (settings.sms_webhook_url and settings.sms_webhook_secret):
            raise ValueError(
                "PATRON_SMS_CHANNEL=webhook needs PATRON_SMS_WEBHOOK_URL and "
                "PATRON_SMS_WEBHOOK_SECRET"
            )
        self.secret = secret_bytes(settings.sms_webhook_secret.get_secret_value())
        self.link = HttpLink(settings.sms_webhook_url)

    def send(self, message: Outgoing, handover: Handover) -> SendResult:
        body = message.body
        if not isinstance(body, SmsBody):
            raise TypeError("an SMS needs an SmsBody")
        payload = json.dumps(
            {
                "id": message.key,
                "to": message.to,
                "text": body.text,
                "template": body.templates.get(self.provider),
                "params": body.params,
                "marketing": message.marketing,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "webhook-id": message.key,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(self.secret, message.key, timestamp, payload),
        }
        try:
            reply = self.link.post("", headers=headers, body=payload, handover=handover)
        except NotSent as exc:
            return SendResult(Outcome.RETRY, "network", clip(str(exc)))
        except Unconfirmed as exc:
            return SendResult(Outcome.UNCONFIRMED, "no_reply", clip(str(exc)))
        try:
            answer = json.loads(reply.body) if reply.body else {}
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        error = answer.get("error")
        outcome = classify(reply.status, error if isinstance(error, str) else None)
        if reply.status == 503 and reply.retry_after() is not None:
            outcome = Outcome.RATE_LIMITED
        if outcome is Outcome.SENT:
            provider_id = answer.get("id")
            return SendResult(
                outcome, str(reply.status), None, str(provider_id) if provider_id else None
            )
        words = answer.get("message") or reply.body.decode("utf-8", "replace")
        return SendResult(
            outcome, f"http_{reply.status}", clip(str(words)), retry_after_s=reply.retry_after()
        )

    def close(self) -> None:
        self.link.close()
