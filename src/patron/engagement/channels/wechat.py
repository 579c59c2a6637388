"""WeChat messages by openid through the official API: template messages of an official
account (``/cgi-bin/message/template/send``) or subscribe messages of a mini-program
(``/cgi-bin/message/subscribe/send``).

The access token comes from ``/cgi-bin/stable_token``, which hands every caller the same
token until it expires, so the server's threads and every worker share one without
invalidating each other's. It is fetched again before it expires, and when the API answers
40001, 40014 or 42001 (the token was replaced or has expired) — then the message is sent
once more, which is safe: the refused request sent nothing.

Template messages carry ``client_msg_id`` (the message's key): WeChat sends one message per
openid and id within ten minutes, so a message sent again is not doubled.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from patron.core.settings import Settings
from patron.engagement.channels.base import (
    Handover,
    Outcome,
    Outgoing,
    SendResult,
    WechatBody,
    clip,
)
from patron.engagement.channels.http import HttpLink, NotSent, Unconfirmed

TOKEN_REFUSED = frozenset({40001, 40014, 42001})
# Fetch a new token this long before the old one expires.
_TOKEN_MARGIN_S = 300.0

CODES: dict[int, Outcome] = {
    0: Outcome.SENT,
    45065: Outcome.SENT,  # this client_msg_id was already sent: the first one stands
    -1: Outcome.RETRY,  # system busy
    45009: Outcome.RATE_LIMITED,  # the API's daily quota
    45011: Outcome.RATE_LIMITED,  # the API's minute quota
    45047: Outcome.RATE_LIMITED,
    45066: Outcome.RATE_LIMITED,  # the same client_msg_id again too soon
    40003: Outcome.INVALID_RECIPIENT,  # no such openid under this app
    43004: Outcome.INVALID_RECIPIENT,  # does not follow the official account
    43101: Outcome.INVALID_RECIPIENT,  # has not subscribed to (or refuses) this message
    43019: Outcome.INVALID_RECIPIENT,  # on the account's block list
    40037: Outcome.REJECTED,  # no such template
    47003: Outcome.REJECTED,  # a template field is missing or not of its kind
    41028: Outcome.REJECTED,
    41030: Outcome.REJECTED,  # no such mini-program page
    40165: Outcome.REJECTED,
    40013: Outcome.ACCOUNT,  # app id
    40125: Outcome.ACCOUNT,  # app secret
    40164: Outcome.ACCOUNT,  # this server's address is not on the allow-list
    41001: Outcome.ACCOUNT,
    48001: Outcome.ACCOUNT,  # the app may not use this API
    89503: Outcome.ACCOUNT,
}


def classify(errcode: int) -> Outcome:
    if errcode in TOKEN_REFUSED:
        return Outcome.RETRY
    return CODES.get(errcode, Outcome.REJECTED)


@dataclass
class _Token:
    value: str
    expires_at: float


class _TokenFailed(Exception):
    def __init__(self, result: SendResult) -> None:
        super().__init__(result.code)
        self.result = result


_tokens: dict[tuple[str, str], _Token] = {}
_tokens_lock = threading.Lock()


def forget_tokens() -> None:
    with _tokens_lock:
        _tokens.clear()


class WechatAdapter:
    provider = "wechat"
    channel = "wechat"

    def __init__(self, settings: Settings) -> None:
        if not (settings.wechat_app_id and settings.wechat_app_secret):
            raise ValueError(
                "PATRON_WECHAT_CHANNEL=wechat needs PATRON_WECHAT_APP_ID and "
                "PATRON_WECHAT_APP_SECRET"
            )
        self.app_id = settings.wechat_app_id
        self.secret = settings.wechat_app_secret.get_secret_value()
        self.kind = settings.wechat_message_kind
        self.idempotent = self.kind == "template"
        self.link = HttpLink(settings.wechat_api_base)
        self._cache_key = (settings.wechat_api_base, self.app_id)

    # ---------------------------------------------------------------- the token

    def _fetch_token(self, *, force: bool) -> _Token:
        payload = json.dumps(
            {
                "grant_type": "client_credential",
                "appid": self.app_id,
                "secret": self.secret,
                "force_refresh": force,
            }
        ).encode()
        try:
            reply = self.link.post(
                "/cgi-bin/stable_token",
                headers={"Content-Type": "application/json"},
                body=payload,
            )
        except (NotSent, Unconfirmed) as exc:
            raise _TokenFailed(SendResult(Outcome.RETRY, "token_network", clip(str(exc)))) from exc
        answer = _json(reply.body)
        token = answer.get("access_token")
        if reply.status != 200 or not isinstance(token, str):
            errcode = int(answer.get("errcode", -1))
            outcome = CODES.get(errcode, Outcome.RETRY if reply.status >= 500 else Outcome.ACCOUNT)
            raise _TokenFailed(
                SendResult(outcome, f"token_{errcode}", clip(str(answer.get("errmsg", ""))))
            )
        expires_in = float(answer.get("expires_in", 7200))
        return _Token(token, time.monotonic() + max(60.0, expires_in - _TOKEN_MARGIN_S))

    def _token(self, *, stale: str | None = None) -> str:
        """The current token; with ``stale``, one other than that refused one."""
        with _tokens_lock:
            cached = _tokens.get(self._cache_key)
            if cached and cached.value != stale and time.monotonic() < cached.expires_at:
                return cached.value
            fresh = self._fetch_token(force=False)
            if fresh.value == stale:  # WeChat still hands out the refused one: replace it
                fresh = self._fetch_token(force=True)
            _tokens[self._cache_key] = fresh
            return fresh.value

    # ---------------------------------------------------------------- sending

    def _payload(self, message: Outgoing) -> bytes:
        body = message.body
        if not isinstance(body, WechatBody):
            raise TypeError("a WeChat message needs a WechatBody")
        doc: dict[str, Any] = {
            "touser": message.to,
            "template_id": body.template_id,
            "data": {name: {"value": value} for name, value in body.data.items()},
        }
        if self.kind == "template":
            doc["client_msg_id"] = message.key
            if body.url:
                doc["url"] = body.url
            if body.page and message.extra.get("miniprogram_appid"):
                doc["miniprogram"] = {
                    "appid": message.extra["miniprogram_appid"],
                    "pagepath": body.page,
                }
        else:
            if body.page:
                doc["page"] = body.page
            doc["miniprogram_state"] = "formal"
            doc["lang"] = "zh_CN"
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def send(self, message: Outgoing, handover: Handover) -> SendResult:
        payload = self._payload(message)
        path = (
            "/cgi-bin/message/template/send"
            if self.kind == "template"
            else "/cgi-bin/message/subscribe/send"
        )
        stale: str | None = None
        for _ in range(2):
            try:
                token = self._token(stale=stale)
            except _TokenFailed as exc:
                return exc.result
            try:
                reply = self.link.post(
                    f"{path}?access_token={token}",
                    headers={"Content-Type": "application/json"},
                    body=payload,
                    handover=handover,
                )
            except NotSent as exc:
                return SendResult(Outcome.RETRY, "network", clip(str(exc)))
            except Unconfirmed as exc:
                return SendResult(Outcome.UNCONFIRMED, "no_reply", clip(str(exc)))
            answer = _json(reply.body)
            errcode = int(answer.get("errcode", -1 if reply.status >= 500 else 0))
            if errcode in TOKEN_REFUSED:
                stale = token
                continue
            outcome = classify(errcode)
            if reply.status >= 500 and not answer:
                outcome = Outcome.RETRY
            if outcome is Outcome.SENT:
                msgid = answer.get("msgid")
                return SendResult(outcome, str(errcode), None, str(msgid) if msgid else None)
            return SendResult(outcome, str(errcode), clip(str(answer.get("errmsg", ""))))
        return SendResult(Outcome.RETRY, str(errcode), "the access token was refused twice")

    def close(self) -> None:
        self.link.close()


def _json(data: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}
