"""Loyalty over HTTP: the POS calls (look-up, quote, commit, refund), points and coupons."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from patron.core.actor import Actor
from patron.core.db import Database
from patron.customers import service as customers
from patron.loyalty import service
from patron.loyalty.schemas import (
    AdjustmentIn,
    Balance,
    CommitIn,
    CommitRead,
    CouponIssue,
    CouponRead,
    CouponTemplateCreate,
    CouponTemplateRead,
    EntryRead,
    LookupRead,
    LotRead,
    LoyaltyRefundIn,
    LoyaltyRefundRead,
    MemberRef,
    Movement,
    QuoteIn,
    QuoteRead,
    TierRead,
)
from patron.web.deps import PathId, get_db
from patron.web.security import CurrentActor

router = APIRouter(prefix="/api/v1/loyalty", tags=["loyalty"])
Db = Annotated[Database, Depends(get_db)]
_REPLAYED = {"Idempotent-Replayed": "true"}


def _scoped(s: Session, actor: Actor, customer_id: int) -> int:
    """``customer_id``, once it is known that this actor's stores may see that customer."""
    customers.check_customer_in_scope(session=s, customer_id=customer_id, store_ids=actor.store_ids)
    return customer_id


def _member_in_scope(s: Session, actor: Actor, member: MemberRef) -> None:
    if actor.store_ids is not None:
        _scoped(s, actor, service.resolve_member(session=s, member=member))


@router.get("/lookup", response_model=LookupRead)
def lookup(
    db: Db,
    actor: CurrentActor,
    customer_id: Annotated[int | None, Query(ge=1)] = None,
    phone: Annotated[str | None, Query(max_length=40)] = None,
    member_card: Annotated[str | None, Query(max_length=128)] = None,
) -> LookupRead:
    """A member at the till, by phone, member card or id: tier, balance, usable coupons."""
    member = MemberRef(customer_id=customer_id, phone=phone, member_card=member_card)

    def work(s: Session) -> LookupRead:
        _member_in_scope(s, actor, member)
        return service.lookup_member(session=s, member=member)

    return db.read(work)


@router.post("/quote", response_model=QuoteRead)
def quote(quote_in: QuoteIn, actor: CurrentActor, db: Db) -> QuoteRead:
    """Points to earn, coupons and their best combination, the most points usable."""

    def work(s: Session) -> QuoteRead:
        _member_in_scope(s, actor, quote_in.member)
        return service.quote_basket(session=s, quote_in=quote_in)

    return db.read(work)


@router.post(
    "/commit",
    response_model=CommitRead,
    status_code=201,
    responses={200: {"model": CommitRead, "description": "Committed before: the first result"}},
)
def commit(commit_in: CommitIn, response: Response, db: Db) -> CommitRead:
    result = db.write(lambda s: service.commit_order(session=s, commit_in=commit_in))
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
def refund(refund_in: LoyaltyRefundIn, response: Response, db: Db) -> LoyaltyRefundRead:
    result = db.write(lambda s: service.apply_refund(session=s, refund_in=refund_in))
    if not result.created:
        response.status_code = 200
        response.headers.update(_REPLAYED)
    return result


@router.get("/customers/{customer_id}/balance", response_model=Balance)
def balance(customer_id: PathId, actor: CurrentActor, db: Db) -> Balance:
    return db.read(
        lambda s: service.get_balance(session=s, customer_id=_scoped(s, actor, customer_id))
    )


@router.get("/customers/{customer_id}/tier", response_model=TierRead)
def tier(customer_id: PathId, actor: CurrentActor, db: Db) -> TierRead:
    return db.read(
        lambda s: service.get_tier(session=s, customer_id=_scoped(s, actor, customer_id))
    )


@router.get("/customers/{customer_id}/lots", response_model=list[LotRead])
def lots(customer_id: PathId, actor: CurrentActor, db: Db) -> list[LotRead]:
    return db.read(
        lambda s: service.list_lots(session=s, customer_id=_scoped(s, actor, customer_id))
    )


@router.get("/customers/{customer_id}/entries", response_model=list[EntryRead])
def entries(customer_id: PathId, actor: CurrentActor, db: Db) -> list[EntryRead]:
    return db.read(
        lambda s: service.list_entries(session=s, customer_id=_scoped(s, actor, customer_id))
    )


@router.post("/customers/{customer_id}/adjustments", response_model=Movement, status_code=201)
def adjust(
    customer_id: PathId, adjustment_in: AdjustmentIn, actor: CurrentActor, db: Db
) -> Movement:
    return db.write(
        lambda s: service.adjust_points(
            session=s, customer_id=_scoped(s, actor, customer_id), adjustment_in=adjustment_in
        )
    )


@router.get("/customers/{customer_id}/coupons", response_model=list[CouponRead])
def coupons(customer_id: PathId, actor: CurrentActor, db: Db) -> list[CouponRead]:
    return db.read(
        lambda s: service.list_customer_coupons(
            session=s, customer_id=_scoped(s, actor, customer_id)
        )
    )


@router.post("/coupon-templates", response_model=CouponTemplateRead, status_code=201)
def create_template(template_in: CouponTemplateCreate, db: Db) -> CouponTemplateRead:
    return db.write(lambda s: service.create_coupon_template(session=s, template_in=template_in))


@router.post("/coupons", response_model=CouponRead, status_code=201)
def issue(issue_in: CouponIssue, db: Db) -> CouponRead:
    return db.write(lambda s: service.issue_coupon(session=s, issue_in=issue_in))
