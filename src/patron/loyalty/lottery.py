"""Lucky draws (抽奖): prizes with chances and stock, a points cost, a daily limit, and draws
anyone can check afterwards. No commits here.

A draw's roll is HMAC-SHA256(seed, "<lottery code>:<draw number>") reduced to 0 … 999,999;
the prizes, in their order, take up ``chance_ppm`` of that range each and what is left is
"no prize". A prize whose stock has run out is not given (the draw records the roll and the
prize it landed on, ``awarded`` false). The seed's SHA-256 is published when the lottery is
created and the seed itself once it has ended, so the operator cannot pick outcomes and every
customer can recompute theirs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.core.actor import Actor
from patron.core.errors import Conflict, InvalidInput
from patron.customers import service as customers
from patron.loyalty import ledger, rules
from patron.loyalty.accounts import get_programme
from patron.loyalty.coupons import issue_coupon
from patron.loyalty.exceptions import (
    CouponLimitReached,
    DrawLimitReached,
    LotteryClosed,
    LotteryNotFound,
)
from patron.loyalty.models import (
    Coupon,
    CouponTemplate,
    EntryKind,
    LotKind,
    Lottery,
    LotteryDraw,
    LotteryPrize,
)
from patron.loyalty.schemas import (
    CouponIssue,
    DrawCheck,
    DrawIn,
    DrawRead,
    LotteryCreate,
    LotteryRead,
    PrizeRead,
)

ROLL_RANGE = 1_000_000


def roll(seed: str, lottery_code: str, draw_no: int) -> int:
    """The draw's number in 0 … 999,999, from the seed alone (64 bits reduced: no visible bias)."""
    digest = hmac.new(
        bytes.fromhex(seed), f"{lottery_code}:{draw_no}".encode(), hashlib.sha256
    ).digest()
    return int.from_bytes(digest[:8], "big") % ROLL_RANGE


def prize_for(prizes: Sequence[LotteryPrize], value: int) -> LotteryPrize | None:
    """The prize whose slice of the range holds ``value`` (prizes in wheel order)."""
    edge = 0
    for prize in sorted(prizes, key=lambda p: p.position):
        edge += prize.chance_ppm
        if value < edge:
            return prize
    return None


def _get(session: Session, code: str, *, lock: bool = False) -> Lottery:
    query = select(Lottery).where(Lottery.code == code)
    if lock:
        query = query.with_for_update()
    lottery = session.scalar(query)
    if lottery is None:
        raise LotteryNotFound(f"no lottery {code!r}")
    return lottery


def _prizes(session: Session, lottery_id: int) -> list[LotteryPrize]:
    return list(
        session.scalars(
            select(LotteryPrize)
            .where(LotteryPrize.lottery_id == lottery_id)
            .order_by(LotteryPrize.position)
        )
    )


def _read(session: Session, lottery: Lottery, now: datetime) -> LotteryRead:
    return LotteryRead(
        code=lottery.code,
        name=lottery.name,
        starts_at=lottery.starts_at,
        ends_at=lottery.ends_at,
        cost_points=lottery.cost_points,
        daily_draws_per_customer=lottery.daily_draws_per_customer,
        seed_sha256=lottery.seed_sha256,
        seed=lottery.seed if now >= lottery.ends_at else None,
        draws=lottery.draws,
        prizes=[PrizeRead.model_validate(p) for p in _prizes(session, lottery.id)],
    )


def create_lottery(
    *, session: Session, lottery_in: LotteryCreate, actor: Actor, now: datetime
) -> LotteryRead:
    if session.scalar(select(Lottery.id).where(Lottery.code == lottery_in.code)):
        raise Conflict(f"lottery {lottery_in.code!r} exists", message_code="code_taken")
    for i, prize in enumerate(lottery_in.prizes):
        code = prize.coupon_template_code
        if code and not session.scalar(
            select(CouponTemplate.id).where(CouponTemplate.code == code)
        ):
            raise InvalidInput(
                f"prizes.{i}.coupon_template_code",
                f"no coupon template {code!r}",
                message_code="prize_template_unknown",
                code=code,
            )
    seed = secrets.token_hex(32)
    lottery = Lottery(
        code=lottery_in.code,
        name=lottery_in.name,
        starts_at=lottery_in.starts_at,
        ends_at=lottery_in.ends_at,
        cost_points=lottery_in.cost_points,
        daily_draws_per_customer=lottery_in.daily_draws_per_customer,
        seed=seed,
        seed_sha256=hashlib.sha256(bytes.fromhex(seed)).hexdigest(),
        draws=0,
        created_at=now,
    )
    session.add(lottery)
    session.flush()
    session.add_all(
        LotteryPrize(
            lottery_id=lottery.id,
            position=i,
            code=p.code,
            name=p.name,
            kind=p.kind,
            points=p.points,
            coupon_template_code=p.coupon_template_code,
            gift_sku=p.gift_sku,
            chance_ppm=p.chance_ppm,
            stock=p.stock,
            awarded=0,
        )
        for i, p in enumerate(lottery_in.prizes)
    )
    record_audit(
        session=session,
        actor=actor,
        action="lottery.create",
        target_kind="lottery",
        target_id=lottery.code,
        details={"prizes": len(lottery_in.prizes), "seed_sha256": lottery.seed_sha256},
    )
    session.flush()
    return _read(session, lottery, now)


def get_lottery(*, session: Session, code: str, now: datetime) -> LotteryRead:
    return _read(session, _get(session, code), now)


def list_lotteries(*, session: Session, now: datetime) -> list[LotteryRead]:
    rows = session.scalars(select(Lottery).order_by(Lottery.starts_at.desc(), Lottery.id.desc()))
    return [_read(session, r, now) for r in rows]


def _draw_read(session: Session, lottery: Lottery, row: LotteryDraw, *, created: bool) -> DrawRead:
    prize = session.get(LotteryPrize, row.prize_id) if row.prize_id else None
    coupon_code = (
        session.scalar(select(Coupon.code).where(Coupon.id == row.coupon_id))
        if row.coupon_id
        else None
    )
    won = prize is not None and row.awarded
    return DrawRead(
        created=created,
        lottery_code=lottery.code,
        draw_no=row.draw_no,
        customer_id=row.customer_id,
        roll=row.roll,
        prize_code=prize.code if prize else None,
        prize_name=prize.name if prize else None,
        awarded=row.awarded,
        points_spent=row.points_spent,
        points_won=prize.points if won and prize and prize.kind == "points" else 0,
        coupon_code=coupon_code,
        gift_sku=prize.gift_sku if won and prize and prize.kind == "gift" else None,
        drawn_at=row.drawn_at,
    )


def draw(
    *,
    session: Session,
    lottery_code: str,
    draw_in: DrawIn,
    now: datetime,
    programme: rules.Programme | None = None,
) -> DrawRead:
    """One draw for one member, once per idempotency key: pay its points, roll, award."""
    programme = programme or get_programme(session, fresh=True)
    lottery = _get(session, lottery_code, lock=True)  # serialises this lottery's draws
    done = session.scalar(
        select(LotteryDraw).where(
            LotteryDraw.lottery_id == lottery.id,
            LotteryDraw.idempotency_key == draw_in.idempotency_key,
        )
    )
    customer_id = customers.active_customer_id(session=session, customer_id=draw_in.customer_id)
    if done is not None:
        if done.customer_id != customer_id:
            raise Conflict("idempotency_key was used for another member's draw")
        return _draw_read(session, lottery, done, created=False)
    if not lottery.starts_at <= now < lottery.ends_at:
        raise LotteryClosed(f"lottery {lottery.code!r} is not open now")
    account = ledger.open_account(session, customer_id, now, programme)
    if lottery.daily_draws_per_customer is not None:
        local = now.astimezone(programme.zone)
        day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        drawn = session.scalar(
            select(func.count())
            .select_from(LotteryDraw)
            .where(
                LotteryDraw.lottery_id == lottery.id,
                LotteryDraw.customer_id == customer_id,
                LotteryDraw.drawn_at >= day_start,
                LotteryDraw.drawn_at < day_start + timedelta(days=1),
            )
        )
        if (drawn or 0) >= lottery.daily_draws_per_customer:
            raise DrawLimitReached(
                f"{drawn} draws today; the limit is {lottery.daily_draws_per_customer}"
            )
    draw_no = lottery.draws + 1
    states = ledger.lots(session, account.id)
    ledger.expire(session, states, now)
    if lottery.cost_points:
        ledger.consume(
            session,
            states,
            lottery.cost_points,
            now,
            EntryKind.REDEEM,
            reason=f"lottery {lottery.code} draw {draw_no}",
        )
    value = roll(lottery.seed, lottery.code, draw_no)
    prize = prize_for(_prizes(session, lottery.id), value)
    row = LotteryDraw(
        lottery_id=lottery.id,
        draw_no=draw_no,
        idempotency_key=draw_in.idempotency_key,
        customer_id=customer_id,
        roll=value,
        prize_id=prize.id if prize else None,
        awarded=False,
        points_spent=lottery.cost_points,
        drawn_at=now,
    )
    if prize is not None and (prize.stock is None or prize.awarded < prize.stock):
        row.awarded = True
        if prize.kind == "points":
            state, _ = ledger.new_lot(
                session,
                account,
                kind=LotKind.PRIZE,
                entry_kind=EntryKind.PRIZE,
                points=prize.points,
                earned_at=now,
                available_at=now,
                expires_at=now + timedelta(days=programme.expiry_days),
                reason=f"lottery {lottery.code} draw {draw_no}",
            )
            row.lot_id = state.lot.id
        elif prize.kind == "coupon":
            assert prize.coupon_template_code is not None
            try:
                coupon = issue_coupon(
                    session=session,
                    issue_in=CouponIssue(
                        template_code=prize.coupon_template_code, customer_id=customer_id
                    ),
                    now=now,
                    programme=programme,
                )
            except CouponLimitReached:
                row.awarded = False  # the member holds as many as the template allows
            else:
                row.coupon_id = session.scalar(select(Coupon.id).where(Coupon.code == coupon.code))
        if row.awarded:
            prize.awarded += 1
    lottery.draws = draw_no
    session.add(row)
    session.flush()
    return _draw_read(session, lottery, row, created=True)


def list_draws(
    *,
    session: Session,
    lottery_code: str,
    customer_id: int | None = None,
    limit: int = 100,
    store_ids: frozenset[int] | None = None,
) -> list[DrawRead]:
    """The latest draws, newest first; ``store_ids`` keeps those of these stores' members."""
    lottery = _get(session, lottery_code)
    query = select(LotteryDraw).where(LotteryDraw.lottery_id == lottery.id)
    if customer_id is not None:
        query = query.where(LotteryDraw.customer_id == customer_id)
    rows = list(session.scalars(query.order_by(LotteryDraw.draw_no.desc()).limit(limit)))
    if store_ids is not None:
        mine = customers.live_customer_ids(
            session=session, customer_ids=[r.customer_id for r in rows], store_ids=store_ids
        )
        rows = [r for r in rows if r.customer_id in mine]
    return [_draw_read(session, lottery, r, created=False) for r in rows]


def check_draws(*, session: Session, lottery_code: str) -> DrawCheck:
    """Recompute every recorded draw from the seed: the roll and the prize it lands on."""
    lottery = _get(session, lottery_code)
    prizes = _prizes(session, lottery.id)
    mismatches, checked = [], 0
    rows = session.execute(
        select(LotteryDraw.draw_no, LotteryDraw.roll, LotteryDraw.prize_id)
        .where(LotteryDraw.lottery_id == lottery.id)
        .order_by(LotteryDraw.draw_no)
    )
    for draw_no, recorded_roll, prize_id in rows:
        checked += 1
        value = roll(lottery.seed, lottery.code, draw_no)
        prize = prize_for(prizes, value)
        if value != recorded_roll or (prize.id if prize else None) != prize_id:
            mismatches.append(draw_no)
    return DrawCheck(lottery_code=lottery.code, draws_checked=checked, mismatches=mismatches)
