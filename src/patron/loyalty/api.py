"""Loyalty over HTTP: the POS calls (look-up, quote, commit, refund), points and coupons."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.orm import Session

from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.schemas import MAX_ID
from patron.customers import service as customers
from patron.loyalty import (
    birthdays,
    early_access,
    gifts,
    lottery,
    offers,
    programme,
    promotions,
    referrals,
    reports,
)
from patron.loyalty.birthdays import give_birthday_gifts
from patron.loyalty.coupons import (
    create_coupon_template,
    issue_coupon,
    issue_coupons_to,
    list_customer_coupons,
)
from patron.loyalty.points import adjust_points, get_balance, list_entries, list_lots
from patron.loyalty.refunds import apply_refund
from patron.loyalty.reward_schemas import (
    AccessAnswer,
    BirthdayCouponIn,
    BirthdayCouponRead,
    EarlyAccessCreate,
    EarlyAccessRead,
    OfferCreate,
    OfferRead,
    RedeemIn,
    RedemptionRead,
    RewardCreate,
    RewardRead,
    RewardReport,
)
from patron.loyalty.schemas import (
    AdjustmentIn,
    Balance,
    BirthdayGifts,
    BulkIssueIn,
    BulkIssueRead,
    CommitIn,
    CommitRead,
    CouponIssue,
    CouponRead,
    CouponTemplateCreate,
    CouponTemplateRead,
    DrawCheck,
    DrawIn,
    DrawRead,
    EntryRead,
    LookupRead,
    LotRead,
    LotteryCreate,
    LotteryRead,
    LoyaltyRefundIn,
    LoyaltyRefundRead,
    LoyaltyReport,
    MemberRef,
    Movement,
    PromotionCreate,
    PromotionRead,
    QuoteIn,
    QuoteRead,
    ReferralCodeRead,
    ReferralIn,
    ReferralRead,
    TierRead,
)
from patron.loyalty.terms import ProgrammeRead, ProgrammeUpdate, ProgrammeVersionRead
from patron.loyalty.tiers import get_tier
from patron.loyalty.till import commit_order, lookup_member, quote_basket
from patron.web.deps import Db, PathId, read_on_loop
from patron.web.security import CurrentActor, check_lookup_rate

router = APIRouter(prefix="/api/v1/loyalty", tags=["loyalty"])
_REPLAYED = {"Idempotent-Replayed": "true"}


def _scoped(s: Session, actor: Actor, customer_id: int) -> int:
    """``customer_id``, once it is known that this actor's stores may see that customer."""
    customers.check_customer_in_scope(session=s, customer_id=customer_id, store_ids=actor.store_ids)
    return customer_id


@router.get("/lookup", response_model=LookupRead)
async def lookup(
    db: Db,
    actor: CurrentActor,
    customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    phone: Annotated[str | None, Query(max_length=40)] = None,
    member_card: Annotated[str | None, Query(max_length=128)] = None,
) -> LookupRead:
    """A member at the till, by phone, member card or id: tier, balance, usable coupons."""
    member = MemberRef(customer_id=customer_id, phone=phone, member_card=member_card)
    check_lookup_rate(actor)
    return read_on_loop(
        db, lambda s: lookup_member(session=s, member=member, store_ids=actor.store_ids)
    )


@router.post("/quote", response_model=QuoteRead)
async def quote(quote_in: QuoteIn, actor: CurrentActor, db: Db) -> QuoteRead:
    """Points to earn, coupons and their best combination, the most points usable."""
    return read_on_loop(
        db,
        lambda s: quote_basket(session=s, quote_in=quote_in, store_ids=actor.store_ids),
    )


@router.post(
    "/commit",
    response_model=CommitRead,
    status_code=201,
    responses={200: {"model": CommitRead, "description": "Committed before: the first result"}},
)
def commit(commit_in: CommitIn, response: Response, actor: CurrentActor, db: Db) -> CommitRead:
    result = db.write(
        lambda s: commit_order(session=s, commit_in=commit_in, store_ids=actor.store_ids)
    )
    if not result.created:
        response.status_code = 200
        response.headers.update(_REPLAYED)
    return result


@router.post(
    "/refunds",
    response_model=LoyaltyRefundRead,
    status_code=201,
    responses={200: {"model": LoyaltyRefundRead, "description": "Applied before"}},
)
def refund(
    refund_in: LoyaltyRefundIn, response: Response, actor: CurrentActor, db: Db
) -> LoyaltyRefundRead:
    result = db.write(
        lambda s: apply_refund(session=s, refund_in=refund_in, store_ids=actor.store_ids)
    )
    if not result.created:
        response.status_code = 200
        response.headers.update(_REPLAYED)
    return result


@router.get("/customers/{customer_id}/balance", response_model=Balance)
def balance(customer_id: PathId, actor: CurrentActor, db: Db) -> Balance:
    return db.read(lambda s: get_balance(session=s, customer_id=_scoped(s, actor, customer_id)))


@router.get("/customers/{customer_id}/tier", response_model=TierRead)
def tier(customer_id: PathId, actor: CurrentActor, db: Db) -> TierRead:
    return db.read(lambda s: get_tier(session=s, customer_id=_scoped(s, actor, customer_id)))


@router.get("/customers/{customer_id}/lots", response_model=list[LotRead])
def lots(customer_id: PathId, actor: CurrentActor, db: Db) -> list[LotRead]:
    return db.read(lambda s: list_lots(session=s, customer_id=_scoped(s, actor, customer_id)))


@router.get("/customers/{customer_id}/entries", response_model=list[EntryRead])
def entries(customer_id: PathId, actor: CurrentActor, db: Db) -> list[EntryRead]:
    return db.read(lambda s: list_entries(session=s, customer_id=_scoped(s, actor, customer_id)))


@router.post("/customers/{customer_id}/adjustments", response_model=Movement, status_code=201)
def adjust(
    customer_id: PathId, adjustment_in: AdjustmentIn, actor: CurrentActor, db: Db
) -> Movement:
    return db.write(
        lambda s: adjust_points(
            session=s,
            customer_id=_scoped(s, actor, customer_id),
            adjustment_in=adjustment_in,
            actor=actor,
        )
    )


@router.get("/customers/{customer_id}/coupons", response_model=list[CouponRead])
def coupons(customer_id: PathId, actor: CurrentActor, db: Db) -> list[CouponRead]:
    return db.read(
        lambda s: list_customer_coupons(session=s, customer_id=_scoped(s, actor, customer_id))
    )


@router.post("/coupon-templates", response_model=CouponTemplateRead, status_code=201)
def create_template(template_in: CouponTemplateCreate, db: Db) -> CouponTemplateRead:
    return db.write(lambda s: create_coupon_template(session=s, template_in=template_in))


@router.post("/coupons/bulk", response_model=BulkIssueRead, status_code=201)
def issue_bulk(issue_in: BulkIssueIn, actor: CurrentActor, db: Db) -> BulkIssueRead:
    """One coupon each for a whole audience: a value segment or lifecycle stage of the latest
    analytics run, or a list of customer ids. Limits hold; one audit entry."""
    return db.write(
        lambda s: issue_coupons_to(
            session=s, issue_in=issue_in, actor=actor, segment_members=_segment_members
        )
    )


def _segment_members(
    session: Session, segment: str | None, stage: str | None
) -> tuple[int, list[int]]:
    from patron import analytics  # heavy; only for segment audiences

    run_id, ids = analytics.audience_customer_ids(session=session, segment=segment, stage=stage)
    return run_id, list(ids)


@router.post("/coupons", response_model=CouponRead, status_code=201)
def issue(issue_in: CouponIssue, db: Db) -> CouponRead:
    return db.write(lambda s: issue_coupon(session=s, issue_in=issue_in))


# ------------------------------------------------------------------------------ referrals


@router.post("/customers/{customer_id}/referral-code", response_model=ReferralCodeRead)
def referral_code(customer_id: PathId, actor: CurrentActor, db: Db) -> ReferralCodeRead:
    """The member's referral code (made on first ask, the same afterwards)."""
    return db.write(
        lambda s: referrals.get_referral_code(session=s, customer_id=_scoped(s, actor, customer_id))
    )


@router.get("/customers/{customer_id}/referrals", response_model=list[ReferralRead])
def customer_referrals(customer_id: PathId, actor: CurrentActor, db: Db) -> list[ReferralRead]:
    return db.read(
        lambda s: referrals.list_referrals(session=s, customer_id=_scoped(s, actor, customer_id))
    )


@router.post("/referrals", response_model=ReferralRead, status_code=201)
def refer(referral_in: ReferralIn, actor: CurrentActor, db: Db) -> ReferralRead:
    """Record who brought a new member; both are rewarded on its first qualifying purchase."""

    def work(s: Session) -> ReferralRead:
        _scoped(s, actor, referral_in.customer_id)
        return referrals.record_referral(session=s, referral_in=referral_in, now=utcnow())

    return db.write(work)


# ------------------------------------------------------------------------------- lotteries


@router.post("/lotteries", response_model=LotteryRead, status_code=201)
def create_lottery(lottery_in: LotteryCreate, actor: CurrentActor, db: Db) -> LotteryRead:
    return db.write(
        lambda s: lottery.create_lottery(
            session=s, lottery_in=lottery_in, actor=actor, now=utcnow()
        )
    )


@router.get("/lotteries", response_model=list[LotteryRead])
def lotteries(db: Db) -> list[LotteryRead]:
    return db.read(lambda s: lottery.list_lotteries(session=s, now=utcnow()))


@router.get("/lotteries/{code}", response_model=LotteryRead)
def get_lottery(code: Annotated[str, Path(max_length=64)], db: Db) -> LotteryRead:
    return db.read(lambda s: lottery.get_lottery(session=s, code=code, now=utcnow()))


@router.post(
    "/lotteries/{code}/draws",
    response_model=DrawRead,
    status_code=201,
    responses={200: {"model": DrawRead, "description": "Drawn before under this key"}},
)
def draw(
    code: Annotated[str, Path(max_length=64)],
    draw_in: DrawIn,
    response: Response,
    actor: CurrentActor,
    db: Db,
) -> DrawRead:
    """One draw for a member: pays the lottery's points, rolls, awards the prize."""

    def work(s: Session) -> DrawRead:
        _scoped(s, actor, draw_in.customer_id)
        return lottery.draw(session=s, lottery_code=code, draw_in=draw_in, now=utcnow())

    result = db.write(work)
    if not result.created:
        response.status_code = 200
        response.headers.update(_REPLAYED)
    return result


@router.get("/lotteries/{code}/draws", response_model=list[DrawRead])
def draws(
    code: Annotated[str, Path(max_length=64)],
    actor: CurrentActor,
    db: Db,
    customer_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> list[DrawRead]:
    def work(s: Session) -> list[DrawRead]:
        if customer_id is not None:
            _scoped(s, actor, customer_id)
        return lottery.list_draws(
            session=s, lottery_code=code, customer_id=customer_id, store_ids=actor.store_ids
        )

    return db.read(work)


@router.get("/lotteries/{code}/check", response_model=DrawCheck)
def check(code: Annotated[str, Path(max_length=64)], db: Db) -> DrawCheck:
    """Recompute every draw from the seed and list any that differ from the record."""
    return db.read(lambda s: lottery.check_draws(session=s, lottery_code=code))


# --------------------------------------------------------------------------------- reports


@router.get("/report", response_model=LoyaltyReport)
def report(db: Db) -> LoyaltyReport:
    """Points liability and expected breakage, points expiring in 30 days, members per tier,
    coupon issue and redemption."""
    return db.read(
        lambda s: reports.programme_report(session=s, now=utcnow(), programme=programme.current(s))
    )


# ---------------------------------------------------------------------------- the programme


@router.get("/programme", response_model=ProgrammeRead)
def get_programme(db: Db) -> ProgrammeRead:
    """The programme's terms in force: earning, redemption, expiry, member days, exclusions,
    tiers and referral rewards, with who changed them last, when and why."""
    return db.read(programme.read)


@router.put("/programme", response_model=ProgrammeRead)
def put_programme(update_in: ProgrammeUpdate, actor: CurrentActor, db: Db) -> ProgrammeRead:
    """Replace the terms (send them all, with a reason). In force at once for new orders;
    points already earned keep their dates. A tier that members hold cannot be dropped."""
    return db.write(lambda s: programme.update(session=s, update_in=update_in, actor=actor))


@router.get("/programme/history", response_model=list[ProgrammeVersionRead])
def programme_history(db: Db) -> list[ProgrammeVersionRead]:
    """Saved changes of the terms, newest first: who, when, why and which terms changed."""
    return db.read(programme.history)


# ------------------------------------------------------------------------------ promotions


@router.post("/promotions", response_model=PromotionRead, status_code=201)
def create_promotion(promotion_in: PromotionCreate, actor: CurrentActor, db: Db) -> PromotionRead:
    """A bonus-points offer (a time window, weekdays such as a member day, some goods) or a
    spend-threshold gift (满额赠礼) with stock and a per-member limit."""
    return db.write(
        lambda s: promotions.create_promotion(session=s, promotion_in=promotion_in, actor=actor)
    )


@router.get("/promotions", response_model=list[PromotionRead])
def list_promotions(db: Db, running: bool = False) -> list[PromotionRead]:
    """Every promotion, newest first; ``running=true``: only those on now."""
    return db.read(
        lambda s: promotions.list_promotions(session=s, running_at=utcnow() if running else None)
    )


@router.post("/promotions/{code}/end", response_model=PromotionRead)
def end_promotion(
    code: Annotated[str, Path(max_length=64)], actor: CurrentActor, db: Db
) -> PromotionRead:
    return db.write(lambda s: promotions.end_promotion(session=s, code=code, actor=actor))


@router.post("/birthday-gifts", response_model=BirthdayGifts)
def birthday_gifts(db: Db) -> BirthdayGifts:
    """Give today's birthday members their tier's gift now (the nightly job does this too;
    nobody gets it twice in a year)."""
    return db.write(lambda s: give_birthday_gifts(session=s))


# ------------------------------------------------------------ gifts for points (积分换礼)


@router.post("/rewards", response_model=RewardRead, status_code=201)
def create_reward(reward_in: RewardCreate, actor: CurrentActor, db: Db) -> RewardRead:
    """A gift in the points catalogue: goods, a coupon or a service, with its points price,
    cash top-up, tiers, stock (chain-wide or per store), limit per member and window."""
    return db.write(lambda s: gifts.create_reward(session=s, reward_in=reward_in, actor=actor))


@router.get("/rewards", response_model=list[RewardRead])
def list_rewards(actor: CurrentActor, db: Db, available: bool = False) -> list[RewardRead]:
    """The catalogue (``available=true``: on offer now); store roles see their stores' stock."""
    return db.read(
        lambda s: gifts.list_rewards(
            session=s, store_ids=actor.store_ids, active_at=utcnow() if available else None
        )
    )


@router.post("/rewards/{code}/end", response_model=RewardRead)
def end_reward(
    code: Annotated[str, Path(max_length=64)], actor: CurrentActor, db: Db
) -> RewardRead:
    return db.write(lambda s: gifts.end_reward(session=s, code=code, actor=actor))


@router.get("/rewards/report", response_model=RewardReport)
def rewards_report(
    actor: CurrentActor, db: Db, start: datetime | None = None, end: datetime | None = None
) -> RewardReport:
    """Redemptions, points burned, liability released and the most taken gifts by store,
    over [start, end) (the last 30 days by default)."""
    end = end or utcnow()
    start = start or end - timedelta(days=30)
    return db.read(
        lambda s: gifts.reward_report(session=s, start=start, end=end, store_ids=actor.store_ids)
    )


@router.post(
    "/redemptions",
    response_model=RedemptionRead,
    status_code=201,
    responses={200: {"model": RedemptionRead, "description": "Redeemed before: the first result"}},
)
def redeem(redeem_in: RedeemIn, response: Response, actor: CurrentActor, db: Db) -> RedemptionRead:
    """A member takes a gift for points (a mini-program, a till): once per idempotency key."""
    result = db.write(
        lambda s: gifts.redeem_reward(
            session=s, redeem_in=redeem_in, store_ids=actor.store_ids, staff=actor.name
        )
    )
    if not result.created:
        response.status_code = 200
        response.headers.update(_REPLAYED)
    return result


@router.get("/redemptions", response_model=list[RedemptionRead])
def redemptions(
    actor: CurrentActor, db: Db, customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None
) -> list[RedemptionRead]:
    return db.read(
        lambda s: gifts.list_redemptions(
            session=s, store_ids=actor.store_ids, customer_id=customer_id
        )
    )


@router.post("/redemptions/{redemption_id}/cancel", response_model=RedemptionRead)
def cancel_redemption(redemption_id: PathId, actor: CurrentActor, db: Db) -> RedemptionRead:
    """Undo a redemption whole: points back to the lots that paid, the unit back to stock."""
    return db.write(
        lambda s: gifts.cancel_redemption(session=s, redemption_id=redemption_id, actor=actor)
    )


# ------------------------------------------------- member offers (限时优惠), early access


@router.post("/offers", response_model=OfferRead, status_code=201)
def create_offer(offer_in: OfferCreate, actor: CurrentActor, db: Db) -> OfferRead:
    """A member price or percentage off SKUs or categories, for tiers, for a time, with an
    optional quota of units or members."""
    return db.write(lambda s: offers.create_offer(session=s, offer_in=offer_in, actor=actor))


@router.get("/offers", response_model=list[OfferRead])
def list_offers(db: Db, running: bool = False) -> list[OfferRead]:
    return db.read(
        lambda s: offers.list_offers(session=s, running_at=utcnow() if running else None)
    )


@router.post("/offers/{code}/end", response_model=OfferRead)
def end_offer(code: Annotated[str, Path(max_length=64)], actor: CurrentActor, db: Db) -> OfferRead:
    return db.write(lambda s: offers.end_offer(session=s, code=code, actor=actor))


@router.put("/early-access", response_model=EarlyAccessRead)
def set_early_access(access_in: EarlyAccessCreate, actor: CurrentActor, db: Db) -> EarlyAccessRead:
    """Who may buy a SKU, a category or an offer first: tier → days after opening."""
    return db.write(
        lambda s: early_access.set_early_access(session=s, access_in=access_in, actor=actor)
    )


@router.get("/early-access", response_model=list[EarlyAccessRead])
def list_early_access(db: Db) -> list[EarlyAccessRead]:
    return db.read(lambda s: early_access.list_early_access(session=s))


@router.get("/customers/{customer_id}/may-buy", response_model=AccessAnswer)
def may_buy(
    customer_id: PathId,
    actor: CurrentActor,
    db: Db,
    sku: Annotated[str | None, Query(max_length=64)] = None,
    offer_code: Annotated[str | None, Query(max_length=64)] = None,
) -> AccessAnswer:
    """May this member buy this SKU (or have this offer) now? If not, from when."""
    return db.read(
        lambda s: early_access.check_access(
            session=s, customer_id=_scoped(s, actor, customer_id), sku=sku, offer_code=offer_code
        )
    )


@router.put("/birthday-coupons", response_model=BirthdayCouponRead)
def set_birthday_coupon(
    rule_in: BirthdayCouponIn, actor: CurrentActor, db: Db
) -> BirthdayCouponRead:
    """The coupon a tier's members get on their birthday (once a year, by the nightly upkeep)."""
    return db.write(
        lambda s: birthdays.set_birthday_coupon(session=s, rule_in=rule_in, actor=actor)
    )


@router.get("/birthday-coupons", response_model=list[BirthdayCouponRead])
def list_birthday_coupons(db: Db) -> list[BirthdayCouponRead]:
    return db.read(lambda s: birthdays.list_birthday_coupons(session=s))
