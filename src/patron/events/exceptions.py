"""The events domain's errors: each carries its code and facts (docs/architecture.md)."""

from __future__ import annotations

from patron.core.errors import InvalidInput, NotFound


class SubscriptionNotFound(NotFound):
    def __init__(self, subscription_id: int) -> None:
        super().__init__(
            f"no webhook subscription {subscription_id}",
            message_code="webhook_subscription_not_found",
            subscription_id=subscription_id,
        )


class DeliveryNotFound(NotFound):
    def __init__(self, delivery_id: int) -> None:
        super().__init__(
            f"no webhook delivery {delivery_id}",
            message_code="webhook_delivery_not_found",
            delivery_id=delivery_id,
        )


class EndpointRefused(InvalidInput):
    """An endpoint Patron will not call: not HTTPS, or a private address."""

    def __init__(self, reason: str, url: str) -> None:
        words = {
            "scheme": "must be an https:// address",
            "private": "names a private or local address, which webhooks may not call",
            "unreadable": "is not a web address",
        }[reason]
        super().__init__("url", words, message_code=f"webhook_url_{reason}", url=url)
