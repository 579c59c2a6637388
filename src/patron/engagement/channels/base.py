"""What every channel adapter shares: the message handed to it, the outcomes it reports, and
the hand-over that makes a kill at any moment neither lose nor double a message.

The hand-over
-------------
A provider acts on a request only once it has all of it: an SMTP server on the line that ends
the DATA section, an HTTP server on the last byte of the body. Each adapter writes the whole
request but that last piece, then calls ``handover()``, which records in the database that
this message is now with the provider (and refuses if the claim was lost to another worker),
and only then writes the last piece. So:

- stopped before ``handover()`` returned: the provider saw an unfinished request and dropped
  it (the connection closed with it), and the message is safely sent again;
- stopped after: the message counts as sent, and is never sent again.

What is left is the instant between the database's commit and one write of a few bytes.
Providers that take an idempotency key (WeChat's ``client_msg_id``, the webhook's
``webhook-id``) are given the message's key as well, so a resend could not double it either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Outcome(StrEnum):
    """What came of one attempt, whatever the provider's own code."""

    SENT = "sent"
    # Try again later: a network error, a server error, the provider busy.
    RETRY = "retry"
    # The provider throttles us (or this recipient): try again later, and no sooner than it says.
    RATE_LIMITED = "rate_limited"
    # Permanent: no such number, mailbox or openid, or the recipient refuses this sender.
    INVALID_RECIPIENT = "invalid_recipient"
    # Permanent: the template or signature is not approved, the content or a parameter refused.
    REJECTED = "rejected"
    # Permanent, with an alarm: credentials, permissions, an IP allow-list, an empty balance.
    ACCOUNT = "account"
    # The whole request reached the provider but no answer came back.
    UNCONFIRMED = "unconfirmed"


RETRYABLE = frozenset({Outcome.RETRY, Outcome.RATE_LIMITED})


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    code: str | None = None  # the provider's own code, e.g. "isv.MOBILE_NUMBER_ILLEGAL"
    detail: str | None = None  # the provider's words
    provider_message_id: str | None = None
    retry_after_s: float | None = None


@dataclass(frozen=True)
class EmailBody:
    subject: str
    text: str
    html: str | None = None


@dataclass(frozen=True)
class SmsBody:
    text: str  # the whole message as the customer reads it (without the provider's signature)
    # Provider templates by provider ("aliyun": "SMS_123456", "tencent": "1234567").
    templates: dict[str, str] = field(default_factory=dict)
    # The template's parameters by name, in the template's order (Tencent takes them by place).
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WechatBody:
    template_id: str
    data: dict[str, str]
    url: str | None = None  # official account: where the message leads
    page: str | None = None  # mini-program page (subscribe messages, or the message's link)


Body = EmailBody | SmsBody | WechatBody


@dataclass(frozen=True)
class Outgoing:
    """One message, rendered, on its way to one address."""

    message_id: int
    channel: str
    marketing: bool
    to: str  # an e-mail address, an E.164 phone number or an openid
    body: Body
    # Stable across retries: the provider's idempotency key where it takes one.
    key: str
    extra: dict[str, Any] = field(default_factory=dict)


class ClaimLost(Exception):
    """The hand-over was refused: another worker holds the message now. Nothing was sent."""


# Records the hand-over; False when the claim was lost (then the adapter sends nothing).
Handover = Callable[[], bool]


class Adapter(Protocol):
    """A way to deliver one channel's messages. One instance per thread: adapters keep a
    connection open between messages and are not shared."""

    provider: str
    channel: str
    # True when the provider drops a second request with the same ``Outgoing.key``.
    idempotent: bool

    def send(self, message: Outgoing, handover: Handover) -> SendResult: ...

    def close(self) -> None: ...


def take_over(handover: Handover) -> None:
    if not handover():
        raise ClaimLost()


def clip(text: str | None, length: int = 255) -> str | None:
    if text is None:
        return None
    return text if len(text) <= length else text[: length - 1] + "…"
