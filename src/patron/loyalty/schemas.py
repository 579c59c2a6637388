"""Loyalty schemas: balances, lots, ledger entries, coupons and the POS calls."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field, model_validator

from patron.core.errors import rule_error
from patron.core.schemas import FenAmount, RecordId, Schema, ShortCode, UtcInstant
from patron.loyalty.reward_schemas import AffordableReward, OfferLine
from patron.loyalty.rules import CouponKind, PromotionKind

Points = Annotated[int, Field(ge=0, le=10**12)]
Reason = Annotated[str, Field(min_length=1, max_length=255)]
CouponCode = Annotated[str, Field(min_length=1, max_length=32)]


class Balance(Schema):
    """Points by state at an instant; ``ledger_total`` is the sum of every entry."""

    available: int
    pending: int
    expired_unposted: int = Field(description="Past expiry; written off by the next expiry run")
    ledger_total: int


class LotRead(Schema):
    id: int
    kind: str
    order_id: int | None
    points: int
    remaining: int
    earned_at: datetime
    available_at: datetime
    expires_at: datetime


class EntryRead(Schema):
    id: int
    lot_id: int
    kind: str
    points: int
    order_id: int | None
    refund_id: int | None
    reason: str | None
    staff: str | None
    occurred_at: datetime


class Movement(Schema):
    """The result of one points operation: what moved, and the balance after."""

    points: int
    entries: list[EntryRead]
    balance: Balance


class AdjustmentIn(Schema):
    points: Annotated[int, Field(ge=-(10**9), le=10**9)]
    reason: Reason
    staff: Annotated[str, Field(min_length=1, max_length=120)]

    @model_validator(mode="after")
    def _not_zero(self) -> AdjustmentIn:
        if self.points == 0:
            raise rule_error("points_zero", "points", "must not be 0")
        return self


class TierRead(Schema):
    code: str
    name: str
    discount_bp: int
    points_multiplier_bp: int
    since_at: datetime
    downgrade_due_at: datetime | None
    spend_12m_fen: int
    points_earned_12m: int


# ------------------------------------------------------------------------------ coupons


class CouponScope(Schema):
    store_codes: list[ShortCode] = Field(default_factory=list)
    category_prefixes: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list
    )
    channels: list[ShortCode] = Field(default_factory=list)
    # the lines it applies to: these SKUs and the goods under category_prefixes (every
    # redeemable line when both are empty); its threshold counts those lines only
    skus: list[ShortCode] = Field(default_factory=list, max_length=500)


class CouponTemplateCreate(Schema):
    code: ShortCode
    name: Annotated[str, Field(min_length=1, max_length=120)]
    kind: CouponKind
    threshold_fen: FenAmount = 0
    amount_off_fen: FenAmount = 0
    percent_off: Decimal | None = Field(default=None, gt=0, le=100, description="e.g. 12.5")
    cap_fen: FenAmount | None = None
    gift_sku: ShortCode | None = None
    valid_from: UtcInstant | None = None
    valid_to: UtcInstant | None = None
    valid_days: Annotated[int, Field(ge=1, le=3660)] | None = None
    scope: CouponScope = Field(default_factory=CouponScope)
    per_customer_limit: Annotated[int, Field(ge=1)] | None = None
    stackable: bool = False

    @model_validator(mode="after")
    def _terms(self) -> CouponTemplateCreate:
        if self.kind == CouponKind.AMOUNT_OFF and self.amount_off_fen <= 0:
            raise rule_error("amount_off_missing", "amount_off_fen", "give the amount off")
        if self.kind == CouponKind.PERCENT_OFF:
            if self.percent_off is None:
                raise rule_error("percent_off_missing", "percent_off", "give the percentage off")
            if (self.percent_off * 100) % 1:
                raise rule_error("decimals_2", "percent_off", "at most 2 decimals")
        if self.kind == CouponKind.GIFT_ITEM and not self.gift_sku:
            raise rule_error("gift_sku_missing", "gift_sku", "give the gift's SKU")
        if (self.valid_to is None) == (self.valid_days is None):
            raise rule_error(
                "validity_missing",
                "valid_days",
                "give either valid_to (fixed) or valid_days (relative)",
            )
        if self.valid_from and self.valid_to and self.valid_to <= self.valid_from:
            raise rule_error("valid_to_before_from", "valid_to", "must be after valid_from")
        return self

    @property
    def percent_off_bp(self) -> int:
        return int(self.percent_off * 100) if self.percent_off is not None else 0


class CouponTemplateRead(Schema):
    id: int
    code: str
    name: str
    kind: str
    threshold_fen: int
    amount_off_fen: int
    percent_off_bp: int
    cap_fen: int | None
    gift_sku: str | None
    valid_from: datetime | None
    valid_to: datetime | None
    valid_days: int | None
    scope: CouponScope
    per_customer_limit: int | None
    stackable: bool


class CouponIssue(Schema):
    template_code: ShortCode
    customer_id: RecordId


class BulkIssueIn(Schema):
    """Who gets a coupon: the members of a value segment or a lifecycle stage as of the latest
    analytics run, or a list of customer ids. Exactly one."""

    template_code: ShortCode
    segment: Annotated[str, Field(max_length=32)] | None = None
    stage: Annotated[str, Field(max_length=16)] | None = None
    customer_ids: list[RecordId] | None = Field(default=None, max_length=100_000)

    @model_validator(mode="after")
    def _one_audience(self) -> BulkIssueIn:
        given = [x for x in (self.segment, self.stage, self.customer_ids) if x is not None]
        if len(given) != 1:
            raise ValueError("segment: give exactly one of segment, stage or customer_ids")
        return self


class BulkIssueRead(Schema):
    template_code: str
    audience: str
    asked: int = Field(description="Members in the audience")
    issued: int
    skipped_at_limit: int = Field(description="Already held as many as the template allows")
    not_found: int = Field(description="Merged away, outside your stores, or unknown")


class CouponRead(Schema):
    id: int
    code: str
    template_code: str
    name: str
    kind: str
    customer_id: int
    status: str
    valid_from: datetime
    expires_at: datetime
    order_id: int | None


# ------------------------------------------------------------------------------ the POS


class MemberRef(Schema):
    """Who is at the till: a customer id, a phone or a member card."""

    customer_id: RecordId | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    member_card: Annotated[str, Field(max_length=128)] | None = None

    @model_validator(mode="after")
    def _one(self) -> MemberRef:
        if not (self.customer_id or self.phone or self.member_card):
            raise ValueError("customer_id: give customer_id, phone or member_card")
        return self


class LookupRead(Schema):
    customer_id: int
    tier: TierRead
    balance: Balance
    coupons: list[CouponRead]


class QuoteLineIn(Schema):
    sku: ShortCode
    quantity: Decimal = Field(gt=0, le=10**6, description="Up to 3 decimals")
    unit_price_fen: FenAmount
    discount_fen: FenAmount = 0

    @model_validator(mode="after")
    def _amount(self) -> QuoteLineIn:
        if (self.quantity * 1000) % 1:
            raise ValueError("quantity: at most 3 decimals")
        if self.discount_fen > self.gross_fen:
            raise ValueError("discount_fen: is larger than quantity × unit_price_fen")
        return self

    @property
    def gross_fen(self) -> int:
        from patron.core.money import line_amount_fen

        return line_amount_fen(int(self.quantity * 1000), self.unit_price_fen)


class QuoteIn(Schema):
    member: MemberRef
    store_code: ShortCode | None = None
    channel: ShortCode = "pos"
    at: UtcInstant | None = None
    lines: list[QuoteLineIn] = Field(min_length=1, max_length=500)
    delivery_fee_fen: FenAmount = 0
    coupon_codes: list[CouponCode] | None = Field(
        default=None, description="Coupons the customer chose; the best combination if left out"
    )
    redeem_points: Points = 0


class CouponQuote(Schema):
    code: str
    name: str
    kind: str
    applicable: bool
    discount_fen: int
    gift_sku: str | None
    reason: str | None


class QuoteRead(Schema):
    customer_id: int
    tier_code: str
    subtotal_fen: int
    tier_discount_fen: int
    coupons: list[CouponQuote]
    best_coupon_codes: list[str]
    chosen_coupon_codes: list[str]
    coupon_discount_fen: int
    delivery_waived_fen: int
    available_points: int
    max_points_usable: int
    redeem_points: int
    points_value_fen: int
    payable_fen: int
    points_to_earn: int
    member_day: bool
    promotions: list[PromotionQuote] = Field(default_factory=list)
    offer_lines: list[OfferLine] = Field(
        default_factory=list, description="Lines a member offer priced (print on the receipt)"
    )
    offer_discount_fen: int = Field(default=0, description="What the member offers took off")
    affordable_rewards: list[AffordableReward] = Field(
        default_factory=list, description="Gifts the member's points pay for now"
    )


class CommitIn(Schema):
    """Loyalty for an order already posted to /api/v1/orders (with loyalty discounts in it)."""

    source: ShortCode
    external_id: Annotated[str, Field(min_length=1, max_length=128)]
    redeem_points: Points = 0
    coupon_codes: list[CouponCode] = Field(default_factory=list, max_length=20)
    offer_codes: list[ShortCode] = Field(
        default_factory=list,
        max_length=20,
        description="Member offers the till applied (the quote's offer_lines): their quota is taken",
    )


class CommitRead(Schema):
    created: bool
    order_id: int
    customer_id: int
    points_earned: int
    points_spent: int
    points_value_fen: int
    coupon_codes: list[str]
    coupon_discount_fen: int
    available_at: datetime | None
    tier_code: str
    balance: Balance
    gifts: list[GiftRead] = Field(default_factory=list)


class LoyaltyRefundIn(Schema):
    source: ShortCode
    external_id: Annotated[str, Field(min_length=1, max_length=128)]


class LoyaltyRefundRead(Schema):
    created: bool
    refund_id: int
    order_id: int
    points_taken_back: int
    points_short: int
    points_returned: int
    coupons_restored: int
    balance: Balance


# ------------------------------------------------------------------------------ referrals


class ReferralCodeRead(Schema):
    customer_id: int
    code: str


class ReferralIn(Schema):
    """A new member names the code of the member who brought them."""

    customer_id: RecordId
    code: Annotated[str, Field(min_length=4, max_length=16)]


class ReferralRead(Schema):
    id: int
    referrer_id: int
    referee_id: int
    code: str
    status: str
    order_id: int | None
    referrer_points: int
    referee_points: int
    created_at: datetime
    rewarded_at: datetime | None
    reversed_at: datetime | None


# ------------------------------------------------------------------------------- lotteries


class PrizeIn(Schema):
    code: ShortCode
    name: Annotated[str, Field(min_length=1, max_length=120)]
    kind: Annotated[str, Field(pattern="^(points|coupon|gift)$")]
    points: Points = 0
    coupon_template_code: ShortCode | None = None
    gift_sku: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    chance_ppm: Annotated[
        int, Field(ge=1, le=1_000_000, description="Chance per draw, in millionths")
    ]
    stock: Annotated[int, Field(ge=0, le=10**9)] | None = None

    @model_validator(mode="after")
    def _prize_has_its_content(self) -> PrizeIn:
        if self.kind == "points" and self.points <= 0:
            raise rule_error("prize_points_missing", "points", "a points prize needs points > 0")
        if self.kind == "coupon" and not self.coupon_template_code:
            raise rule_error(
                "prize_template_missing",
                "coupon_template_code",
                "a coupon prize needs a coupon template",
            )
        if self.kind == "gift" and not self.gift_sku:
            raise rule_error(
                "prize_gift_sku_missing", "gift_sku", "a gift prize needs the gift's SKU"
            )
        return self


class LotteryCreate(Schema):
    code: ShortCode
    name: Annotated[str, Field(min_length=1, max_length=120)]
    starts_at: UtcInstant
    ends_at: UtcInstant
    cost_points: Points = 0
    daily_draws_per_customer: Annotated[int, Field(ge=1, le=1000)] | None = None
    prizes: Annotated[list[PrizeIn], Field(min_length=1, max_length=50)]

    @model_validator(mode="after")
    def _consistent(self) -> LotteryCreate:
        if self.ends_at <= self.starts_at:
            raise rule_error("ends_before_starts", "ends_at", "must be after starts_at")
        codes = [p.code for p in self.prizes]
        if len(set(codes)) != len(codes):
            raise rule_error("prize_codes_repeated", "prizes", "prize codes must be unique")
        if sum(p.chance_ppm for p in self.prizes) > 1_000_000:
            raise rule_error(
                "prize_chances_over",
                "prizes",
                "the chances add up to more than 1,000,000 ppm (100%)",
            )
        return self


class PrizeRead(Schema):
    code: str
    name: str
    kind: str
    points: int
    coupon_template_code: str | None
    gift_sku: str | None
    chance_ppm: int
    stock: int | None
    awarded: int


class LotteryRead(Schema):
    code: str
    name: str
    starts_at: datetime
    ends_at: datetime
    cost_points: int
    daily_draws_per_customer: int | None
    seed_sha256: str
    seed: str | None = Field(description="Revealed once the lottery has ended, to check draws")
    draws: int
    prizes: list[PrizeRead]


class DrawIn(Schema):
    customer_id: RecordId
    idempotency_key: Annotated[str, Field(min_length=1, max_length=64)]


class DrawRead(Schema):
    created: bool
    lottery_code: str
    draw_no: int
    customer_id: int
    roll: int
    prize_code: str | None
    prize_name: str | None
    awarded: bool
    points_spent: int
    points_won: int
    coupon_code: str | None
    gift_sku: str | None
    drawn_at: datetime


class DrawCheck(Schema):
    lottery_code: str
    draws_checked: int
    mismatches: list[int] = Field(description="Draw numbers whose recorded outcome differs")


# --------------------------------------------------------------------------------- reports


class LiabilityReport(Schema):
    as_of: datetime
    members: int
    points_available: int
    points_pending: int
    liability_fen: int = Field(description="Available and pending points at their redemption value")
    expiring_30d_points: int
    breakage_rate: float = Field(
        description="Share of points earned in the last 12 months that expired"
    )
    expected_breakage_points: int
    expected_breakage_fen: int


class TierCount(Schema):
    tier_code: str
    tier_name: str
    members: int


class CouponTemplateStats(Schema):
    template_code: str
    name: str
    issued: int
    redeemed: int
    expired_unused: int
    redemption_rate: float


class LoyaltyReport(Schema):
    liability: LiabilityReport
    tiers: list[TierCount]
    coupons: list[CouponTemplateStats]


# ------------------------------------------------------------------------------ promotions


class PromotionCreate(Schema):
    code: ShortCode
    name: Annotated[str, Field(min_length=1, max_length=120)]
    kind: PromotionKind
    starts_at: UtcInstant
    ends_at: UtcInstant
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default_factory=list, max_length=7, description="Monday = 0; empty: every day"
    )
    store_codes: list[ShortCode] = Field(default_factory=list, max_length=500)
    channels: list[Annotated[str, Field(max_length=20)]] = Field(
        default_factory=list, max_length=10
    )
    categories: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(
        default_factory=list, max_length=200
    )
    skus: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=1000
    )
    multiplier_bp: Annotated[int, Field(ge=10_000, le=1_000_000)] = 10_000
    threshold_fen: FenAmount = 0
    gift_sku: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    gift_name: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    stock: Annotated[int, Field(ge=0, le=10**9)] | None = None
    per_customer_limit: Annotated[int, Field(ge=1, le=10**6)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PromotionCreate:
        if self.ends_at <= self.starts_at:
            raise rule_error("ends_before_starts", "ends_at", "must be after starts_at")
        if self.kind == PromotionKind.BONUS_POINTS and self.multiplier_bp <= 10_000:
            raise rule_error(
                "bonus_multiplier_too_small",
                "multiplier_bp",
                "a bonus-points offer multiplies by more than ×1",
            )
        if self.kind == PromotionKind.THRESHOLD_GIFT:
            if self.threshold_fen <= 0:
                raise rule_error(
                    "gift_threshold_missing",
                    "threshold_fen",
                    "a gift needs a spend threshold above 0",
                )
            if not self.gift_sku:
                raise rule_error(
                    "gift_promotion_sku_missing",
                    "gift_sku",
                    "a gift promotion names the gift's SKU",
                )
        return self


class PromotionRead(Schema):
    code: str
    name: str
    kind: str
    starts_at: datetime
    ends_at: datetime
    weekdays: list[int]
    store_codes: list[str]
    channels: list[str]
    categories: list[str]
    skus: list[str]
    multiplier_bp: int
    threshold_fen: int
    gift_sku: str | None
    gift_name: str | None
    stock: int | None
    awarded: int
    per_customer_limit: int | None
    active: bool


class PromotionQuote(Schema):
    """A promotion running for this basket: a bonus, or a gift and how close the basket is."""

    code: str
    name: str
    kind: str
    multiplier_bp: int | None = None
    gift_sku: str | None = None
    gift_name: str | None = None
    spend_fen: int | None = None
    threshold_fen: int | None = None
    short_fen: int | None = Field(default=None, description="Spend this much more for the gift")
    qualifies: bool
    reason: str | None = None


class GiftRead(Schema):
    promotion_code: str
    gift_sku: str | None
    gift_name: str | None


class BirthdayGifts(Schema):
    day: date
    birthdays: int = Field(description="Members whose birthday it is")
    given: int = Field(description="Gifts given now (none twice in a year)")
    made_up: int = Field(
        default=0,
        description="Of those given, gifts for a birthday in the last days that no run gave "
        "(the server was off that night)",
    )
    points: int
