"""Telling a customer about their ticket or inviting them to a survey: one transactional
message through the engagement outbox, on the channel the customer can be reached on
(WeChat needs an approved template per message kind, so SMS, else e-mail, is used here).
Nothing is sent to a customer without a phone or an e-mail address."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from patron.customers import service as customers
from patron.engagement import service as engagement
from patron.engagement.schemas import (
    EmailContentIn,
    MessagesIn,
    Recipient,
    SmsContentIn,
)


def reachable_channel(session: Session, customer_id: int) -> str | None:
    customer = customers.get_customer(session=session, customer_id=customer_id)
    if customer is None:
        return None
    kinds = {str(i.kind) for i in customer.identities}
    if "phone" in kinds:
        return "sms"
    if "email" in kinds:
        return "email"
    return None


def tell_customer(
    *,
    session: Session,
    customer_id: int,
    source_kind: str,
    source_id: str,
    text: str,
    subject: str = "售后服务通知",
    variables: dict[str, str | int] | None = None,
) -> str | None:
    """Enqueue ``text`` (placeholders like ``{{ survey_url }}`` filled from ``variables``)
    for the customer; returns the channel used, or None when there is none. The same
    source and customer again enqueues nothing (the outbox's key)."""
    channel = reachable_channel(session, customer_id)
    if channel is None:
        return None
    content = (
        SmsContentIn(text=text[:500])
        if channel == "sms"
        else EmailContentIn(subject=subject, text=text)
    )
    content_id = engagement.create_content(session=session, content_in=content)
    engagement.enqueue_messages(
        session=session,
        messages_in=MessagesIn.model_validate(
            {
                "source_kind": source_kind,
                "source_id": source_id,
                "channel": channel,
                "purpose": "transactional",
                "content_id": content_id,
                "recipients": [Recipient(customer_id=customer_id, variables=variables)],
            }
        ),
    )
    return channel


def withdraw(
    *, session: Session, source_kind: str, source_id: str, reason: str, now: datetime
) -> int:
    """Not send what is still waiting in the outbox for this source: skipped with ``reason``
    (``survey_answered``: the link was used before the invitation went out)."""
    return engagement.skip_unsent(
        session=session, source_kind=source_kind, source_id=source_id, reason=reason, now=now
    )
