"""Schemas of the member rewards: the points-for-gifts catalogue (积分换礼), limited-time
member offers (限时优惠), early access (优先购买权) and birthday coupons by tier. Apart from
``schemas`` only because that module is full; the same conventions hold."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from patron.core.errors import rule_error
from patron.core.schemas import FenAmount, RecordId, Schema, ShortCode, UtcInstant

Codes = list[Annotated[str, Field(min_length=1, max_length=64)]]
Categories = list[Annotated[str, Field(min_length=1, max_length=255)]]


class RewardKind(StrEnum):
    PRODUCT = "product"
    COUPON = "coupon"
    SERVICE = "service"


class Fulfilment(StrEnum):
    PICKUP = "pickup"
    DELIVERY = "delivery"


class LimitPeriod(StrEnum):
    DAY = "day"
    MONTH = "month"
    YEAR = "year"
    EVER = "ever"


class StoreStockIn(Schema):
    store_code: ShortCode
    stock: Annotated[int, Field(ge=0, le=10**9)]


class RewardCreate(Schema):
    code: ShortCode
    name: Annotated[str, Field(min_length=1, max_length=120)]
    kind: RewardKind
    points: Annotated[int, Field(ge=1, le=10**9)]
    cash_fen: FenAmount = 0
    sku: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    coupon_template_code: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    tiers: Codes = Field(default_factory=list, max_length=20, description="Empty: every tier")
    fulfilment: list[Fulfilment] = Field(default_factory=lambda: [Fulfilment.PICKUP], min_length=1)
    per_member_limit: Annotated[int, Field(ge=1, le=10**6)] | None = None
    limit_period: LimitPeriod = LimitPeriod.EVER
    starts_at: UtcInstant
    ends_at: UtcInstant | None = None
    image_url: Annotated[str, Field(max_length=500, pattern=r"^(https?://|/)\S+$")] | None = None
    stock: Annotated[int, Field(ge=0, le=10**9)] | None = Field(
        default=None, description="Chain-wide stock; leave out for unlimited or per store"
    )
    store_stock: list[StoreStockIn] = Field(default_factory=list, max_length=2000)

    @model_validator(mode="after")
    def _consistent(self) -> RewardCreate:
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise rule_error("ends_before_starts", "ends_at", "must be after starts_at")
        if self.kind == RewardKind.COUPON and not self.coupon_template_code:
            raise rule_error(
                "reward_template_missing",
                "coupon_template_code",
                "a coupon reward names a template",
            )
        if self.kind == RewardKind.PRODUCT and not self.sku:
            raise rule_error("reward_sku_missing", "sku", "a product reward names its SKU")
        if self.stock is not None and self.store_stock:
            raise rule_error(
                "reward_stock_twice", "stock", "stock is chain-wide or per store, not both"
            )
        return self


class StoreStockRead(Schema):
    store_code: str
    stock: int
    taken: int


class RewardRead(Schema):
    code: str
    name: str
    kind: str
    points: int
    cash_fen: int
    sku: str | None
    coupon_template_code: str | None
    tiers: list[str]
    fulfilment: list[str]
    per_member_limit: int | None
    limit_period: str
    starts_at: datetime
    ends_at: datetime | None
    image_url: str | None
    stock: int | None
    taken: int
    store_stock: list[StoreStockRead] = Field(default_factory=list)
    active: bool


class RedeemIn(Schema):
    """A member takes a gift for points (the mini-program, a till or the console)."""

    customer_id: RecordId
    reward_code: ShortCode
    idempotency_key: Annotated[str, Field(min_length=8, max_length=64)]
    store_code: ShortCode | None = Field(default=None, description="Where it is picked up")
    fulfilment: Fulfilment = Fulfilment.PICKUP
    channel: Annotated[str, Field(pattern=r"^(till|online|console)$")] = "online"


class RedemptionRead(Schema):
    id: int
    created: bool = True
    reward_code: str
    reward_name: str
    customer_id: int
    store_code: str | None
    channel: str
    fulfilment: str
    points: int
    cash_fen: int
    coupon_code: str | None
    status: str
    redeemed_at: datetime
    cancelled_at: datetime | None


class AffordableReward(Schema):
    """A gift the member at the till can take now with their points."""

    code: str
    name: str
    points: int
    cash_fen: int


class RewardFigures(Schema):
    reward_code: str
    reward_name: str
    store_code: str | None
    redemptions: int
    points: int


class RewardReport(Schema):
    start: datetime
    end: datetime
    redemptions: int
    cancelled: int
    points_burned: int
    liability_released_fen: int = Field(description="What the points burned were worth")
    cash_fen: int
    popular: list[RewardFigures]


# ------------------------------------------------------------------ member offers


class OfferCreate(Schema):
    code: ShortCode
    name: Annotated[str, Field(min_length=1, max_length=120)]
    price_fen: FenAmount | None = Field(default=None, description="A unit's member price")
    percent_off_bp: Annotated[int, Field(ge=0, lt=10_000)] = 0
    skus: Codes = Field(default_factory=list, max_length=1000)
    categories: Categories = Field(default_factory=list, max_length=200)
    tiers: Codes = Field(default_factory=list, max_length=20, description="Empty: every tier")
    store_codes: Codes = Field(default_factory=list, max_length=500)
    starts_at: UtcInstant
    ends_at: UtcInstant
    quota_units: Annotated[int, Field(ge=1, le=10**9)] | None = None
    quota_members: Annotated[int, Field(ge=1, le=10**9)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> OfferCreate:
        if self.ends_at <= self.starts_at:
            raise rule_error("ends_before_starts", "ends_at", "must be after starts_at")
        if (self.price_fen is None) == (self.percent_off_bp == 0):
            raise rule_error(
                "offer_price_or_percent", "price_fen", "give a member price or a percentage off"
            )
        if not self.skus and not self.categories:
            raise rule_error("offer_goods_missing", "skus", "an offer names SKUs or categories")
        return self


class OfferRead(Schema):
    code: str
    name: str
    price_fen: int | None
    percent_off_bp: int
    skus: list[str]
    categories: list[str]
    tiers: list[str]
    store_codes: list[str]
    starts_at: datetime
    ends_at: datetime
    quota_units: int | None
    quota_members: int | None
    units_taken: int
    members_taken: int
    active: bool


class OfferLine(Schema):
    """A receipt line the quote priced with a member offer."""

    line_no: int = Field(description="The line's place in the quote, from 0")
    sku: str
    offer_code: str
    offer_name: str
    discount_fen: int


# ------------------------------------------------------------------ early access


class EarlyAccessCreate(Schema):
    target_kind: Annotated[str, Field(pattern=r"^(sku|category|offer)$")]
    target: Annotated[str, Field(min_length=1, max_length=255)]
    opens_at: UtcInstant
    tier_days: dict[
        Annotated[str, Field(min_length=1, max_length=32)], Annotated[int, Field(ge=0, le=365)]
    ] = Field(default_factory=lambda: {"gold": 0}, description="Tier → days after opening")
    everyone_day: Annotated[int, Field(ge=0, le=365)] = 3


class EarlyAccessRead(Schema):
    target_kind: str
    target: str
    opens_at: datetime
    tier_days: dict[str, int]
    everyone_day: int


class AccessAnswer(Schema):
    """May this member buy this now? If not, from when."""

    customer_id: int
    tier_code: str
    target_kind: str
    target: str
    allowed: bool
    from_at: datetime | None = Field(description="When this member may buy it")
    reason: str | None = None


# ------------------------------------------------------------------ birthday coupons


class BirthdayCouponIn(Schema):
    tier_code: ShortCode
    template_code: ShortCode
    valid_days: Annotated[int, Field(ge=1, le=90)] = 7


class BirthdayCouponRead(Schema):
    tier_code: str
    template_code: str
    valid_days: int


class BirthdayCoupons(Schema):
    day: date
    issued: int
