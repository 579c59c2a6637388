"""Promotions: bonus points for a time, a weekday (会员日) or some goods, and spend-threshold
gifts (满额赠礼) with stock and a per-member limit. No commits here.

The quote shows what runs for a basket and how far it is from each gift; the commit earns the
bonus and hands out the gifts, once per order; a full refund returns a gift's stock.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Row, Select, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.core import caches
from patron.core.actor import Actor
from patron.core.db import core_rows, database_key
from patron.core.errors import Conflict, NotFound
from patron.core.models import UTCDateTime
from patron.loyalty import rules
from patron.loyalty.models import Promotion, PromotionGrant
from patron.loyalty.schemas import GiftRead, PromotionCreate, PromotionQuote, PromotionRead

# A running promotion as the till reads it: a row of the promotion table (the model's names).
Running = tuple[Row[Any], rules.PromotionTerms]


def _terms(row: Promotion | Row[Any]) -> rules.PromotionTerms:
    scope = row.scope
    return rules.PromotionTerms(
        code=row.code,
        kind=rules.PromotionKind(row.kind),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        weekdays=frozenset(scope.get("weekdays", [])),
        store_codes=frozenset(scope.get("store_codes", [])),
        channels=frozenset(scope.get("channels", [])),
        categories=tuple(scope.get("categories", [])),
        skus=frozenset(scope.get("skus", [])),
        multiplier_bp=row.multiplier_bp,
        threshold_fen=row.threshold_fen,
    )


def _read(row: Promotion) -> PromotionRead:
    scope = row.scope
    return PromotionRead(
        code=row.code,
        name=row.name,
        kind=row.kind,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        weekdays=scope.get("weekdays", []),
        store_codes=scope.get("store_codes", []),
        channels=scope.get("channels", []),
        categories=scope.get("categories", []),
        skus=scope.get("skus", []),
        multiplier_bp=row.multiplier_bp,
        threshold_fen=row.threshold_fen,
        gift_sku=row.gift_sku,
        gift_name=row.gift_name,
        stock=row.stock,
        awarded=row.awarded,
        per_customer_limit=row.per_customer_limit,
        active=row.active,
    )


def create_promotion(
    *, session: Session, promotion_in: PromotionCreate, actor: Actor
) -> PromotionRead:
    if session.scalar(select(Promotion.id).where(Promotion.code == promotion_in.code)):
        raise Conflict(
            f"promotion {promotion_in.code!r} exists",
            message_code="code_taken",
        )
    row = Promotion(
        code=promotion_in.code,
        name=promotion_in.name,
        kind=promotion_in.kind,
        starts_at=promotion_in.starts_at,
        ends_at=promotion_in.ends_at,
        scope={
            "weekdays": sorted(set(promotion_in.weekdays)),
            "store_codes": sorted(set(promotion_in.store_codes)),
            "channels": sorted(set(promotion_in.channels)),
            "categories": sorted(set(promotion_in.categories)),
            "skus": sorted(set(promotion_in.skus)),
        },
        multiplier_bp=promotion_in.multiplier_bp,
        threshold_fen=promotion_in.threshold_fen,
        gift_sku=promotion_in.gift_sku,
        gift_name=promotion_in.gift_name,
        stock=promotion_in.stock,
        awarded=0,
        per_customer_limit=promotion_in.per_customer_limit,
        active=True,
    )
    session.add(row)
    session.flush()
    forget_till_promotions()
    record_audit(
        session=session,
        actor=actor,
        action="promotion.create",
        target_kind="promotion",
        target_id=row.code,
        details={"kind": row.kind},
    )
    return _read(row)


def end_promotion(*, session: Session, code: str, actor: Actor) -> PromotionRead:
    """Switch a promotion off now (it stays on record)."""
    row = session.scalar(select(Promotion).where(Promotion.code == code))
    if row is None:
        raise NotFound(f"no promotion {code!r}")
    row.active = False
    forget_till_promotions()
    record_audit(
        session=session,
        actor=actor,
        action="promotion.end",
        target_kind="promotion",
        target_id=code,
    )
    session.flush()
    return _read(row)


def list_promotions(*, session: Session, running_at: datetime | None = None) -> list[PromotionRead]:
    query = select(Promotion).order_by(Promotion.starts_at.desc(), Promotion.id.desc())
    if running_at is not None:
        query = query.where(
            Promotion.active.is_(True),
            Promotion.starts_at <= running_at,
            Promotion.ends_at > running_at,
        )
    return [_read(r) for r in session.scalars(query)]


def running(
    session: Session,
    *,
    at: datetime,
    basket: rules.Basket,
    programme: rules.Programme,
) -> list[Running]:
    """Promotions on for this order's time, store and channel."""
    found = []
    for row in core_rows(session, _running_statement(), {"at": at}):
        terms = _terms(row)
        if rules.runs(
            terms, at=at, store_code=basket.store_code, channel=basket.channel, zone=programme.zone
        ):
            found.append((row, terms))
    return found


# Every quote asks which promotions run, and they change a few times a day: a till's quote
# reads them from this process's copy, kept for TILL_PROMOTION_SECONDS per database and
# dropped as soon as this process creates or ends a promotion or hands out a gift. Another
# process's change reaches quotes here within that time; committing an order reads afresh.
TILL_PROMOTION_SECONDS = 10.0
_till_promotions: dict[str, tuple[float, datetime, list[Running]]] = {}


def till_running(
    session: Session, *, at: datetime, basket: rules.Basket, programme: rules.Programme
) -> list[Running]:
    """``running`` for a till's quote, from the copy described above."""
    now = time.monotonic()
    key = database_key(session)
    hit = _till_promotions.get(key)
    # The copy holds what had not ended at its own ``at``: good for that time and later.
    if hit is None or now - hit[0] >= TILL_PROMOTION_SECONDS or at < hit[1]:
        rows = core_rows(session, _not_ended_statement(), {"at": at})
        hit = _till_promotions[key] = (now, at, [(row, _terms(row)) for row in rows])
    return [
        (row, terms)
        for row, terms in hit[2]
        if rules.runs(
            terms, at=at, store_code=basket.store_code, channel=basket.channel, zone=programme.zone
        )
    ]


def forget_till_promotions() -> None:
    _till_promotions.clear()


caches.register("loyalty.till_promotions", forget_till_promotions, max_age_s=TILL_PROMOTION_SECONDS)


@cache
def _not_ended_statement() -> Select[*tuple[Any, ...]]:
    return (
        select(*Promotion.__table__.c)
        .where(Promotion.active.is_(True), Promotion.ends_at > bindparam("at", type_=UTCDateTime()))
        .order_by(Promotion.id)
    )


@cache
def _running_statement() -> Select[*tuple[Any, ...]]:
    # Built once, plain columns: every commit asks (quotes ask ``till_running``).
    at = bindparam("at", type_=UTCDateTime())
    return (
        select(*Promotion.__table__.c)
        .where(Promotion.active.is_(True), Promotion.starts_at <= at, Promotion.ends_at > at)
        .order_by(Promotion.id)
    )


def bonuses(found: Sequence[Running]) -> list[rules.PromotionTerms]:
    return [t for _, t in found if t.kind == rules.PromotionKind.BONUS_POINTS]


def _held(session: Session, promotion_id: int, customer_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(PromotionGrant)
            .where(
                PromotionGrant.promotion_id == promotion_id,
                PromotionGrant.customer_id == customer_id,
                PromotionGrant.reversed_at.is_(None),
            )
        )
        or 0
    )


def _gift_refusal(session: Session, row: Row[Any], customer_id: int) -> str | None:
    if row.stock is not None and row.awarded >= row.stock:
        return "out of stock"
    if row.per_customer_limit is not None and (
        _held(session, row.id, customer_id) >= row.per_customer_limit
    ):
        return "the member has had this gift as often as allowed"
    return None


def quote(
    session: Session,
    *,
    found: Sequence[Running],
    basket: rules.Basket,
    paid_fen: Sequence[int],
    customer_id: int,
    programme: rules.Programme,
) -> list[PromotionQuote]:
    out = []
    for row, terms in found:
        if terms.kind == rules.PromotionKind.BONUS_POINTS:
            covered = any(rules.covers(terms, ln) for ln in basket.lines)
            out.append(
                PromotionQuote(
                    code=row.code,
                    name=row.name,
                    kind=row.kind,
                    multiplier_bp=row.multiplier_bp,
                    qualifies=covered,
                    reason=None if covered else "no goods in the basket are covered",
                )
            )
            continue
        spend = rules.qualifying_spend_fen(programme, terms, basket.lines, paid_fen)
        refusal = _gift_refusal(session, row, customer_id)
        out.append(
            PromotionQuote(
                code=row.code,
                name=row.name,
                kind=row.kind,
                gift_sku=row.gift_sku,
                gift_name=row.gift_name,
                spend_fen=spend,
                threshold_fen=row.threshold_fen,
                short_fen=max(row.threshold_fen - spend, 0),
                qualifies=spend >= row.threshold_fen and refusal is None,
                reason=refusal,
            )
        )
    return out


def grant_gifts(
    session: Session,
    *,
    found: Sequence[Running],
    basket: rules.Basket,
    paid_fen: Sequence[int],
    customer_id: int,
    order_id: int,
    programme: rules.Programme,
    now: datetime,
) -> list[GiftRead]:
    """Hand out every gift this order qualifies for, while stock lasts."""
    gifts = []
    for row, terms in found:
        if terms.kind != rules.PromotionKind.THRESHOLD_GIFT:
            continue
        spend = rules.qualifying_spend_fen(programme, terms, basket.lines, paid_fen)
        if spend < row.threshold_fen:
            continue
        # The member's account is locked by the caller, so the per-member count is stable.
        if row.per_customer_limit is not None and (
            _held(session, row.id, customer_id) >= row.per_customer_limit
        ):
            continue
        # Stock is taken in one statement, so two tills never hand out the last gift twice.
        taken = session.execute(
            update(Promotion)
            .where(
                Promotion.id == row.id,
                or_(Promotion.stock.is_(None), Promotion.awarded < Promotion.stock),
            )
            .values(awarded=Promotion.awarded + 1)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            continue
        forget_till_promotions()  # the stock a quote shows
        session.add(
            PromotionGrant(
                promotion_id=row.id,
                customer_id=customer_id,
                order_id=order_id,
                gift_sku=row.gift_sku,
                spend_fen=spend,
                granted_at=now,
            )
        )
        gifts.append(
            GiftRead(promotion_code=row.code, gift_sku=row.gift_sku, gift_name=row.gift_name)
        )
    session.flush()
    return gifts


def gifts_for_order(session: Session, order_id: int) -> list[GiftRead]:
    rows = session.execute(
        select(Promotion.code, PromotionGrant.gift_sku, Promotion.gift_name)
        .join(Promotion, Promotion.id == PromotionGrant.promotion_id)
        .where(PromotionGrant.order_id == order_id, PromotionGrant.reversed_at.is_(None))
        .order_by(PromotionGrant.id)
    ).all()
    return [GiftRead(promotion_code=c, gift_sku=s, gift_name=n) for c, s, n in rows]


def reverse_gifts(session: Session, *, order_id: int, now: datetime) -> int:
    """A full refund: the gifts come back with the goods, their stock is free again."""
    grants = list(
        session.scalars(
            select(PromotionGrant).where(
                PromotionGrant.order_id == order_id, PromotionGrant.reversed_at.is_(None)
            )
        )
    )
    for grant in grants:
        session.execute(
            update(Promotion)
            .where(Promotion.id == grant.promotion_id)
            .values(awarded=Promotion.awarded - 1)
            .execution_options(synchronize_session=False)
        )
        grant.reversed_at = now
        forget_till_promotions()
    session.flush()
    return len(grants)
