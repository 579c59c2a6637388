"""Gifts for points (积分换礼): a catalogue of goods, coupons and services a member takes for
points (and an optional cash top-up), at the till, online or on the console. No commits here.

A redemption locks the member's account, takes one unit of stock in one conditional
statement (two tills never hand out the last unit twice), spends the points through the
ledger (soonest-expiring lots first) and records which lots paid, so that cancelling it gives
those points back to the same lots and the unit back to its stock: reversed whole.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.catalog import service as catalog
from patron.core import caches
from patron.core.actor import Actor
from patron.core.db import database_key
from patron.core.errors import Conflict, Forbidden, InvalidInput
from patron.customers import service as customers
from patron.loyalty import ledger, rules
from patron.loyalty.accounts import get_programme, now_or
from patron.loyalty.coupons import issue_coupon
from patron.loyalty.exceptions import (
    CouponTemplateNotFound,
    RedemptionCancelled,
    RedemptionNotFound,
    RewardLimitReached,
    RewardNotFound,
    RewardOutOfStock,
    RewardUnavailable,
)
from patron.loyalty.models import (
    Coupon,
    CouponStatus,
    CouponTemplate,
    EntryKind,
    Reward,
    RewardRedemption,
    RewardStock,
)
from patron.loyalty.reward_schemas import (
    AffordableReward,
    RedeemIn,
    RedemptionRead,
    RewardCreate,
    RewardFigures,
    RewardRead,
    RewardReport,
    StoreStockRead,
)
from patron.loyalty.schemas import CouponIssue

REDEEMED, CANCELLED = "redeemed", "cancelled"
VOID = "void"  # a coupon given as a gift whose redemption was cancelled


def _store_stock(
    session: Session, reward_ids: Sequence[int], store_ids: frozenset[int] | None
) -> dict[int, list[StoreStockRead]]:
    if not reward_ids:
        return {}
    codes = catalog.store_codes_by_id(session=session)
    query = select(RewardStock).where(RewardStock.reward_id.in_(reward_ids))
    if store_ids is not None:
        query = query.where(RewardStock.store_id.in_(sorted(store_ids)))
    out: dict[int, list[StoreStockRead]] = {}
    for row in session.scalars(query.order_by(RewardStock.store_id)):
        out.setdefault(row.reward_id, []).append(
            StoreStockRead(
                store_code=codes.get(row.store_id, "?"), stock=row.stock, taken=row.taken
            )
        )
    return out


def _read(row: Reward, stock: list[StoreStockRead]) -> RewardRead:
    return RewardRead(
        code=row.code,
        name=row.name,
        kind=row.kind,
        points=row.points,
        cash_fen=row.cash_fen,
        sku=row.sku,
        coupon_template_code=row.coupon_template_code,
        tiers=list(row.tiers),
        fulfilment=list(row.fulfilment),
        per_member_limit=row.per_member_limit,
        limit_period=row.limit_period,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        image_url=row.image_url,
        stock=row.stock,
        taken=row.taken,
        store_stock=stock,
        active=row.active,
    )


def create_reward(*, session: Session, reward_in: RewardCreate, actor: Actor) -> RewardRead:
    """A new gift in the catalogue (audited)."""
    if session.scalar(select(Reward.id).where(Reward.code == reward_in.code)):
        raise Conflict(f"reward {reward_in.code!r} exists", message_code="code_taken")
    template = reward_in.coupon_template_code
    if template and not session.scalar(
        select(CouponTemplate.id).where(CouponTemplate.code == template)
    ):
        raise CouponTemplateNotFound(
            f"no coupon template {template!r}", message_code="prize_template_unknown", code=template
        )
    stores = catalog.stores_by_code(
        session=session, codes={s.store_code for s in reward_in.store_stock}
    )
    for i, item in enumerate(reward_in.store_stock):
        if item.store_code not in stores:
            raise InvalidInput(
                f"store_stock.{i}.store_code",
                f"no store {item.store_code!r}",
                message_code="store_unknown",
                code=item.store_code,
            )
    row = Reward(
        code=reward_in.code,
        name=reward_in.name,
        kind=reward_in.kind,
        points=reward_in.points,
        cash_fen=reward_in.cash_fen,
        sku=reward_in.sku,
        coupon_template_code=template,
        tiers=sorted(set(reward_in.tiers)),
        fulfilment=sorted({f.value for f in reward_in.fulfilment}),
        per_member_limit=reward_in.per_member_limit,
        limit_period=reward_in.limit_period,
        starts_at=reward_in.starts_at,
        ends_at=reward_in.ends_at,
        image_url=reward_in.image_url,
        stock=reward_in.stock,
        taken=0,
        active=True,
    )
    session.add(row)
    session.flush()
    session.add_all(
        RewardStock(reward_id=row.id, store_id=stores[s.store_code].id, stock=s.stock, taken=0)
        for s in reward_in.store_stock
    )
    session.flush()
    forget_till_rewards()
    record_audit(
        session=session,
        actor=actor,
        action="reward.create",
        target_kind="reward",
        target_id=row.code,
        details={"points": row.points, "stores": len(reward_in.store_stock)},
    )
    return _read(row, _store_stock(session, [row.id], None).get(row.id, []))


def end_reward(*, session: Session, code: str, actor: Actor) -> RewardRead:
    """Take a gift off the catalogue now (audited); its redemptions stay."""
    row = _reward(session, code)
    row.active = False
    forget_till_rewards()
    record_audit(
        session=session, actor=actor, action="reward.end", target_kind="reward", target_id=code
    )
    session.flush()
    return _read(row, _store_stock(session, [row.id], None).get(row.id, []))


def _reward(session: Session, code: str) -> Reward:
    row = session.scalar(select(Reward).where(Reward.code == code))
    if row is None:
        raise RewardNotFound(f"no reward {code!r}", code=code)
    return row


def list_rewards(
    *, session: Session, store_ids: frozenset[int] | None = None, active_at: datetime | None = None
) -> list[RewardRead]:
    """The catalogue, newest first; a store-bound role sees its own stores' stock only."""
    query = select(Reward).order_by(Reward.id.desc())
    if active_at is not None:
        query = query.where(Reward.active.is_(True), Reward.starts_at <= active_at)
    rows = [
        r
        for r in session.scalars(query)
        if active_at is None or r.ends_at is None or active_at < r.ends_at
    ]
    stock = _store_stock(session, [r.id for r in rows], store_ids)
    return [_read(r, stock.get(r.id, [])) for r in rows]


def _period_start(period: str, now: datetime, programme: rules.Programme) -> datetime | None:
    local = now.astimezone(programme.zone)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "month":
        return day.replace(day=1)
    if period == "year":
        return day.replace(month=1, day=1)
    return None


def _check_limit(
    session: Session, reward: Reward, customer_id: int, now: datetime, programme: rules.Programme
) -> None:
    if reward.per_member_limit is None:
        return
    query = select(func.count()).where(
        RewardRedemption.reward_id == reward.id,
        RewardRedemption.customer_id == customer_id,
        RewardRedemption.status == REDEEMED,
    )
    since = _period_start(reward.limit_period, now, programme)
    if since is not None:
        query = query.where(RewardRedemption.redeemed_at >= since)
    had = int(session.scalar(query) or 0)
    if had >= reward.per_member_limit:
        raise RewardLimitReached(
            f"the member has taken {reward.code!r} {had} times this {reward.limit_period}",
            limit=reward.per_member_limit,
        )


def _take_stock(
    session: Session, reward: Reward, store_id: int | None
) -> tuple[int | None, str | None]:
    """One unit of the reward, in one conditional statement; (the store's stock row, None)
    or (None, why not)."""
    per_store = session.scalar(select(RewardStock.id).where(RewardStock.reward_id == reward.id))
    if per_store is not None:
        if store_id is None:
            raise InvalidInput("store_code", "this gift is stocked per store: name the store")
        stock_id = session.scalar(
            select(RewardStock.id).where(
                RewardStock.reward_id == reward.id, RewardStock.store_id == store_id
            )
        )
        taken = (
            session.execute(
                update(RewardStock)
                .where(RewardStock.id == stock_id, RewardStock.taken < RewardStock.stock)
                .values(taken=RewardStock.taken + 1)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            if stock_id is not None
            else 0
        )
        return (stock_id, None) if taken == 1 else (None, "out of stock in this store")
    if reward.stock is None:
        return None, None
    taken = session.execute(
        update(Reward)
        .where(Reward.id == reward.id, Reward.taken < Reward.stock)
        .values(taken=Reward.taken + 1)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return (None, None) if taken == 1 else (None, "out of stock")


def _check_offered(reward: Reward, tier_code: str, fulfilment: str, now: datetime) -> None:
    if not reward.active or now < reward.starts_at or (reward.ends_at and now >= reward.ends_at):
        raise RewardUnavailable(f"{reward.code!r} is not on offer now", code=reward.code)
    if reward.tiers and tier_code not in reward.tiers:
        raise RewardUnavailable(
            f"{reward.code!r} is for {', '.join(reward.tiers)} members",
            message_code="reward_not_for_tier",
            tiers=", ".join(reward.tiers),
        )
    if fulfilment not in reward.fulfilment:
        raise InvalidInput(
            "fulfilment",
            f"this gift is {' or '.join(reward.fulfilment)} only",
            message_code="reward_fulfilment",
        )


def _store_id(session: Session, code: str | None, store_ids: frozenset[int] | None) -> int | None:
    if code is None:
        return None
    store = catalog.get_store_by_code(session=session, code=code)
    if store is None:
        raise InvalidInput(
            "store_code", f"no store {code!r}", message_code="store_unknown", code=code
        )
    if store_ids is not None and store.id not in store_ids:
        raise Forbidden(f"store {code!r} is not one of yours")
    return store.id


def redeem_reward(
    *,
    session: Session,
    redeem_in: RedeemIn,
    now: datetime | None = None,
    programme: rules.Programme | None = None,
    store_ids: frozenset[int] | None = None,
    staff: str | None = None,
) -> RedemptionRead:
    """A member takes a gift for points, once per idempotency key."""
    now, programme = now_or(now), programme or get_programme(session, fresh=True)
    customer_id = customers.active_customer_id(session=session, customer_id=redeem_in.customer_id)
    customers.check_customer_in_scope(session=session, customer_id=customer_id, store_ids=store_ids)
    store_id = _store_id(session, redeem_in.store_code, store_ids)
    if store_id is None and store_ids is not None:
        raise InvalidInput("store_code", "name the store the gift is taken from")
    reward = _reward(session, redeem_in.reward_code)
    account = ledger.open_account(session, customer_id, now, programme)  # serialises the member
    done = session.scalar(
        select(RewardRedemption).where(
            RewardRedemption.customer_id == customer_id,
            RewardRedemption.idempotency_key == redeem_in.idempotency_key,
        )
    )
    if done is not None:
        if done.reward_id != reward.id:
            raise Conflict("idempotency_key was used for another gift")
        return _redemption_read(session, done, created=False)
    _check_offered(reward, account.tier_code, redeem_in.fulfilment, now)
    _check_limit(session, reward, customer_id, now, programme)
    stock_id, refusal = _take_stock(session, reward, store_id)
    if refusal is not None:
        raise RewardOutOfStock(f"{reward.code!r}: {refusal}", code=reward.code)
    states = ledger.lots(session, account.id)
    ledger.expire(session, states, now)
    entries, _short = ledger.consume(
        session,
        states,
        reward.points,
        now,
        EntryKind.REDEEM,
        reason=f"gift {reward.code}",
        staff=staff,
    )
    spent: dict[str, int] = {}
    for e in entries:
        spent[str(e.lot_id)] = spent.get(str(e.lot_id), 0) - e.points
    coupon_id = None
    if reward.coupon_template_code:
        coupon = issue_coupon(
            session=session,
            issue_in=CouponIssue(
                template_code=reward.coupon_template_code, customer_id=customer_id
            ),
            now=now,
            programme=programme,
        )
        coupon_id = coupon.id
    row = RewardRedemption(
        reward_id=reward.id,
        customer_id=customer_id,
        store_id=store_id,
        stock_id=stock_id,
        idempotency_key=redeem_in.idempotency_key,
        channel=redeem_in.channel,
        fulfilment=redeem_in.fulfilment,
        points=reward.points,
        cash_fen=reward.cash_fen,
        spent_by_lot=spent,
        coupon_id=coupon_id,
        status=REDEEMED,
        staff=staff,
        redeemed_at=now,
    )
    session.add(row)
    session.flush()
    forget_till_rewards()  # the stock a quote shows
    return _redemption_read(session, row, created=True)


def cancel_redemption(
    *,
    session: Session,
    redemption_id: int,
    actor: Actor,
    now: datetime | None = None,
    programme: rules.Programme | None = None,
) -> RedemptionRead:
    """Undo a redemption whole: its points back to the lots that paid, its unit back to
    stock, its coupon void (refused once the coupon has been used). Audited."""
    now, programme = now_or(now), programme or get_programme(session, fresh=True)
    row = session.get(RewardRedemption, redemption_id)
    if row is None or (
        actor.store_ids is not None
        and (row.store_id is None or row.store_id not in actor.store_ids)
    ):
        raise RedemptionNotFound(f"no redemption {redemption_id}")
    account = ledger.open_account(session, row.customer_id, now, programme)
    session.refresh(row)  # as it is now the account is locked
    if row.status != REDEEMED:
        raise RedemptionCancelled(f"redemption {redemption_id} was cancelled already")
    if row.coupon_id is not None:
        voided = session.execute(
            update(Coupon)
            .where(Coupon.id == row.coupon_id, Coupon.status == CouponStatus.ISSUED)
            .values(status=VOID)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if voided != 1:
            raise RedemptionCancelled(
                "the gift's coupon has been used", message_code="redemption_coupon_used"
            )
    states = {s.lot.id: s for s in ledger.lots(session, account.id)}
    for lot_id, points in sorted(row.spent_by_lot.items()):
        ledger.entry(
            session,
            states[int(lot_id)],
            EntryKind.RETURN_REDEEMED,
            points,
            now,
            reason=f"gift {redemption_id} cancelled",
            staff=actor.name,
        )
    if row.stock_id is not None:
        session.execute(
            update(RewardStock)
            .where(RewardStock.id == row.stock_id)
            .values(taken=RewardStock.taken - 1)
            .execution_options(synchronize_session=False)
        )
    else:
        session.execute(
            update(Reward)
            .where(Reward.id == row.reward_id, Reward.stock.is_not(None))
            .values(taken=Reward.taken - 1)
            .execution_options(synchronize_session=False)
        )
    row.status, row.cancelled_at = CANCELLED, now
    session.flush()
    forget_till_rewards()
    record_audit(
        session=session,
        actor=actor,
        action="reward.cancel",
        target_kind="reward_redemption",
        target_id=row.id,
        details={"points": row.points},
    )
    return _redemption_read(session, row, created=False)


def _redemption_read(session: Session, row: RewardRedemption, *, created: bool) -> RedemptionRead:
    reward = session.get(Reward, row.reward_id)
    assert reward is not None
    coupon_code = (
        session.scalar(select(Coupon.code).where(Coupon.id == row.coupon_id))
        if row.coupon_id
        else None
    )
    store_code = (
        catalog.store_codes_by_id(session=session).get(row.store_id) if row.store_id else None
    )
    return RedemptionRead(
        id=row.id,
        created=created,
        reward_code=reward.code,
        reward_name=reward.name,
        customer_id=row.customer_id,
        store_code=store_code,
        channel=row.channel,
        fulfilment=row.fulfilment,
        points=row.points,
        cash_fen=row.cash_fen,
        coupon_code=coupon_code,
        status=row.status,
        redeemed_at=row.redeemed_at,
        cancelled_at=row.cancelled_at,
    )


def list_redemptions(
    *,
    session: Session,
    store_ids: frozenset[int] | None = None,
    customer_id: int | None = None,
    limit: int = 100,
) -> list[RedemptionRead]:
    """The latest redemptions, newest first; a store-bound role sees its stores' only."""
    query = select(RewardRedemption)
    if customer_id is not None:
        query = query.where(RewardRedemption.customer_id == customer_id)
    if store_ids is not None:
        query = query.where(RewardRedemption.store_id.in_(sorted(store_ids)))
    rows = session.scalars(query.order_by(RewardRedemption.id.desc()).limit(limit))
    return [_redemption_read(session, r, created=False) for r in rows]


def reward_report(
    *,
    session: Session,
    start: datetime,
    end: datetime,
    store_ids: frozenset[int] | None = None,
    programme: rules.Programme | None = None,
) -> RewardReport:
    """Redemptions in [start, end): how many, the points burned and what they were worth
    (the liability released), and the most taken gifts by store."""
    programme = programme or get_programme(session)
    r = RewardRedemption
    live = r.status == REDEEMED
    where: list[Any] = [r.redeemed_at >= start, r.redeemed_at < end]
    if store_ids is not None:
        where.append(r.store_id.in_(sorted(store_ids)))
    count, cancelled, points, cash = session.execute(
        select(
            func.count(case((live, r.id))),
            func.count(case((~live, r.id))),
            func.coalesce(func.sum(case((live, r.points), else_=0)), 0),
            func.coalesce(func.sum(case((live, r.cash_fen), else_=0)), 0),
        ).where(*where)
    ).one()
    codes = catalog.store_codes_by_id(session=session)
    popular = [
        RewardFigures(
            reward_code=code,
            reward_name=name,
            store_code=codes.get(store_id) if store_id else None,
            redemptions=int(n),
            points=int(p),
        )
        for code, name, store_id, n, p in session.execute(
            select(Reward.code, Reward.name, r.store_id, func.count(r.id), func.sum(r.points))
            .join(Reward, Reward.id == r.reward_id)
            .where(*where, live)
            .group_by(Reward.code, Reward.name, r.store_id)
            .order_by(func.count(r.id).desc(), Reward.code)
            .limit(50)
        )
    ]
    return RewardReport(
        start=start,
        end=end,
        redemptions=int(count),
        cancelled=int(cancelled),
        points_burned=int(points),
        liability_released_fen=rules.points_value_fen(programme, int(points)),
        cash_fen=int(cash),
        popular=popular,
    )


# The till's quote shows the gifts a member can afford. The catalogue changes rarely: each
# process keeps a copy for TILL_REWARD_SECONDS, dropped when it changes one; a redemption
# re-checks everything.
TILL_REWARD_SECONDS = 10.0
_till_rewards: dict[str, tuple[float, list[Reward]]] = {}


def _catalogue(session: Session) -> list[Reward]:
    key, clock = database_key(session), time.monotonic()
    hit = _till_rewards.get(key)
    if hit is None or clock - hit[0] >= TILL_REWARD_SECONDS:
        rows = list(session.scalars(select(Reward).where(Reward.active.is_(True))))
        for row in rows:
            session.expunge(row)
        hit = _till_rewards[key] = (clock, rows)
    return hit[1]


def affordable_rewards(
    session: Session, *, tier_code: str, available: int, at: datetime
) -> list[AffordableReward]:
    """Gifts on offer at ``at`` for this tier that ``available`` points pay for, dearest first."""
    out = [
        AffordableReward(code=r.code, name=r.name, points=r.points, cash_fen=r.cash_fen)
        for r in _catalogue(session)
        if r.points <= available
        and r.starts_at <= at
        and (r.ends_at is None or at < r.ends_at)
        and (not r.tiers or tier_code in r.tiers)
        and (r.stock is None or r.taken < r.stock)
    ]
    return sorted(out, key=lambda a: (-a.points, a.code))[:20]


def forget_till_rewards() -> None:
    _till_rewards.clear()


caches.register("loyalty.till_rewards", forget_till_rewards, max_age_s=TILL_REWARD_SECONDS)
