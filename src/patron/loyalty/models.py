"""Loyalty tables: accounts, points lots and their append-only ledger, coupons.

A customer's points live in lots (one per earn or positive adjustment). Every movement is a
``points_entry`` against one lot; a lot's remaining points and the balance are sums of entries.
Entries are never updated or deleted. What is updated: the account's tier, a coupon's status
(the coupon keeps its own append-only history in ``coupon_event``), a lot's ``settled_at``
mark for the expiry run, and the account a lot or entry belongs to when two customers merge.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.clock import utcnow
from patron.core.models import Base, BigId, IdPk, UTCDateTime


class EntryKind(StrEnum):
    EARN = "earn"
    REDEEM = "redeem"
    EXPIRE = "expire"
    ADJUST = "adjust"
    REVERSE_EARN = "reverse_earn"  # a refund takes back what its order earned
    RETURN_REDEEMED = "return_redeemed"  # a refund gives back what its order spent
    REFERRAL = "referral"  # a referral reward, to either side
    PRIZE = "prize"  # points won in a lottery draw
    BIRTHDAY = "birthday"  # the tier's birthday gift


class LotKind(StrEnum):
    EARN = "earn"
    ADJUST = "adjust"
    REFERRAL = "referral"
    PRIZE = "prize"
    BIRTHDAY = "birthday"


class LoyaltyAccount(Base):
    """One per member; its row is the lock every points movement takes first."""

    __tablename__ = "loyalty_account"

    id: Mapped[IdPk]
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"), unique=True)
    tier_code: Mapped[str] = mapped_column(String(32))
    tier_since_at: Mapped[datetime] = mapped_column(UTCDateTime())
    downgrade_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PointsLot(Base):
    __tablename__ = "points_lot"
    __table_args__ = (
        # An order earns at most once.
        UniqueConstraint("account_id", "order_id"),
        Index("ix_points_lot_account_id_expires_at", "account_id", "expires_at"),
        Index("ix_points_lot_expires_at", "expires_at"),
        # The expiry run's worklist: lots it has not yet settled, small however long the
        # history.
        Index(
            "ix_points_lot_unsettled_expires_at",
            "expires_at",
            postgresql_where=text("settled_at IS NULL"),
            sqlite_where=text("settled_at IS NULL"),
        ),
    )

    id: Mapped[IdPk]
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("loyalty_account.id"))
    kind: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("orders.id"))
    points: Mapped[int] = mapped_column(BigInteger)
    earned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    available_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set by the expiry run once the lot is past its expiry and empty; cleared when points
    # come back into it (a refunded redemption), so the next run writes them off again.
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PointsEntry(Base):
    __tablename__ = "points_entry"
    __table_args__ = (
        Index("ix_points_entry_account_id_occurred_at", "account_id", "occurred_at"),
        Index("ix_points_entry_lot_id", "lot_id"),
        Index("ix_points_entry_order_id", "order_id"),
    )

    id: Mapped[IdPk]
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("loyalty_account.id"))
    lot_id: Mapped[int] = mapped_column(BigId, ForeignKey("points_lot.id"))
    kind: Mapped[str] = mapped_column(String(20))
    points: Mapped[int] = mapped_column(BigInteger)  # signed
    order_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("orders.id"))
    refund_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("refund.id"))
    reason: Mapped[str | None] = mapped_column(String(255))
    staff: Mapped[str | None] = mapped_column(String(120))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LoyaltyOrder(Base):
    """An order committed to loyalty: what it paid, earned, spent; at most one per order."""

    __tablename__ = "loyalty_order"

    id: Mapped[IdPk]
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("loyalty_account.id"), index=True)
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id"), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    paid_fen: Mapped[int] = mapped_column(BigInteger)
    points_earned: Mapped[int] = mapped_column(BigInteger)
    points_spent: Mapped[int] = mapped_column(BigInteger)
    points_value_fen: Mapped[int] = mapped_column(BigInteger)
    coupon_discount_fen: Mapped[int] = mapped_column(BigInteger)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    committed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LoyaltyRefund(Base):
    """A refund applied to loyalty, once."""

    __tablename__ = "loyalty_refund"

    id: Mapped[IdPk]
    refund_id: Mapped[int] = mapped_column(BigId, ForeignKey("refund.id"), unique=True)
    loyalty_order_id: Mapped[int] = mapped_column(BigId, ForeignKey("loyalty_order.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    points_taken_back: Mapped[int] = mapped_column(BigInteger)
    points_short: Mapped[int] = mapped_column(BigInteger)
    points_returned: Mapped[int] = mapped_column(BigInteger)
    coupons_restored: Mapped[int] = mapped_column(Integer)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CouponStatus(StrEnum):
    ISSUED = "issued"
    REDEEMED = "redeemed"


class CouponTemplate(Base):
    __tablename__ = "coupon_template"

    id: Mapped[IdPk]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    threshold_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_off_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    percent_off_bp: Mapped[int] = mapped_column(Integer, default=0)
    cap_fen: Mapped[int | None] = mapped_column(BigInteger)
    gift_sku: Mapped[str | None] = mapped_column(String(64))
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_days: Mapped[int | None] = mapped_column(Integer)
    scope: Mapped[dict[str, Any]] = mapped_column(JSON)
    per_customer_limit: Mapped[int | None] = mapped_column(Integer)
    stackable: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Coupon(Base):
    __tablename__ = "coupon"
    __table_args__ = (
        Index("ix_coupon_customer_id_status", "customer_id", "status"),
        Index("ix_coupon_template_id_customer_id", "template_id", "customer_id"),
    )

    id: Mapped[IdPk]
    code: Mapped[str] = mapped_column(String(32), unique=True)
    template_id: Mapped[int] = mapped_column(BigId, ForeignKey("coupon_template.id"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    status: Mapped[str] = mapped_column(String(16))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    order_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("orders.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CouponEvent(Base):
    """The coupon's history: issued, redeemed, restored. Append-only."""

    __tablename__ = "coupon_event"

    id: Mapped[IdPk]
    coupon_id: Mapped[int] = mapped_column(BigId, ForeignKey("coupon.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("orders.id"))
    refund_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("refund.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())


# ------------------------------------------------------------------------------ referrals


class ReferralStatus(StrEnum):
    PENDING = "pending"  # the new member has not yet made a qualifying purchase
    REWARDED = "rewarded"
    REVERSED = "reversed"  # the qualifying order was refunded in full within its return window
    REFUSED = "refused"  # the two profiles turned out to be one person (merged) before a reward


class ReferralCode(Base):
    """A member's own code to hand to friends; one per member."""

    __tablename__ = "referral_code"

    id: Mapped[IdPk]
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"), unique=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Referral(Base):
    """One new member brought by another; each new member is referred at most once."""

    __tablename__ = "referral"
    __table_args__ = (Index("ix_referral_referrer_id", "referrer_id"),)

    id: Mapped[IdPk]
    referrer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    referee_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"), unique=True)
    code: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=ReferralStatus.PENDING)
    order_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("orders.id"))
    referrer_lot_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("points_lot.id"))
    referee_lot_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("points_lot.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rewarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# ------------------------------------------------------------------------------- lotteries


class Lottery(Base):
    """A lucky draw (抽奖). Every draw's outcome follows from the secret ``seed`` and the draw's
    number, so anyone given the seed after the draw closes can check each outcome; the seed's
    SHA-256 is public from the start, so the seed cannot be changed afterwards."""

    __tablename__ = "lottery"

    id: Mapped[IdPk]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cost_points: Mapped[int] = mapped_column(BigInteger, default=0)
    daily_draws_per_customer: Mapped[int | None] = mapped_column(Integer)
    seed: Mapped[str] = mapped_column(String(64))
    seed_sha256: Mapped[str] = mapped_column(String(64))
    draws: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LotteryPrize(Base):
    __tablename__ = "lottery_prize"
    __table_args__ = (UniqueConstraint("lottery_id", "code"),)

    id: Mapped[IdPk]
    lottery_id: Mapped[int] = mapped_column(BigId, ForeignKey("lottery.id"))
    position: Mapped[int] = mapped_column(Integer)  # order on the wheel: fixes who wins a roll
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))  # points, coupon, gift
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    coupon_template_code: Mapped[str | None] = mapped_column(String(64))
    gift_sku: Mapped[str | None] = mapped_column(String(64))
    # Chance out of 1,000,000 per draw; what the prizes leave over is "no prize".
    chance_ppm: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int | None] = mapped_column(Integer)  # None: unlimited
    awarded: Mapped[int] = mapped_column(Integer, default=0)


class LotteryDraw(Base):
    __tablename__ = "lottery_draw"
    __table_args__ = (
        UniqueConstraint("lottery_id", "draw_no"),
        UniqueConstraint("lottery_id", "idempotency_key"),
        Index("ix_lottery_draw_customer_id_drawn_at", "customer_id", "drawn_at"),
    )

    id: Mapped[IdPk]
    lottery_id: Mapped[int] = mapped_column(BigId, ForeignKey("lottery.id"))
    draw_no: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    roll: Mapped[int] = mapped_column(Integer)  # 0 … 999,999
    # The prize the roll landed on, and whether it was given (False: out of stock).
    prize_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("lottery_prize.id"))
    awarded: Mapped[bool] = mapped_column(Boolean, default=False)
    points_spent: Mapped[int] = mapped_column(BigInteger, default=0)
    coupon_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("coupon.id"))
    lot_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("points_lot.id"))
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime())


# ------------------------------------------------------------------------------ promotions


class Promotion(Base):
    """A bonus-points offer (limited-time, or weekly like a member day) or a spend-threshold
    gift (满额赠礼), with its time window, stores, channels and the goods it covers."""

    __tablename__ = "promotion"
    __table_args__ = (Index("ix_promotion_ends_at", "ends_at"),)

    id: Mapped[IdPk]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Lists, empty meaning "all": weekdays (Monday = 0), store codes, channels, category
    # prefixes and SKUs covered.
    scope: Mapped[dict[str, Any]] = mapped_column(JSON)
    multiplier_bp: Mapped[int] = mapped_column(Integer, default=10_000)
    threshold_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    gift_sku: Mapped[str | None] = mapped_column(String(64))
    gift_name: Mapped[str | None] = mapped_column(String(120))
    stock: Mapped[int | None] = mapped_column(Integer)  # None: unlimited
    awarded: Mapped[int] = mapped_column(Integer, default=0)
    per_customer_limit: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PromotionGrant(Base):
    """A gift given with an order; reversed (and its stock returned) by a full refund."""

    __tablename__ = "promotion_grant"
    __table_args__ = (
        UniqueConstraint("promotion_id", "order_id"),
        Index("ix_promotion_grant_customer_id", "customer_id"),
        Index("ix_promotion_grant_order_id", "order_id"),
    )

    id: Mapped[IdPk]
    promotion_id: Mapped[int] = mapped_column(BigId, ForeignKey("promotion.id"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id"))
    gift_sku: Mapped[str | None] = mapped_column(String(64))
    spend_fen: Mapped[int] = mapped_column(BigInteger)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# ----------------------------------------------------------------------- the programme


class ProgrammeVersion(Base):
    """The programme's terms as saved by a change, never updated: the newest is in force,
    the older ones say what the terms were and who changed them, when and why. With no row,
    the built-in terms (``rules.Programme``) are in force."""

    __tablename__ = "loyalty_programme"

    id: Mapped[IdPk]  # the version
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)  # terms.ProgrammeTerms
    reason: Mapped[str] = mapped_column(String(255))
    changed_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# -------------------------------------------------------- gifts for points (积分换礼)


class Reward(Base):
    """A gift in the points catalogue: goods, a coupon or a service, for points and an
    optional cash top-up. Stock is chain-wide (``stock``/``taken`` here) or per store
    (``reward_stock`` rows); with neither it is unlimited."""

    __tablename__ = "reward"

    id: Mapped[IdPk]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))  # product, coupon, service
    points: Mapped[int] = mapped_column(BigInteger)
    cash_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    sku: Mapped[str | None] = mapped_column(String(64))
    coupon_template_code: Mapped[str | None] = mapped_column(String(64))
    tiers: Mapped[list[str]] = mapped_column(JSON)  # empty: every tier
    fulfilment: Mapped[list[str]] = mapped_column(JSON)  # pickup, delivery
    per_member_limit: Mapped[int | None] = mapped_column(Integer)
    limit_period: Mapped[str] = mapped_column(String(8), default="ever")  # day month year ever
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    image_url: Mapped[str | None] = mapped_column(String(500))
    stock: Mapped[int | None] = mapped_column(Integer)  # chain-wide; None: see reward_stock
    taken: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RewardStock(Base):
    """A reward's stock in one store."""

    __tablename__ = "reward_stock"
    __table_args__ = (UniqueConstraint("reward_id", "store_id"),)

    id: Mapped[IdPk]
    reward_id: Mapped[int] = mapped_column(BigId, ForeignKey("reward.id"))
    store_id: Mapped[int] = mapped_column(BigId, ForeignKey("store.id"))
    stock: Mapped[int] = mapped_column(Integer)
    taken: Mapped[int] = mapped_column(Integer, default=0)


class RewardRedemption(Base):
    """A gift taken for points; cancelled whole (points and stock back), never deleted."""

    __tablename__ = "reward_redemption"
    __table_args__ = (
        UniqueConstraint("customer_id", "idempotency_key"),
        Index("ix_reward_redemption_reward_id_customer_id", "reward_id", "customer_id"),
        Index("ix_reward_redemption_redeemed_at", "redeemed_at"),
    )

    id: Mapped[IdPk]
    reward_id: Mapped[int] = mapped_column(BigId, ForeignKey("reward.id"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    store_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("store.id"))
    stock_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("reward_stock.id"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))  # till, online, console
    fulfilment: Mapped[str] = mapped_column(String(16))  # pickup, delivery
    points: Mapped[int] = mapped_column(BigInteger)
    cash_fen: Mapped[int] = mapped_column(BigInteger)
    spent_by_lot: Mapped[dict[str, int]] = mapped_column(JSON)  # lot id → points
    coupon_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("coupon.id"))
    status: Mapped[str] = mapped_column(String(16))  # redeemed, cancelled
    staff: Mapped[str | None] = mapped_column(String(120))
    redeemed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# ------------------------------------------------- limited-time member offers (限时优惠)


class MemberOffer(Base):
    """A member price or a percentage off some SKUs or categories, for some tiers, for a
    time; optionally for the first ``quota_units`` units or ``quota_members`` members."""

    __tablename__ = "member_offer"
    __table_args__ = (Index("ix_member_offer_ends_at", "ends_at"),)

    id: Mapped[IdPk]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    price_fen: Mapped[int | None] = mapped_column(BigInteger)  # a unit's member price
    percent_off_bp: Mapped[int] = mapped_column(Integer, default=0)
    # Lists, empty meaning "all" (but an offer names SKUs or categories): skus, categories,
    # tiers, store_codes.
    scope: Mapped[dict[str, Any]] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    quota_units: Mapped[int | None] = mapped_column(Integer)
    quota_members: Mapped[int | None] = mapped_column(Integer)
    units_taken: Mapped[int] = mapped_column(Integer, default=0)
    members_taken: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OfferClaim(Base):
    """Units of an offer's quota an order took."""

    __tablename__ = "offer_claim"
    __table_args__ = (
        UniqueConstraint("offer_id", "order_id"),
        Index("ix_offer_claim_offer_id_customer_id", "offer_id", "customer_id"),
    )

    id: Mapped[IdPk]
    offer_id: Mapped[int] = mapped_column(BigId, ForeignKey("member_offer.id"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id"))
    units: Mapped[int] = mapped_column(Integer)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime())


# --------------------------------------------------- priority purchase (优先购买权)


class EarlyAccess(Base):
    """Who may buy a SKU, a category or an offer from when: each listed tier (and the tiers
    above it) from ``tier_days[tier]`` days after ``opens_at``, everyone from
    ``everyone_day``; days counted from midnight in the programme's zone."""

    __tablename__ = "early_access"
    __table_args__ = (UniqueConstraint("target_kind", "target"),)

    id: Mapped[IdPk]
    target_kind: Mapped[str] = mapped_column(String(16))  # sku, category, offer
    target: Mapped[str] = mapped_column(String(255))
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    tier_days: Mapped[dict[str, int]] = mapped_column(JSON)
    everyone_day: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# ------------------------------------------------------------ birthday coupons by tier


class BirthdayCoupon(Base):
    """The coupon template a tier's members get on their birthday, valid ``valid_days``."""

    __tablename__ = "birthday_coupon"

    id: Mapped[IdPk]
    tier_code: Mapped[str] = mapped_column(String(32), unique=True)
    template_code: Mapped[str] = mapped_column(String(64))
    valid_days: Mapped[int] = mapped_column(Integer, default=7)


class BirthdayCouponIssue(Base):
    """A birthday coupon given: at most one per member and year."""

    __tablename__ = "birthday_coupon_issue"
    __table_args__ = (UniqueConstraint("customer_id", "year"),)

    id: Mapped[IdPk]
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    year: Mapped[int] = mapped_column(Integer)
    coupon_id: Mapped[int] = mapped_column(BigId, ForeignKey("coupon.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
