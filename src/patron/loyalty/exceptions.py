"""Loyalty errors; each carries its facts and maps to HTTP through the core base classes."""

from patron.core.errors import Conflict, InvalidInput, NotFound


class NotAMember(NotFound):
    code = "not_a_member"


class InsufficientPoints(Conflict):
    """More points asked for than the account has available."""

    code = "insufficient_points"


class PointsOverLimit(InvalidInput):
    """More points than the basket allows (e.g. half the order)."""

    code = "points_over_limit"


class CouponNotFound(NotFound):
    code = "coupon_not_found"


class CouponTemplateNotFound(NotFound):
    code = "coupon_template_not_found"


class CouponNotApplicable(InvalidInput):
    code = "coupon_not_applicable"


class CouponAlreadyUsed(Conflict):
    code = "coupon_already_used"


class CouponLimitReached(Conflict):
    code = "coupon_limit_reached"


class AlreadyCommitted(Conflict):
    """The order was committed before with other points or coupons."""

    code = "loyalty_already_committed"


class AnonymousOrder(InvalidInput):
    code = "anonymous_order"


class ReferralRefused(InvalidInput):
    """A referral that would reward someone for referring themselves, or comes too late."""

    code = "referral_refused"


class ReferralCodeNotFound(NotFound):
    code = "referral_code_not_found"


class LotteryNotFound(NotFound):
    code = "lottery_not_found"


class LotteryClosed(Conflict):
    code = "lottery_closed"


class DrawLimitReached(Conflict):
    code = "lottery_draw_limit_reached"


class RewardNotFound(NotFound):
    code = "reward_not_found"


class RewardUnavailable(Conflict):
    """Not on offer now, or not for this member's tier."""

    code = "reward_unavailable"


class RewardOutOfStock(Conflict):
    code = "reward_out_of_stock"


class RewardLimitReached(Conflict):
    code = "reward_limit_reached"


class RedemptionNotFound(NotFound):
    code = "redemption_not_found"


class RedemptionCancelled(Conflict):
    """Cancelled already, or its coupon has been used and cannot come back."""

    code = "redemption_not_cancellable"


class OfferNotFound(NotFound):
    code = "offer_not_found"


class OfferQuotaUsedUp(Conflict):
    code = "offer_quota_used_up"


class EarlyAccessOnly(Conflict):
    """The goods are for higher tiers until the member's own day."""

    code = "early_access_only"
