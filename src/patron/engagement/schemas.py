"""Engagement schemas: message content, the messages a campaign or a journey enqueues, and
what the outbox reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from patron.core.schemas import RecordId, Schema, UtcInstant
from patron.engagement.models import Channel, MessageStatus, Purpose

# A placeholder value: plain text or a number (a coupon code, points). Never personal data:
# the customer's name and store are filled in from the profile when the message is sent.
Value = str | int
Placeholder = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
]


class EmailContentIn(Schema):
    """An e-mail. ``subject``, ``text`` and ``html`` may hold placeholders
    (``{{ customer.name }}``, ``{{ coupon_code }}``); HTML values are escaped."""

    channel: Literal["email"] = "email"
    subject: Annotated[str, Field(min_length=1, max_length=200)]
    text: Annotated[str, Field(min_length=1, max_length=100_000)]
    html: Annotated[str, Field(min_length=1, max_length=500_000)] | None = None


class SmsContentIn(Schema):
    """An SMS: its whole text, and the provider templates that say the same (Chinese
    providers send only approved templates) with their parameters in template order."""

    channel: Literal["sms"] = "sms"
    text: Annotated[str, Field(min_length=1, max_length=500)]
    templates: dict[Annotated[str, Field(max_length=32)], Annotated[str, Field(max_length=64)]] = (
        Field(default_factory=dict, examples=[{"aliyun": "SMS_123456789", "tencent": "1234567"}])
    )
    params: dict[Placeholder, Annotated[str, Field(max_length=200)]] = Field(default_factory=dict)


class WechatContentIn(Schema):
    channel: Literal["wechat"] = "wechat"
    template_id: Annotated[str, Field(min_length=1, max_length=128)]
    data: dict[Placeholder, Annotated[str, Field(max_length=200)]]
    url: Annotated[str, Field(max_length=500)] | None = None
    page: Annotated[str, Field(max_length=500)] | None = None


ContentIn = Annotated[
    EmailContentIn | SmsContentIn | WechatContentIn, Field(discriminator="channel")
]


class Recipient(Schema):
    customer_id: RecordId
    variables: dict[Placeholder, Value] | None = None


class MessagesIn(Schema):
    """Messages of one source (a campaign run, a journey step, an order's receipt) on one
    channel, with one content, to many customers. ``source_kind``, ``source_id``, customer and
    channel identify a message: enqueueing the same again adds nothing."""

    source_kind: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]
    source_id: Annotated[str, Field(min_length=1, max_length=64)]
    channel: Channel
    purpose: Purpose
    content_id: RecordId
    recipients: list[Recipient]
    priority: Annotated[int, Field(ge=-100, le=100)] = 0
    send_at: UtcInstant | None = None  # now when left out
    # The maximum lateness: unsent by then, a message is skipped (default: ``send_at`` plus
    # PATRON_MESSAGE_MAX_LATENESS_HOURS).
    not_after: UtcInstant | None = None


class EnqueueResult(Schema):
    created: int
    already_queued: int  # the same source, customer and channel was enqueued before
    left_out: list[int]  # customers merged away or unknown: nothing enqueued for them


class AttemptRead(Schema):
    number: int
    provider: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    code: str | None
    detail: str | None
    provider_message_id: str | None


class OutboxMessageRead(Schema):
    id: int
    source_kind: str
    source_id: str
    customer_id: int
    channel: Channel
    purpose: Purpose
    status: MessageStatus
    reason: str | None
    detail: str | None
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    not_after: datetime | None
    sent_at: datetime | None
    finished_at: datetime | None
    provider: str | None
    provider_message_id: str | None
    history: list[AttemptRead] = Field(default_factory=list)


class DispatchReport(Schema):
    """What one pass of the dispatcher did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    deferred: int = 0
    lost: int = 0  # claims another worker took over before the hand-over

    def add(self, other: DispatchReport) -> None:
        for name in type(self).model_fields:
            setattr(self, name, getattr(self, name) + getattr(other, name))
