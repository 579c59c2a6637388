"""Events in (a batch of behaviour events, each type's properties checked) and out (the
frozen records readers get, the console's rows), and webhook subscriptions.

A behaviour event's properties are codes, amounts and page addresses, never personal data:
unknown properties are refused (docs/events.md lists each type's)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from patron.core.schemas import FenAmount, RecordId, Schema, ShortCode, UtcInstant

MAX_BATCH = 1000

EventId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")]
Sku = Annotated[str, Field(min_length=1, max_length=64)]
Url = Annotated[str, Field(max_length=1000)]
Quantity = Annotated[int, Field(ge=1, le=100_000)]


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event of the stream as readers get it (``patron.events.read_after``)."""

    id: int
    event_id: str
    type: str
    customer_id: int | None
    store_id: int | None
    occurred_at: datetime
    properties: dict[str, Any]


# ------------------------------------------------------------------------------ properties


class PageViewProperties(Schema):
    url: Url
    title: Annotated[str, Field(max_length=200)] | None = None
    referrer: Url | None = None


class ProductViewProperties(Schema):
    sku: Sku
    price_fen: FenAmount | None = None
    category: Annotated[str, Field(max_length=64)] | None = None


class SearchProperties(Schema):
    query: Annotated[str, Field(min_length=1, max_length=200)]
    results: Annotated[int, Field(ge=0)] | None = None


class CartProperties(Schema):
    sku: Sku
    quantity: Quantity = 1
    price_fen: FenAmount | None = None
    cart_id: Annotated[str, Field(max_length=64)] | None = None


class CartLine(Schema):
    sku: Sku
    quantity: Quantity = 1
    price_fen: FenAmount | None = None


class CheckoutProperties(Schema):
    cart_id: Annotated[str, Field(max_length=64)] | None = None
    total_fen: FenAmount | None = None
    lines: Annotated[list[CartLine], Field(max_length=200)] = Field(default_factory=list)


class CouponViewProperties(Schema):
    template_code: ShortCode
    coupon_code: Annotated[str, Field(max_length=64)] | None = None


class IdentifyProperties(Schema):
    """Sent when a visitor signs in: stitches their device or openid to the customer."""


class CustomerIdentifiersIn(Schema):
    """Who the visitor is, once they sign in: a Patron customer id or identifiers, resolved as
    an order's customer is (customers' identity rules)."""

    id: RecordId | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    email: Annotated[str, Field(max_length=254)] | None = None
    member_card: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    wechat_openid: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    wechat_appid: Annotated[str, Field(max_length=64)] = ""
    wechat_unionid: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    external_account: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    external_system: Annotated[str, Field(max_length=64)] = ""


class _EventBase(Schema):
    event_id: EventId
    occurred_at: UtcInstant
    # A device id (web) or openid (mini-program) while the visitor is anonymous.
    anonymous_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    customer: CustomerIdentifiersIn | None = None
    store_code: ShortCode | None = None


class PageView(_EventBase):
    type: Literal["page_view"]
    properties: PageViewProperties


class ProductView(_EventBase):
    type: Literal["product_view"]
    properties: ProductViewProperties


class Search(_EventBase):
    type: Literal["search"]
    properties: SearchProperties


class CartAdd(_EventBase):
    type: Literal["cart_add"]
    properties: CartProperties


class CartRemove(_EventBase):
    type: Literal["cart_remove"]
    properties: CartProperties


class CheckoutStarted(_EventBase):
    type: Literal["checkout_started"]
    properties: CheckoutProperties


class CouponViewed(_EventBase):
    type: Literal["coupon_viewed"]
    properties: CouponViewProperties


class Identify(_EventBase):
    type: Literal["identify"]
    properties: IdentifyProperties = Field(default_factory=IdentifyProperties)


BehaviourEventIn = Annotated[
    PageView
    | ProductView
    | Search
    | CartAdd
    | CartRemove
    | CheckoutStarted
    | CouponViewed
    | Identify,
    Field(discriminator="type"),
]

BEHAVIOUR_TYPES: tuple[str, ...] = (
    "page_view",
    "product_view",
    "search",
    "cart_add",
    "cart_remove",
    "checkout_started",
    "coupon_viewed",
    "identify",
)

# What the services publish (events/service.publish) and webhooks may subscribe to.
DOMAIN_TYPES: tuple[str, ...] = (
    "order.created",
    "refund.created",
    "customer.created",
    "customer.merged",
    "tier.changed",
    "points.expiring",
    "customer.churn_risk_high",
)


class EventBatchIn(Schema):
    events: Annotated[list[BehaviourEventIn], Field(min_length=1, max_length=MAX_BATCH)]


class EventBatchResult(Schema):
    accepted: int
    duplicates: int
    stitched: int = Field(description="earlier anonymous events now carrying their customer")


class EventRead(Schema):
    id: int
    event_id: str
    type: str
    kind: str
    customer_id: int | None
    store_id: int | None
    occurred_at: datetime
    received_at: datetime
    properties: dict[str, Any]


# ------------------------------------------------------------------------------ webhooks


class SubscriptionIn(Schema):
    name: Annotated[str, Field(min_length=1, max_length=120)]
    url: Annotated[str, Field(min_length=8, max_length=500)]
    event_types: Annotated[list[str], Field(min_length=1, max_length=50)]

    @field_validator("event_types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        unknown = [t for t in value if t not in DOMAIN_TYPES and not t.startswith("journey.")]
        if unknown:
            raise ValueError(f"unknown event types {unknown}; choose from {list(DOMAIN_TYPES)}")
        return sorted(set(value))


class SubscriptionRead(Schema):
    id: int
    name: str
    url: str
    event_types: list[str]
    status: str
    created_by: str
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(Schema):
    """A new subscription, or a rotated secret: the secret is shown this once."""

    subscription: SubscriptionRead
    secret: str


class DeliveryRead(Schema):
    id: int
    subscription_id: int
    event_row_id: int
    event_type: str
    customer_id: int | None
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    finished_at: datetime | None
    last_status_code: int | None
    last_error: str | None


class AttemptRead(Schema):
    number: int
    started_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None
