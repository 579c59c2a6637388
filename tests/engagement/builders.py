"""Outbox data for the dispatcher's tests, written through the engagement services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from patron.core.db import Database
from patron.engagement import service as outbox
from patron.engagement.schemas import (
    EmailContentIn,
    EnqueueResult,
    MessagesIn,
    SmsContentIn,
    WechatContentIn,
)
from tests.consent.helpers import grant_marketing

# A Tuesday, 10:00 in Shanghai: no quiet hours.
MORNING = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)

CONTENT: dict[str, Any] = {
    "email": EmailContentIn(
        subject="{{ customer.name }}，会员日全场 8 折",
        text="{{ customer.name }}您好！凭券 {{ coupon_code }} 到{{ store.name }}全场 8 折。",
        html="<p>{{ customer.name }}您好！凭券 <b>{{ coupon_code }}</b> 全场 8 折。</p>",
    ),
    "sms": SmsContentIn(
        text="{{ customer.name }}您好，凭券{{ coupon_code }}全场8折，回复TD退订",
        templates={"aliyun": "SMS_465970123", "tencent": "2049123", "webhook": "member-day"},
        params={"name": "{{ customer.name }}", "code": "{{ coupon_code }}"},
    ),
    "wechat": WechatContentIn(
        template_id="TPL-member-day",
        data={"thing1": "{{ customer.name }}", "thing2": "{{ coupon_code }}"},
    ),
}


def enqueue(
    db: Database,
    customer_ids: Sequence[int],
    *,
    channel: str = "email",
    purpose: str = "marketing",
    source: tuple[str, str] = ("campaign", "1"),
    send_at: datetime = MORNING,
    not_after: datetime | None = None,
    priority: int = 0,
    content: Any = None,
    coupon: str | None = "SH-8F3K",
) -> EnqueueResult:
    def work(session: Any) -> EnqueueResult:
        content_id = outbox.create_content(session=session, content_in=content or CONTENT[channel])
        return outbox.enqueue_messages(
            session=session,
            messages_in=MessagesIn(
                source_kind=source[0],
                source_id=source[1],
                channel=channel,  # type: ignore[arg-type]
                purpose=purpose,  # type: ignore[arg-type]
                content_id=content_id,
                recipients=[
                    {"customer_id": cid, "variables": {"coupon_code": coupon} if coupon else None}  # type: ignore[misc]
                    for cid in customer_ids
                ],
                send_at=send_at,
                not_after=not_after,
                priority=priority,
            ),
        )

    if purpose == "marketing":  # marketing needs the customers' consent (patron.consent)
        grant_marketing(db, customer_ids, channel)
    return db.write(work)


def message_of(
    db: Database,
    customer_id: int,
    *,
    source: tuple[str, str] = ("campaign", "1"),
    channel: str = "email",
) -> Any:
    def work(session: Any) -> Any:
        message_id = outbox.find_message_id(
            session=session,
            source_kind=source[0],
            source_id=source[1],
            customer_id=customer_id,
            channel=channel,
        )
        assert message_id is not None
        return outbox.get_message(session=session, message_id=message_id)

    return db.read(work)
