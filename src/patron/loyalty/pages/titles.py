"""Titles of the loyalty screens' codes (ledger entry kinds, coupon and promotion kinds,
prizes, referral states, weekdays), as English msgids translated when shown.
"""

from __future__ import annotations

from patron.loyalty import (
    rules,
)
from patron.web.i18n import N_

# Ledger entry and lot kinds as the page names them (English msgids, translated when shown).
KIND_TITLES = {
    "earn": N_("Earned"),
    "redeem": N_("Redeemed"),
    "expire": N_("Expired"),
    "adjust": N_("Adjustment"),
    "reverse_earn": N_("Taken back by a refund"),
    "return_redeemed": N_("Given back by a refund"),
    "referral": N_("Referral"),
    "prize": N_("Prize"),
}


COUPON_KINDS = {
    rules.CouponKind.AMOUNT_OFF: N_("Amount off (满减)"),
    rules.CouponKind.PERCENT_OFF: N_("Percent off, with a cap"),
    rules.CouponKind.GIFT_ITEM: N_("Gift"),
    rules.CouponKind.FREE_DELIVERY: N_("Free delivery"),
}


PROMOTION_KINDS = {
    rules.PromotionKind.BONUS_POINTS: N_("Bonus points"),
    rules.PromotionKind.THRESHOLD_GIFT: N_("Gift for spending (满额赠礼)"),
}


PRIZE_KINDS = {"points": N_("Points"), "coupon": N_("Coupon"), "gift": N_("Gift")}


REFERRAL_STATUSES = {
    "pending": N_("waiting for the first purchase"),
    "rewarded": N_("rewarded"),
    "reversed": N_("reversed by a refund"),
    "refused": N_("refused"),
}


WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)


# The default programme's tier names (rules.DEFAULT_TIERS), so that they are translated.
TIER_NAMES = (N_("Member"), N_("Silver"), N_("Gold"), N_("Platinum"))


PROMOTION_STATES = {
    "running": N_("Running"),
    "scheduled": N_("Scheduled"),
    "ended": N_("Ended"),
}
