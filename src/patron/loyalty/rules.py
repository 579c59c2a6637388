"""Loyalty rules as plain functions of plain data: no session, no clock, no I/O.

Rounding, stated once:
- Points earned: each line contributes exactly ``paid_fen × points_per_yuan × multipliers``
  (in integer hundredths of a point and basis points); the order's sum is floored once, then
  capped. A customer never gets a fraction of a point, and small lines are not each rounded away.
- Money (coupon and tier discounts): half up to the fen (``round_half_up_div``).
- Refunds: what a refund takes back or returns is the order's total × refunded share, half up,
  computed on the cumulative refunded amount, so partial refunds always add up to the full one.
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from patron.core.money import FEN_PER_YUAN, prorate_fen, round_half_up_div

BP = 10_000  # basis points: 10,000 = ×1 or 100 %
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class TierRule:
    code: str
    name: str
    rank: int
    min_spend_fen: int = 0
    min_points_earned: int = 0
    discount_bp: int = 0  # off the price of eligible lines
    points_multiplier_bp: int = BP
    birthday_points: int = 0  # given on the member's birthday, once a year


class TierBasis(StrEnum):
    SPEND = "spend"
    POINTS = "points"


DEFAULT_TIERS = (
    TierRule("member", "Member", 0, birthday_points=100),
    TierRule("silver", "Silver", 1, 200_000, 2_000, 0, 12_500, 300),
    TierRule("gold", "Gold", 2, 1_000_000, 10_000, 500, 15_000, 800),
    TierRule("platinum", "Platinum", 3, 3_000_000, 30_000, 1_000, 20_000, 2_000),
)


@dataclass(frozen=True)
class Programme:
    """A loyalty programme's terms. Defaults are a typical Chinese retail programme."""

    earn_points_per_yuan: int = 1
    return_window_days: int = 7
    expiry_days: int = 365
    redeem_points_per_yuan: int = 100  # 100 points = ¥1
    max_redeem_share_bp: int = 5_000  # points pay at most half of the order
    sku_multipliers_bp: Mapping[str, int] = field(default_factory=dict)
    category_multipliers_bp: Mapping[str, int] = field(default_factory=dict)  # by path prefix
    excluded_skus: frozenset[str] = frozenset()
    excluded_categories: frozenset[str] = frozenset({"tobacco"})
    # Stored value, gift cards, coupon packs: never earn, never paid with points or coupons.
    wallet_skus: frozenset[str] = frozenset({"STORED-VALUE", "GIFT-CARD", "COUPON-PACK"})
    wallet_categories: frozenset[str] = frozenset({"wallet"})
    # Lines that are themselves a discount (a 满减 or voucher line): never earn.
    discount_skus: frozenset[str] = frozenset({"DISCOUNT", "COUPON", "POINTS"})
    member_weekdays: frozenset[int] = frozenset({2})  # Wednesday (Monday = 0)
    member_day_multiplier_bp: int = 20_000
    max_points_per_order: int | None = 100_000
    tiers: tuple[TierRule, ...] = DEFAULT_TIERS
    tier_basis: TierBasis = TierBasis.SPEND
    tier_window_days: int = 365
    tier_grace_days: int = 30
    # Referrals: both sides are rewarded on the new member's first order paying at least this.
    referral_min_order_fen: int = 5_000
    referrer_reward_points: int = 500
    referee_reward_points: int = 200
    zone: ZoneInfo = SHANGHAI

    def tier(self, code: str) -> TierRule:
        for tier in self.tiers:
            if tier.code == code:
                return tier
        return self.tiers[0]

    @property
    def base_tier(self) -> TierRule:
        return min(self.tiers, key=lambda t: t.rank)


def _in_categories(category: str, prefixes: frozenset[str] | tuple[str, ...]) -> bool:
    """Is ``category`` one of ``prefixes`` or under one of them? A basket asks this for every
    line, coupon and combination it prices, over a handful of distinct answers: remembered."""
    return bool(prefixes) and _under(category, prefixes)


@lru_cache(maxsize=8_192)
def _under(category: str, prefixes: frozenset[str] | tuple[str, ...]) -> bool:
    path = category.strip("/")
    return any(path == p.strip("/") or path.startswith(p.strip("/") + "/") for p in prefixes)


@dataclass(frozen=True)
class BasketLine:
    sku: str
    category: str
    amount_fen: int  # quantity × price less the line's own discount, before loyalty discounts


def is_wallet(programme: Programme, line: BasketLine) -> bool:
    return line.sku in programme.wallet_skus or _in_categories(
        line.category, programme.wallet_categories
    )


def earns(programme: Programme, line: BasketLine) -> bool:
    return not (
        is_wallet(programme, line)
        or line.sku in programme.discount_skus
        or line.sku in programme.excluded_skus
        or _in_categories(line.category, programme.excluded_categories)
    )


def redeemable(programme: Programme, line: BasketLine) -> bool:
    """May points, coupons or a tier discount pay for this line? Never for a wallet line."""
    return not is_wallet(programme, line) and line.sku not in programme.discount_skus


def line_multiplier_bp(programme: Programme, line: BasketLine) -> int:
    """The SKU's multiplier, else the longest matching category prefix's, else ×1."""
    if line.sku in programme.sku_multipliers_bp:
        return programme.sku_multipliers_bp[line.sku]
    best, best_len = BP, -1
    path = line.category.strip("/")
    for prefix, bp in programme.category_multipliers_bp.items():
        p = prefix.strip("/")
        if (path == p or path.startswith(p + "/")) and len(p) > best_len:
            best, best_len = bp, len(p)
    return best


def is_member_day(programme: Programme, at: datetime) -> bool:
    return at.astimezone(programme.zone).weekday() in programme.member_weekdays


def points_to_earn(
    programme: Programme,
    lines: Sequence[BasketLine],
    paid_fen: Sequence[int],
    *,
    tier: TierRule,
    at: datetime,
    bonuses: Sequence[PromotionTerms] = (),
) -> int:
    """Points for the money actually paid per line (after every discount, points and coupons).

    ``bonuses`` are the bonus-points promotions running for this order: a line they cover
    earns the highest of their multipliers on top of its own, the tier's and the member day's.
    """
    order_bp = tier.points_multiplier_bp
    if is_member_day(programme, at):
        order_bp = order_bp * programme.member_day_multiplier_bp // BP
    units = 0  # hundredths of a point × BP × BP × BP
    for line, paid in zip(lines, paid_fen, strict=True):
        if paid <= 0 or not earns(programme, line):
            continue
        bonus_bp = max((b.multiplier_bp for b in bonuses if covers(b, line)), default=BP)
        units += (
            paid * programme.earn_points_per_yuan * line_multiplier_bp(programme, line) * bonus_bp
        )
    points = units * order_bp // (FEN_PER_YUAN * BP * BP * BP)
    if programme.max_points_per_order is not None:
        points = min(points, programme.max_points_per_order)
    return points


# ---------------------------------------------------------------------------------- points


def points_value_fen(programme: Programme, points: int) -> int:
    """What ``points`` pay, in fen; exact or refused (see ``check_points_step``)."""
    return points * FEN_PER_YUAN // programme.redeem_points_per_yuan


def points_step(programme: Programme) -> int:
    """The smallest number of points worth a whole number of fen."""
    rate = programme.redeem_points_per_yuan
    step = 1
    while step * FEN_PER_YUAN % rate:
        step += 1
    return step


def max_points_usable(programme: Programme, payable_fen: int, available_points: int) -> int:
    """Points that may pay for ``payable_fen`` of redeemable goods: at most the share allowed."""
    limit_fen = max(payable_fen, 0) * programme.max_redeem_share_bp // BP
    limit = limit_fen * programme.redeem_points_per_yuan // FEN_PER_YUAN
    usable = min(limit, max(available_points, 0))
    step = points_step(programme)
    return usable - usable % step


# --------------------------------------------------------------------------------- coupons


class CouponKind(StrEnum):
    AMOUNT_OFF = "amount_off"  # 满100减20
    PERCENT_OFF = "percent_off"
    GIFT_ITEM = "gift_item"
    FREE_DELIVERY = "free_delivery"


@dataclass(frozen=True)
class CouponTerms:
    kind: CouponKind
    threshold_fen: int = 0
    amount_off_fen: int = 0
    percent_off_bp: int = 0
    cap_fen: int | None = None
    gift_sku: str | None = None
    store_codes: tuple[str, ...] = ()
    category_prefixes: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    stackable: bool = False
    skus: tuple[
        str, ...
    ] = ()  # with category_prefixes: the lines it applies to (any line if both empty)

    @property
    def scoped(self) -> bool:
        return bool(self.skus or self.category_prefixes)


@dataclass(frozen=True)
class Basket:
    lines: tuple[BasketLine, ...]
    store_code: str
    channel: str
    delivery_fee_fen: int = 0


@dataclass(frozen=True)
class CouponOutcome:
    applicable: bool
    discount_fen: int = 0
    gift_sku: str | None = None
    reason: str | None = None


def redeemable_fen(programme: Programme, basket: Basket) -> int:
    return sum(ln.amount_fen for ln in basket.lines if redeemable(programme, ln))


def coupon_covers(programme: Programme, terms: CouponTerms, line: BasketLine) -> bool:
    """Does the coupon apply to this line? A redeemable line of one of its SKUs or under one
    of its categories; any redeemable line when it names neither."""
    return redeemable(programme, line) and (
        not terms.scoped
        or line.sku in terms.skus
        or _in_categories(line.category, terms.category_prefixes)
    )


def coupon_outcome(programme: Programme, terms: CouponTerms, basket: Basket) -> CouponOutcome:
    """Whether a coupon applies to a basket and what it is worth there."""
    if terms.store_codes and basket.store_code not in terms.store_codes:
        return CouponOutcome(False, reason="store")
    if terms.channels and basket.channel not in terms.channels:
        return CouponOutcome(False, reason="channel")
    eligible = sum(ln.amount_fen for ln in basket.lines if coupon_covers(programme, terms, ln))
    if eligible <= 0 or eligible < terms.threshold_fen:
        return CouponOutcome(False, reason="threshold")
    if terms.kind == CouponKind.AMOUNT_OFF:
        return CouponOutcome(True, min(terms.amount_off_fen, eligible))
    if terms.kind == CouponKind.PERCENT_OFF:
        off = round_half_up_div(eligible * terms.percent_off_bp, BP)
        if terms.cap_fen is not None:
            off = min(off, terms.cap_fen)
        return CouponOutcome(True, min(off, eligible))
    if terms.kind == CouponKind.FREE_DELIVERY:
        if basket.delivery_fee_fen <= 0:
            return CouponOutcome(False, reason="no_delivery")
        return CouponOutcome(True, 0)
    return CouponOutcome(True, 0, gift_sku=terms.gift_sku)


def delivery_waived_fen(terms: Sequence[CouponTerms], basket: Basket) -> int:
    return basket.delivery_fee_fen if any(t.kind == CouponKind.FREE_DELIVERY for t in terms) else 0


def combination_allowed(terms: Sequence[CouponTerms]) -> bool:
    """A coupon that does not stack goes alone; stackable coupons combine freely."""
    return len(terms) <= 1 or all(t.stackable for t in terms)


def combined_discount_fen(
    programme: Programme, terms: Sequence[CouponTerms], basket: Basket
) -> int | None:
    """Goods discount of a set of coupons together, or None when they can't be used together."""
    if not combination_allowed(terms):
        return None
    total = 0
    for t in terms:
        outcome = coupon_outcome(programme, t, basket)
        if not outcome.applicable:
            return None
        total += outcome.discount_fen
    return min(total, redeemable_fen(programme, basket))


MAX_COMBINED = 12


def best_combination(
    programme: Programme, coupons: Sequence[tuple[str, CouponTerms]], basket: Basket
) -> tuple[list[str], int]:
    """The codes saving the most (goods + delivery), fewest coupons on a tie; and the saving."""
    # Each coupon is priced once; a combination's goods discount is then the sum of its
    # members' (what combined_discount_fen computes), capped at what coupons may pay for.
    priced = [(c, t, coupon_outcome(programme, t, basket)) for c, t in coupons]
    usable = [(c, t, o.discount_fen) for c, t, o in priced if o.applicable]
    cap = redeemable_fen(programme, basket)
    best: tuple[list[str], int] = ([], 0)
    singles = [u for u in usable if not u[1].stackable]
    stackable = sorted((u for u in usable if u[1].stackable), key=lambda u: -u[2])
    stackable = stackable[:MAX_COMBINED]
    candidates: list[Sequence[tuple[str, CouponTerms, int]]] = [[u] for u in singles]
    for size in range(1, len(stackable) + 1):
        candidates.extend(itertools.combinations(stackable, size))
    for combo in candidates:
        goods = min(sum(off for _, _, off in combo), cap)
        saving = goods + delivery_waived_fen([t for _, t, _ in combo], basket)
        if saving > best[1] or (saving == best[1] and saving > 0 and len(combo) < len(best[0])):
            best = ([c for c, _, _ in combo], saving)
    return best


def spread_discount(
    programme: Programme, lines: Sequence[BasketLine], discount_fen: int
) -> list[int]:
    """A whole-order discount shared over the redeemable lines by amount (exact sum)."""
    weights = [ln.amount_fen if redeemable(programme, ln) else 0 for ln in lines]
    if discount_fen <= 0 or sum(weights) == 0:
        return [0] * len(lines)
    return prorate_fen(discount_fen, weights)


def discount_shares(
    programme: Programme,
    lines: Sequence[BasketLine],
    coupons: Sequence[tuple[CouponTerms, int]],
    goods_off_fen: int,
    other_fen: int,
) -> list[int]:
    """Each line's share of the loyalty discounts (exact sum ``goods_off_fen + other_fen``).

    A coupon scoped to SKUs or categories falls on the lines it covers only, by amount (what
    it is worth there, in the order given, up to ``goods_off_fen`` in all); the rest (the
    tier discount, points, and whatever the coupons did not place) falls on the redeemable
    lines by what is left of them. With no scoped coupon this is :func:`spread_discount`.
    """
    if not any(terms.scoped for terms, _ in coupons):
        return spread_discount(programme, lines, goods_off_fen + other_fen)
    shares = [0] * len(lines)
    unplaced = goods_off_fen
    for terms, off in coupons:
        room = [
            ln.amount_fen - s if coupon_covers(programme, terms, ln) else 0
            for ln, s in zip(lines, shares, strict=True)
        ]
        room = [max(r, 0) for r in room]
        place = min(off, unplaced, sum(room))
        if place <= 0:
            continue
        for i, part in enumerate(prorate_fen(place, room)):
            shares[i] += part
        unplaced -= place
    rest = unplaced + other_fen
    if rest > 0:
        room = [
            max(ln.amount_fen - s, 0) if redeemable(programme, ln) else 0
            for ln, s in zip(lines, shares, strict=True)
        ]
        if sum(room) > 0:
            for i, part in enumerate(prorate_fen(rest, room)):
                shares[i] += part
    return shares


def tier_discount_fen(programme: Programme, tier: TierRule, basket: Basket) -> int:
    return round_half_up_div(redeemable_fen(programme, basket) * tier.discount_bp, BP)


# ----------------------------------------------------------------------------------- tiers


def qualifying_tier(programme: Programme, *, spend_fen: int, points_earned: int) -> TierRule:
    """The highest tier the last window's spend or EARNED points reach (never the balance)."""
    reached = programme.base_tier
    for tier in sorted(programme.tiers, key=lambda t: t.rank):
        measure, needed = (
            (spend_fen, tier.min_spend_fen)
            if programme.tier_basis == TierBasis.SPEND
            else (points_earned, tier.min_points_earned)
        )
        if measure >= needed:
            reached = tier
    return reached


@dataclass(frozen=True)
class TierState:
    code: str
    downgrade_due_at: datetime | None


def tier_after(
    programme: Programme,
    *,
    current: TierState,
    spend_fen: int,
    points_earned: int,
    now: datetime,
    at_review: bool,
) -> TierState:
    """The tier a member holds once their window's spend and earned points are judged: the
    tier they reach (``qualifying_tier``) under the upgrade and downgrade rules
    (``review_tier``)."""
    return review_tier(
        programme,
        current=current,
        qualifying=qualifying_tier(programme, spend_fen=spend_fen, points_earned=points_earned),
        now=now,
        at_review=at_review,
    )


def review_tier(
    programme: Programme,
    *,
    current: TierState,
    qualifying: TierRule,
    now: datetime,
    at_review: bool,
) -> TierState:
    """Upgrade at once; downgrade only at a review, after a grace period that starts there."""
    from datetime import timedelta

    held = programme.tier(current.code)
    if qualifying.rank >= held.rank:
        return TierState(qualifying.code, None)
    if not at_review:
        return current
    if current.downgrade_due_at is None:
        return TierState(held.code, now + timedelta(days=programme.tier_grace_days))
    if now >= current.downgrade_due_at:
        return TierState(qualifying.code, None)
    return current


# --------------------------------------------------------------------------------- refunds


def refunded_share(total: int, refunded_fen: int, paid_fen: int, *, full: bool) -> int:
    """How much of ``total`` (points earned or spent) a cumulative refund covers; half up."""
    if full:
        return total
    if paid_fen <= 0:
        return 0
    return min(total, round_half_up_div(total * min(refunded_fen, paid_fen), paid_fen))


# ------------------------------------------------------------------------------ promotions


class PromotionKind(StrEnum):
    BONUS_POINTS = "bonus_points"  # a limited-time or weekly points multiplier (e.g. 会员日)
    THRESHOLD_GIFT = "threshold_gift"  # 满额赠礼: spend at least the threshold, get the gift


@dataclass(frozen=True)
class PromotionTerms:
    code: str
    kind: PromotionKind
    starts_at: datetime
    ends_at: datetime
    weekdays: frozenset[int] = frozenset()  # Monday = 0; empty: every day
    store_codes: frozenset[str] = frozenset()  # empty: every store
    channels: frozenset[str] = frozenset()  # empty: every channel
    categories: tuple[str, ...] = ()  # category prefixes covered; with skus empty: every line
    skus: frozenset[str] = frozenset()
    multiplier_bp: int = BP
    threshold_fen: int = 0


def runs(
    terms: PromotionTerms, *, at: datetime, store_code: str, channel: str, zone: ZoneInfo
) -> bool:
    """Is the promotion on for an order at ``at`` in this store and channel?"""
    if not terms.starts_at <= at < terms.ends_at:
        return False
    if terms.weekdays and at.astimezone(zone).weekday() not in terms.weekdays:
        return False
    if terms.store_codes and store_code not in terms.store_codes:
        return False
    return not terms.channels or channel in terms.channels


def covers(terms: PromotionTerms, line: BasketLine) -> bool:
    if not terms.categories and not terms.skus:
        return True
    return line.sku in terms.skus or _in_categories(line.category, terms.categories)


def qualifying_spend_fen(
    programme: Programme,
    terms: PromotionTerms,
    lines: Sequence[BasketLine],
    paid_fen: Sequence[int],
) -> int:
    """Money paid for the goods a threshold promotion counts: covered lines that earn (wallet
    top-ups, discount lines and excluded goods never count towards a gift)."""
    return sum(
        max(paid, 0)
        for line, paid in zip(lines, paid_fen, strict=True)
        if covers(terms, line) and earns(programme, line)
    )


def birthday_days(today: date, *, back: int) -> dict[tuple[int, int], date]:
    """(month, day) of a birthday → the day of this year it falls on, for ``today`` and the
    ``back`` days before it that are in the same calendar year (a gift belongs to its year).
    29 February falls on 28 February in other years."""
    days: dict[tuple[int, int], date] = {}
    for k in range(back, -1, -1):
        day = today - timedelta(days=k)
        if day.year != today.year:
            continue
        days[(day.month, day.day)] = day
        if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
            days[(2, 29)] = day
    return days
