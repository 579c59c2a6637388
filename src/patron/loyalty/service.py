"""Loyalty services: points, tiers, coupons and the POS calls. No commits here.

Orders, refunds, customers and products are read through their domains' services.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any, cast

import orjson
from sqlalchemy import Row, Select, Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.catalog import service as catalog
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.db import core_rows
from patron.core.errors import InvalidInput
from patron.core.models import UTCDateTime
from patron.customers import service as customers
from patron.customers.exceptions import OutOfScope
from patron.loyalty import ledger, promotions, referrals, rules
from patron.loyalty import programme as programme_terms
from patron.loyalty.exceptions import (
    AlreadyCommitted,
    AnonymousOrder,
    CouponAlreadyUsed,
    CouponLimitReached,
    CouponNotApplicable,
    CouponNotFound,
    CouponTemplateNotFound,
    NotAMember,
    PointsOverLimit,
)
from patron.loyalty.models import (
    Coupon,
    CouponEvent,
    CouponStatus,
    CouponTemplate,
    EntryKind,
    LotKind,
    LoyaltyAccount,
    LoyaltyOrder,
    LoyaltyRefund,
    PointsEntry,
    PointsLot,
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
    CouponQuote,
    CouponRead,
    CouponScope,
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
from patron.orders import service as orders
from patron.orders.schemas import OrderRead


def get_programme(session: Session, *, fresh: bool = False) -> rules.Programme:
    """The programme's terms in force (``programme.current``): as read in the last few
    seconds for the till's reads; ``fresh`` for calls that write the ledger."""
    return programme_terms.current(session, fresh=fresh)


def _now(now: datetime | None) -> datetime:
    return now if now is not None else utcnow()


# ---------------------------------------------------------------------------- accounts


def _open_account(
    session: Session, customer_id: int, now: datetime, programme: rules.Programme
) -> LoyaltyAccount:
    """The member's account, locked; opened on first use."""
    return ledger.open_account(session, customer_id, now, programme)


def _account(session: Session, customer_id: int) -> LoyaltyAccount | None:
    return session.scalar(select(LoyaltyAccount).where(LoyaltyAccount.customer_id == customer_id))


def _movement(
    session: Session, account: LoyaltyAccount, rows: Sequence[PointsEntry], now: datetime
) -> Movement:
    session.flush()
    return Movement(
        points=sum(r.points for r in rows),
        entries=[EntryRead.model_validate(r) for r in rows],
        balance=ledger.balance(ledger.lots(session, account.id), now),
    )


# ------------------------------------------------------------------------------ points


def get_balance(*, session: Session, customer_id: int, now: datetime | None = None) -> Balance:
    account = _account(session, customer_id)
    if account is None:
        return _no_points()
    return ledger.balance(ledger.lots(session, account.id), _now(now))


def _no_points() -> Balance:
    """The balance of a member with no account yet (a new one each time: models are mutable)."""
    return Balance(available=0, pending=0, expired_unposted=0, ledger_total=0)


def get_ledger_total(*, session: Session, customer_id: int) -> int:
    """The plain sum of every ledger entry: what the balance is reconciled against."""
    total = session.scalar(
        select(func.coalesce(func.sum(PointsEntry.points), 0))
        .join(LoyaltyAccount, LoyaltyAccount.id == PointsEntry.account_id)
        .where(LoyaltyAccount.customer_id == customer_id)
    )
    return int(total or 0)


def list_lots(*, session: Session, customer_id: int) -> list[LotRead]:
    account = _account(session, customer_id)
    if account is None:
        return []
    return [
        LotRead(
            id=s.lot.id,
            kind=s.lot.kind,
            order_id=s.lot.order_id,
            points=s.lot.points,
            remaining=s.remaining,
            earned_at=s.lot.earned_at,
            available_at=s.lot.available_at,
            expires_at=s.lot.expires_at,
        )
        for s in ledger.lots(session, account.id)
    ]


def list_entries(*, session: Session, customer_id: int, limit: int = 200) -> list[EntryRead]:
    rows = session.scalars(
        select(PointsEntry)
        .join(LoyaltyAccount, LoyaltyAccount.id == PointsEntry.account_id)
        .where(LoyaltyAccount.customer_id == customer_id)
        .order_by(PointsEntry.id.desc())
        .limit(limit)
    )
    return [EntryRead.model_validate(r) for r in rows]


def redeem_points(
    *,
    session: Session,
    customer_id: int,
    points: int,
    now: datetime | None = None,
    order_id: int | None = None,
    reason: str | None = None,
    programme: rules.Programme | None = None,
) -> Movement:
    """Spend ``points`` (any part of the balance) from the soonest-expiring available lots."""
    if points <= 0:
        raise InvalidInput("points", "must be greater than 0")
    now, programme = _now(now), programme or get_programme(session, fresh=True)
    account = _open_account(session, customer_id, now, programme)
    states = ledger.lots(session, account.id)
    ledger.expire(session, states, now)
    rows, _ = ledger.consume(
        session, states, points, now, EntryKind.REDEEM, order_id=order_id, reason=reason
    )
    return _movement(session, account, rows, now)


def adjust_points(
    *,
    session: Session,
    customer_id: int,
    adjustment_in: AdjustmentIn,
    actor: Actor,
    now: datetime | None = None,
    programme: rules.Programme | None = None,
) -> Movement:
    """A staff adjustment, with its reason: a new lot when adding, soonest-expiring first when
    taking away (never below zero)."""
    now, programme = _now(now), programme or get_programme(session, fresh=True)
    account = _open_account(session, customer_id, now, programme)
    states = ledger.lots(session, account.id)
    ledger.expire(session, states, now)
    if adjustment_in.points > 0:
        _, row = ledger.new_lot(
            session,
            account,
            kind=LotKind.ADJUST,
            entry_kind=EntryKind.ADJUST,
            points=adjustment_in.points,
            earned_at=now,
            available_at=now,
            expires_at=now + timedelta(days=programme.expiry_days),
            reason=adjustment_in.reason,
            staff=adjustment_in.staff,
        )
        rows = [row]
    else:
        rows, _ = ledger.consume(
            session,
            states,
            -adjustment_in.points,
            now,
            EntryKind.ADJUST,
            include_pending=True,
            reason=adjustment_in.reason,
            staff=adjustment_in.staff,
        )
    record_audit(
        session=session,
        actor=actor,
        action="loyalty.adjust",
        target_kind="customer",
        target_id=customer_id,
        reason=adjustment_in.reason,
        details={"points": adjustment_in.points, "staff": adjustment_in.staff},
    )
    return _movement(session, account, rows, now)


def _due_for_expiry(now: datetime) -> Select[int]:
    """Accounts with a lot past its expiry that the expiry run has not settled: the lots
    expired since the last run and those points came back into (an account once per such
    lot). Read from a partial index, so the worklist does not grow with the years of lots
    already settled; no DISTINCT, which would steer SQLite to a scan of every lot."""
    return select(PointsLot.account_id).where(
        PointsLot.settled_at.is_(None), PointsLot.expires_at <= now
    )


def accounts_due_for_expiry(*, session: Session, now: datetime | None = None) -> list[int]:
    """Accounts the expiry run has to visit (see ``_due_for_expiry``), in id order."""
    return sorted(set(session.scalars(_due_for_expiry(_now(now)))))


def expire_points(
    *,
    session: Session,
    now: datetime | None = None,
    customer_id: int | None = None,
    account_ids: Sequence[int] | None = None,
) -> int:
    """The expiry run: write off every lot past its expiry that still holds points (of one
    customer, of ``account_ids``, or everyone's). Returns the points written off. The
    accounts are locked before their lots are read, as a till's redemption locks one, so a
    lot is never written off twice; all in one statement, in id order (as every run takes
    them: no lock cycles)."""
    now = _now(now)
    if customer_id is not None:
        account = ledger.lock_account(session, customer_id)
        locked = [account.id] if account else []
    else:
        a = LoyaltyAccount.__table__.c
        wanted = account_ids if account_ids is not None else _due_for_expiry(now)
        locked = list(
            session.scalars(select(a.id).where(a.id.in_(wanted)).order_by(a.id).with_for_update())
        )
    total = 0
    for account_id in locked:
        states = ledger.lots(session, account_id)
        total -= sum(r.points for r in ledger.expire(session, states, now))
    session.flush()
    return total


# A birthday gift missed because no run happened that night is made up for this long.
BIRTHDAY_MAKE_UP_DAYS = 6


def give_birthday_gifts(
    *,
    session: Session,
    today: date | None = None,
    now: datetime | None = None,
    programme: rules.Programme | None = None,
) -> BirthdayGifts:
    """Every member whose birthday is ``today`` (local) gets their tier's birthday points,
    available at once, at most once a calendar year. Run daily (the nightly job does).

    A birthday in the last ``BIRTHDAY_MAKE_UP_DAYS`` days of this year that no run gave a
    gift for (the server was off that night) is made up now, for a member who had signed
    up by the end of that day."""
    now, programme = _now(now), programme or get_programme(session, fresh=True)
    today = today or now.astimezone(programme.zone).date()
    year_start = datetime(today.year, 1, 1, tzinfo=programme.zone)
    days = rules.birthday_days(today, back=BIRTHDAY_MAKE_UP_DAYS)
    on: dict[int, date] = {}  # customer → the day of their birthday in the window
    for cid, (born, signed_up_at) in customers.birthdays(session=session).items():
        day = days.get((born.month, born.day))
        if day is None:
            continue
        ended = datetime.combine(day + timedelta(days=1), time(), programme.zone)
        if day == today or signed_up_at < ended:  # a past day's gift: a member by then
            on[cid] = day
    due = sorted(on)
    given = points = made_up = 0
    for customer_id in due:
        account = _open_account(session, customer_id, now, programme)
        gift = programme.tier(account.tier_code).birthday_points
        if gift <= 0:
            continue
        had = session.scalar(
            select(PointsLot.id).where(
                PointsLot.account_id == account.id,
                PointsLot.kind == LotKind.BIRTHDAY,
                PointsLot.earned_at >= year_start,
            )
        )
        if had is not None:
            continue
        ledger.new_lot(
            session,
            account,
            kind=LotKind.BIRTHDAY,
            entry_kind=EntryKind.BIRTHDAY,
            points=gift,
            earned_at=now,
            available_at=now,
            expires_at=now + timedelta(days=programme.expiry_days),
            reason=f"birthday {today.year}",
        )
        given += 1
        points += gift
        made_up += on[customer_id] < today
    session.flush()
    birthdays = sum(day == today for day in on.values())
    return BirthdayGifts(
        day=today, birthdays=birthdays, given=given, made_up=made_up, points=points
    )


# ------------------------------------------------------------------------------- tiers


def _window_figures(
    session: Session, account: LoyaltyAccount, now: datetime, programme: rules.Programme
) -> tuple[int, int]:
    """(spend in fen, points earned) over the tier window: earned, not the balance."""
    return ledger.window_figures(session, account.id, now, _window_start(now, programme))


def _window_start(now: datetime, programme: rules.Programme) -> datetime:
    return now - timedelta(days=programme.tier_window_days)


def _review(
    session: Session,
    account: LoyaltyAccount,
    now: datetime,
    programme: rules.Programme,
    *,
    at_review: bool,
) -> None:
    spend, earned = _window_figures(session, account, now, programme)
    state = rules.tier_after(
        programme,
        current=rules.TierState(account.tier_code, account.downgrade_due_at),
        spend_fen=spend,
        points_earned=earned,
        now=now,
        at_review=at_review,
    )
    if state.code != account.tier_code:
        account.tier_code = state.code
        account.tier_since_at = now
    account.downgrade_due_at = state.downgrade_due_at


def get_tier(
    *,
    session: Session,
    customer_id: int,
    now: datetime | None = None,
    programme: rules.Programme | None = None,
) -> TierRead:
    now, programme = _now(now), programme or get_programme(session)
    return _tier_read(_snapshot(session, customer_id, now, programme), now, programme)


def _snapshot(
    session: Session, customer_id: int, now: datetime, programme: rules.Programme
) -> ledger.Snapshot | None:
    return ledger.snapshot(session, customer_id, now, _window_start(now, programme))


def _tier_read(
    account: ledger.Snapshot | None, now: datetime, programme: rules.Programme
) -> TierRead:
    if account is None:
        tier = programme.base_tier
        return TierRead(
            code=tier.code,
            name=tier.name,
            discount_bp=tier.discount_bp,
            points_multiplier_bp=tier.points_multiplier_bp,
            since_at=now,
            downgrade_due_at=None,
            spend_12m_fen=0,
            points_earned_12m=0,
        )
    tier = programme.tier(account.tier_code)
    return TierRead(
        code=tier.code,
        name=tier.name,
        discount_bp=tier.discount_bp,
        points_multiplier_bp=tier.points_multiplier_bp,
        since_at=account.tier_since_at,
        downgrade_due_at=account.downgrade_due_at,
        spend_12m_fen=account.spend_fen,
        points_earned_12m=account.points_earned,
    )


def review_tiers(
    *, session: Session, now: datetime | None = None, programme: rules.Programme | None = None
) -> int:
    """The periodic review (the nightly job runs it): members who no longer qualify start
    their grace period, or move down once it is over; those who qualify again keep their
    tier. Returns the accounts changed.

    Set-based: the tier window's figures of every account in two grouped queries, the rules
    in memory, and one conditional update per changed account, applied only if the account
    is as it was read (a till's upgrade committed meanwhile is never overwritten)."""
    now, programme = _now(now), programme or get_programme(session, fresh=True)
    figures = ledger.window_figures_by_account(session, now, _window_start(now, programme))
    a = LoyaltyAccount.__table__.c
    changes = []
    for account_id, code, due in session.execute(
        select(a.id, a.tier_code, a.downgrade_due_at).order_by(a.id)
    ):
        spend, earned = figures.get(account_id, (0, 0))
        state = rules.tier_after(
            programme,
            current=rules.TierState(code, due),
            spend_fen=spend,
            points_earned=earned,
            now=now,
            at_review=True,
        )
        if (state.code, state.downgrade_due_at) != (code, due):
            changes.append(
                {
                    "account_id": account_id,
                    "old_code": code,
                    "old_due": due,
                    "new_code": state.code,
                    "new_due": state.downgrade_due_at,
                    "since": now if state.code != code else None,
                }
            )
    if not changes:
        return 0
    session.flush()
    result = session.connection().execute(_review_update(), changes)
    session.expire_all()  # accounts loaded before now may hold the old tier
    return int(result.rowcount)


@cache
def _review_update() -> Any:
    table = cast(Table, LoyaltyAccount.__table__)
    a = table.c
    return (
        update(table)
        .where(
            a.id == bindparam("account_id"),
            a.tier_code == bindparam("old_code"),
            a.downgrade_due_at.is_not_distinct_from(bindparam("old_due", type_=UTCDateTime())),
        )
        .values(
            tier_code=bindparam("new_code"),
            downgrade_due_at=bindparam("new_due", type_=UTCDateTime()),
            tier_since_at=func.coalesce(bindparam("since", type_=UTCDateTime()), a.tier_since_at),
        )
    )


# ----------------------------------------------------------------------------- coupons


def _terms(template: CouponTemplate | Row[*tuple[Any, ...]]) -> rules.CouponTerms:
    """A template's terms, from the model or from a usable-coupon row (same names)."""
    scope = CouponScope.model_validate(template.scope or {})
    return rules.CouponTerms(
        kind=rules.CouponKind(template.kind),
        threshold_fen=template.threshold_fen,
        amount_off_fen=template.amount_off_fen,
        percent_off_bp=template.percent_off_bp,
        cap_fen=template.cap_fen,
        gift_sku=template.gift_sku,
        store_codes=tuple(scope.store_codes),
        category_prefixes=tuple(scope.category_prefixes),
        channels=tuple(scope.channels),
        stackable=template.stackable,
    )


def create_coupon_template(
    *, session: Session, template_in: CouponTemplateCreate
) -> CouponTemplateRead:
    if session.scalar(select(CouponTemplate.id).where(CouponTemplate.code == template_in.code)):
        raise InvalidInput("code", f"a coupon template {template_in.code!r} exists already")
    template = CouponTemplate(
        code=template_in.code,
        name=template_in.name,
        kind=template_in.kind,
        threshold_fen=template_in.threshold_fen,
        amount_off_fen=template_in.amount_off_fen,
        percent_off_bp=template_in.percent_off_bp,
        cap_fen=template_in.cap_fen,
        gift_sku=template_in.gift_sku,
        valid_from=template_in.valid_from,
        valid_to=template_in.valid_to,
        valid_days=template_in.valid_days,
        scope=template_in.scope.model_dump(),
        per_customer_limit=template_in.per_customer_limit,
        stackable=template_in.stackable,
    )
    session.add(template)
    session.flush()
    return CouponTemplateRead.model_validate(template)


_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud at a till


def _new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))


def _coupon_read(coupon: Coupon, template: CouponTemplate) -> CouponRead:
    return CouponRead(
        id=coupon.id,
        code=coupon.code,
        template_code=template.code,
        name=template.name,
        kind=template.kind,
        customer_id=coupon.customer_id,
        status=coupon.status,
        valid_from=coupon.valid_from,
        expires_at=coupon.expires_at,
        order_id=coupon.order_id,
    )


def _validity(template: CouponTemplate, now: datetime) -> tuple[datetime, datetime]:
    """When a coupon issued now is valid: the template's fixed window, or ``valid_days``
    from issue; refused once the template's window has ended."""
    valid_from = template.valid_from or now
    if template.valid_to is not None:
        expires_at = template.valid_to
    else:
        assert template.valid_days is not None
        expires_at = max(valid_from, now) + timedelta(days=template.valid_days)
    if expires_at <= now:
        raise InvalidInput("template_code", "this template's validity has ended")
    return valid_from, expires_at


def issue_coupon(
    *,
    session: Session,
    issue_in: CouponIssue,
    now: datetime | None = None,
    programme: rules.Programme | None = None,
) -> CouponRead:
    """Give one customer a coupon with a fresh unique code, within the template's limits."""
    now, programme = _now(now), programme or get_programme(session, fresh=True)
    template = session.scalar(
        select(CouponTemplate).where(CouponTemplate.code == issue_in.template_code)
    )
    if template is None:
        raise CouponTemplateNotFound(f"no coupon template {issue_in.template_code!r}")
    # The account lock serialises issues to one customer, so the limit holds under concurrency.
    _open_account(session, issue_in.customer_id, now, programme)
    if template.per_customer_limit is not None:
        held = session.scalar(
            select(func.count())
            .select_from(Coupon)
            .where(Coupon.template_id == template.id, Coupon.customer_id == issue_in.customer_id)
        )
        if (held or 0) >= template.per_customer_limit:
            raise CouponLimitReached(
                f"customer already holds {held} of {template.code!r}",
                limit=template.per_customer_limit,
            )
    valid_from, expires_at = _validity(template, now)
    coupon = Coupon(
        code=_new_code(),
        template_id=template.id,
        customer_id=issue_in.customer_id,
        status=CouponStatus.ISSUED,
        valid_from=valid_from,
        expires_at=expires_at,
        issued_at=now,
    )
    session.add(coupon)
    session.flush()
    session.add(CouponEvent(coupon_id=coupon.id, kind="issue", occurred_at=now))
    session.flush()
    return _coupon_read(coupon, template)


def issue_coupons_to(*, session: Session, issue_in: BulkIssueIn, actor: Actor) -> BulkIssueRead:
    """:func:`issue_coupons` for an audience: a list of ids, or a value segment or lifecycle
    stage of the latest analytics run, within the actor's stores."""
    if issue_in.customer_ids is not None:
        ids, audience = list(issue_in.customer_ids), "list"
    else:
        from patron.analytics import service as analytics  # heavy; only for segment audiences

        run_id, ids = analytics.audience_customer_ids(
            session=session, segment=issue_in.segment, stage=issue_in.stage
        )
        kind = f"segment {issue_in.segment}" if issue_in.segment else f"stage {issue_in.stage}"
        audience = f"{kind} (analytics run {run_id})"
    return issue_coupons(
        session=session,
        template_code=issue_in.template_code,
        customer_ids=ids,
        actor=actor,
        audience=audience,
        store_ids=actor.store_ids,
    )


def issue_coupons(
    *,
    session: Session,
    template_code: str,
    customer_ids: Sequence[int],
    actor: Actor,
    audience: str,
    now: datetime | None = None,
    store_ids: frozenset[int] | None = None,
) -> BulkIssueRead:
    """Give one coupon of a template to each of many members (a segment, a stage, a list):
    members merged away or outside ``store_ids`` are left out, members already holding the
    template's per-member limit are skipped, and every code is new. One audit entry."""
    now = _now(now)
    template = session.scalar(select(CouponTemplate).where(CouponTemplate.code == template_code))
    if template is None:
        raise CouponTemplateNotFound(f"no coupon template {template_code!r}")
    valid_from, expires_at = _validity(template, now)
    wanted = sorted(set(customer_ids))
    live = customers.live_customer_ids(session=session, customer_ids=wanted, store_ids=store_ids)
    held: dict[int, int] = {}
    if template.per_customer_limit is not None:
        ordered = sorted(live)
        for start in range(0, len(ordered), 1_000):
            held.update(
                session.execute(
                    select(Coupon.customer_id, func.count())
                    .where(
                        Coupon.template_id == template.id,
                        Coupon.customer_id.in_(ordered[start : start + 1_000]),
                    )
                    .group_by(Coupon.customer_id)
                ).all()
            )
    limit = template.per_customer_limit
    chosen = [c for c in sorted(live) if limit is None or held.get(c, 0) < limit]
    for start in range(0, len(chosen), 1_000):
        batch = [
            Coupon(
                code=_new_code(),
                template_id=template.id,
                customer_id=customer_id,
                status=CouponStatus.ISSUED,
                valid_from=valid_from,
                expires_at=expires_at,
                issued_at=now,
            )
            for customer_id in chosen[start : start + 1_000]
        ]
        session.add_all(batch)
        session.flush()
        session.add_all(CouponEvent(coupon_id=c.id, kind="issue", occurred_at=now) for c in batch)
        session.flush()
    result = BulkIssueRead(
        template_code=template.code,
        audience=audience,
        asked=len(wanted),
        issued=len(chosen),
        skipped_at_limit=len(live) - len(chosen),
        not_found=len(wanted) - len(live),
    )
    record_audit(
        session=session,
        actor=actor,
        action="coupon.bulk_issue",
        target_kind="coupon_template",
        target_id=template.code,
        details=result.model_dump(),
    )
    return result


@cache
def _usable_coupons_statement() -> Select[*tuple[Any, ...]]:
    # Built once, plain columns: the till reads these on every look-up and quote.
    at = bindparam("at", type_=UTCDateTime())
    c, t = Coupon, CouponTemplate
    return (
        select(
            c.id,
            c.code,
            t.code.label("template_code"),
            t.name,
            t.kind,
            c.customer_id,
            c.status,
            c.valid_from,
            c.expires_at,
            c.order_id,
            t.threshold_fen,
            t.amount_off_fen,
            t.percent_off_bp,
            t.cap_fen,
            t.gift_sku,
            t.scope,
            t.stackable,
        )
        .join_from(c, t, t.id == c.template_id)
        .where(
            c.customer_id == bindparam("customer_id"),
            c.status == CouponStatus.ISSUED,
            c.valid_from <= at,
            c.expires_at > at,
        )
        .order_by(c.expires_at, c.id)
    )


def _usable_coupons(
    session: Session, customer_id: int, at: datetime
) -> list[Row[*tuple[Any, ...]]]:
    """The coupons a member can use at ``at``, each with its template's name and terms."""
    return list(
        core_rows(session, _usable_coupons_statement(), {"customer_id": customer_id, "at": at})
    )


def _held_read(row: Row[*tuple[Any, ...]]) -> CouponRead:
    return CouponRead(
        id=row.id,
        code=row.code,
        template_code=row.template_code,
        name=row.name,
        kind=row.kind,
        customer_id=row.customer_id,
        status=row.status,
        valid_from=row.valid_from,
        expires_at=row.expires_at,
        order_id=row.order_id,
    )


def list_customer_coupons(
    *, session: Session, customer_id: int, now: datetime | None = None
) -> list[CouponRead]:
    """Coupons the customer can use now."""
    return [_held_read(row) for row in _usable_coupons(session, customer_id, _now(now))]


def get_coupon(*, session: Session, code: str) -> CouponRead | None:
    row = session.execute(
        select(Coupon, CouponTemplate)
        .join(CouponTemplate, CouponTemplate.id == Coupon.template_id)
        .where(Coupon.code == code)
    ).first()
    return _coupon_read(*row) if row else None


def redeem_coupon(
    *, session: Session, code: str, order_id: int, now: datetime | None = None
) -> CouponRead:
    """Mark a coupon used by an order, exactly once: a conditional update that only one
    transaction can win (PostgreSQL re-checks the status after waiting for the row lock)."""
    now = _now(now)
    coupon = session.scalar(select(Coupon).where(Coupon.code == code))
    if coupon is None:
        raise CouponNotFound(f"no coupon {code!r}")
    result = session.execute(
        update(Coupon)
        .where(Coupon.id == coupon.id, Coupon.status == CouponStatus.ISSUED)
        .values(status=CouponStatus.REDEEMED, order_id=order_id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise CouponAlreadyUsed(f"coupon {code} has been used", code=code)
    session.add(CouponEvent(coupon_id=coupon.id, kind="redeem", order_id=order_id, occurred_at=now))
    session.flush()
    session.refresh(coupon)
    template = session.get(CouponTemplate, coupon.template_id)
    assert template is not None
    return _coupon_read(coupon, template)


# ------------------------------------------------------------------------------- baskets


def _categories(session: Session, skus: Sequence[str]) -> dict[str, str]:
    return catalog.category_paths(session=session, skus=skus)


def _order_basket(session: Session, order: OrderRead) -> rules.Basket:
    categories = _categories(session, [ln.sku for ln in order.lines])
    return rules.Basket(
        lines=tuple(
            rules.BasketLine(ln.sku, categories[ln.sku], ln.amount_fen) for ln in order.lines
        ),
        store_code=order.store_code,
        channel=order.channel,
    )


def _live_member_id(session: Session, customer_id: int) -> int:
    """A till's member id, followed through merges to the live profile."""
    if not customers.customer_exists(session=session, customer_id=customer_id):
        raise NotAMember(f"no customer {customer_id}")
    return customers.active_customer_id(session=session, customer_id=customer_id)


def _member_account(
    session: Session,
    member: MemberRef,
    now: datetime,
    programme: rules.Programme,
    store_ids: frozenset[int] | None,
) -> tuple[int, ledger.Snapshot | None]:
    """The member a till names and their account: one query by phone or card (the usual
    case), three by id (which may name a merged profile, followed to the live one)."""
    since = _window_start(now, programme)
    if member.customer_id is not None:
        customer_id = _live_member_id(session, member.customer_id)
        found = ledger.member_account(
            session, now=now, since=since, customer_id=customer_id, store_ids=store_ids
        )
    else:
        # Identities move with merges, so the owner found here is a live profile.
        kind, value = _identifier(member)
        found = ledger.member_account(
            session,
            now=now,
            since=since,
            identity=customers.identity_params(kind, value),
            store_ids=store_ids,
        )
        if found.customer_id is None:
            raise NotAMember(f"no member with that {kind.replace('_', ' ')}")
        customer_id = found.customer_id
    if not found.in_scope:
        if member.customer_id is None:
            # found by phone or card: another store's member is answered like nobody, so
            # a till learns nothing of who shops elsewhere
            kind, _value = _identifier(member)
            raise NotAMember(f"no member with that {kind.replace('_', ' ')}")
        raise OutOfScope("this customer belongs to another store", customer_id=customer_id)
    return customer_id, found.account


def _identifier(member: MemberRef) -> tuple[str, str]:
    kind, value = (
        ("member_card", member.member_card) if member.member_card else ("phone", member.phone)
    )
    assert value is not None
    return kind, value


def lookup_member(
    *,
    session: Session,
    member: MemberRef,
    now: datetime | None = None,
    programme: rules.Programme | None = None,
    store_ids: frozenset[int] | None = None,
) -> LookupRead:
    """What the till shows: tier, balance, coupons usable now. Two queries: the member with
    the till's scope check and their account (``ledger.member_account``), and the coupons."""
    now, programme = _now(now), programme or get_programme(session)
    customer_id, account = _member_account(session, member, now, programme, store_ids)
    return LookupRead(
        customer_id=customer_id,
        tier=_tier_read(account, now, programme),
        balance=account.balance if account else _no_points(),
        coupons=list_customer_coupons(session=session, customer_id=customer_id, now=now),
    )


def quote_basket(
    *,
    session: Session,
    quote_in: QuoteIn,
    now: datetime | None = None,
    programme: rules.Programme | None = None,
    store_ids: frozenset[int] | None = None,
) -> QuoteRead:
    """Price a basket for a member: tier discount, coupons and their best combination, the
    points usable (up to the programme's share of the order) and the points it will earn."""
    programme = programme or get_programme(session)
    at = quote_in.at or _now(now)
    customer_id, account = _member_account(session, quote_in.member, at, programme, store_ids)
    tier = programme.tier(account.tier_code) if account else programme.base_tier
    available = account.balance.available if account else 0
    # Recently read categories will do for a quote; the commit reads them afresh.
    categories = catalog.till_category_paths(
        session=session, skus=[ln.sku for ln in quote_in.lines]
    )
    lines = tuple(
        rules.BasketLine(ln.sku, categories[ln.sku], ln.gross_fen - ln.discount_fen)
        for ln in quote_in.lines
    )
    basket = rules.Basket(
        lines=lines,
        store_code=quote_in.store_code or "",
        channel=quote_in.channel,
        delivery_fee_fen=quote_in.delivery_fee_fen,
    )
    subtotal = sum(ln.amount_fen for ln in lines)
    tier_off = rules.tier_discount_fen(programme, tier, basket)

    held = {row.code: (row, _terms(row)) for row in _usable_coupons(session, customer_id, at)}
    quotes = []
    for row, terms in held.values():
        outcome = rules.coupon_outcome(programme, terms, basket)
        quotes.append(
            CouponQuote(
                code=row.code,
                name=row.name,
                kind=row.kind,
                applicable=outcome.applicable,
                discount_fen=outcome.discount_fen,
                gift_sku=outcome.gift_sku,
                reason=outcome.reason,
            )
        )
    best, _ = rules.best_combination(
        programme, [(code, terms) for code, (_, terms) in held.items()], basket
    )
    chosen = best if quote_in.coupon_codes is None else list(quote_in.coupon_codes)
    chosen_terms = []
    for i, code in enumerate(chosen):
        if code not in held:
            raise CouponNotApplicable(f"coupon_codes.{i}", "not a coupon this member can use now")
        chosen_terms.append(held[code][1])
    goods_off = rules.combined_discount_fen(programme, chosen_terms, basket)
    if goods_off is None:
        raise CouponNotApplicable(
            "coupon_codes", "these coupons cannot be used on this basket together"
        )
    goods_off = min(goods_off, max(rules.redeemable_fen(programme, basket) - tier_off, 0))
    delivery_off = rules.delivery_waived_fen(chosen_terms, basket)

    payable_goods = rules.redeemable_fen(programme, basket) - tier_off - goods_off
    max_points = rules.max_points_usable(programme, payable_goods, available)
    _check_points(programme, quote_in.redeem_points, max_points, available)
    points_value = rules.points_value_fen(programme, quote_in.redeem_points)

    shares = rules.spread_discount(programme, lines, tier_off + goods_off + points_value)
    paid = [ln.amount_fen - s for ln, s in zip(lines, shares, strict=True)]
    found = promotions.till_running(session, at=at, basket=basket, programme=programme)
    earn = rules.points_to_earn(
        programme, lines, paid, tier=tier, at=at, bonuses=promotions.bonuses(found)
    )
    return QuoteRead(
        customer_id=customer_id,
        tier_code=tier.code,
        subtotal_fen=subtotal,
        tier_discount_fen=tier_off,
        coupons=quotes,
        best_coupon_codes=best,
        chosen_coupon_codes=chosen,
        coupon_discount_fen=goods_off,
        delivery_waived_fen=delivery_off,
        available_points=available,
        max_points_usable=max_points,
        redeem_points=quote_in.redeem_points,
        points_value_fen=points_value,
        payable_fen=subtotal
        - tier_off
        - goods_off
        - points_value
        + quote_in.delivery_fee_fen
        - delivery_off,
        points_to_earn=earn,
        member_day=rules.is_member_day(programme, at),
        promotions=promotions.quote(
            session,
            found=found,
            basket=basket,
            paid_fen=paid,
            customer_id=customer_id,
            programme=programme,
        ),
    )


def _check_points(programme: rules.Programme, points: int, max_points: int, available: int) -> None:
    step = rules.points_step(programme)
    if points % step:
        raise InvalidInput("redeem_points", f"must be a multiple of {step}")
    if points > available:
        raise PointsOverLimit(
            "redeem_points", f"only {available} points are available", available=available
        )
    if points > max_points:
        raise PointsOverLimit(
            "redeem_points", f"at most {max_points} points may pay for this order", limit=max_points
        )


# ---------------------------------------------------------------------------- the till


def _commit_hash(commit_in: CommitIn) -> str:
    body = {"points": commit_in.redeem_points, "coupons": sorted(commit_in.coupon_codes)}
    return hashlib.sha256(orjson.dumps(body)).hexdigest()


def _commit_read(
    session: Session, lo: LoyaltyOrder, account: LoyaltyAccount, *, created: bool, now: datetime
) -> CommitRead:
    lot = session.scalar(
        select(PointsLot).where(
            PointsLot.account_id == account.id, PointsLot.order_id == lo.order_id
        )
    )
    codes = list(
        session.scalars(
            select(Coupon.code).where(Coupon.order_id == lo.order_id).order_by(Coupon.id)
        )
    )
    return CommitRead(
        created=created,
        order_id=lo.order_id,
        customer_id=account.customer_id,
        points_earned=lo.points_earned,
        points_spent=lo.points_spent,
        points_value_fen=lo.points_value_fen,
        coupon_codes=codes,
        coupon_discount_fen=lo.coupon_discount_fen,
        available_at=lot.available_at if lot else None,
        tier_code=account.tier_code,
        balance=ledger.balance(ledger.lots(session, account.id), now),
        gifts=promotions.gifts_for_order(session, lo.order_id),
    )


def commit_order(
    *,
    session: Session,
    commit_in: CommitIn,
    now: datetime | None = None,
    programme: rules.Programme | None = None,
    store_ids: frozenset[int] | None = None,
) -> CommitRead:
    """Loyalty for a posted order, once: redeem its coupons and points, earn on the money paid.

    The till posts the order with the coupon and points discounts inside
    ``order_discount_fen``; points are earned only on what is left, line by line, and never on
    wallet lines (stored value, gift cards), discount lines or excluded goods. Repeating the
    call with the same points and coupons returns the first result.
    """
    now, programme = _now(now), programme or get_programme(session, fresh=True)
    order = orders.get_order_by_key(
        session=session,
        source=commit_in.source,
        external_id=commit_in.external_id,
        store_ids=store_ids,
    )
    if order is None:
        raise InvalidInput(
            "external_id", f"no order {commit_in.external_id!r} from {commit_in.source!r}"
        )
    if order.customer_id is None:
        raise AnonymousOrder("external_id", "the order has no customer; look the member up first")
    customer_id = customers.active_customer_id(session=session, customer_id=order.customer_id)
    digest = _commit_hash(commit_in)
    account = _open_account(session, customer_id, now, programme)
    existing = session.scalar(select(LoyaltyOrder).where(LoyaltyOrder.order_id == order.id))
    if existing is not None:
        if existing.request_hash != digest:
            raise AlreadyCommitted(
                f"order {order.source}/{order.external_id} was committed with other points or coupons",
                order_id=order.id,
            )
        return _commit_read(session, existing, account, created=False, now=now)

    states = ledger.lots(session, account.id)
    ledger.expire(session, states, now)
    basket = _order_basket(session, order)

    # Coupons: the customer's own, valid when the order was placed, usable together.
    if len(set(commit_in.coupon_codes)) != len(commit_in.coupon_codes):
        raise CouponNotApplicable("coupon_codes", "a coupon is listed twice")
    held = {row.code: row for row in _usable_coupons(session, customer_id, order.ordered_at)}
    terms = []
    for i, code in enumerate(commit_in.coupon_codes):
        if code not in held:
            raise CouponNotApplicable(f"coupon_codes.{i}", "not a coupon this member can use")
        terms.append(_terms(held[code]))
    goods_off = rules.combined_discount_fen(programme, terms, basket) if terms else 0
    if goods_off is None:
        raise CouponNotApplicable(
            "coupon_codes", "these coupons cannot be used on this order together"
        )

    available = ledger.balance(states, now).available
    max_points = rules.max_points_usable(
        programme, rules.redeemable_fen(programme, basket) - goods_off, available
    )
    _check_points(programme, commit_in.redeem_points, max_points, available)
    points_value = rules.points_value_fen(programme, commit_in.redeem_points)
    if points_value + goods_off > order.order_discount_fen:
        raise InvalidInput(
            "redeem_points",
            f"the order's discount ({order.order_discount_fen} fen) does not include the points"
            f" ({points_value} fen) and coupons ({goods_off} fen)",
        )

    for code in commit_in.coupon_codes:
        redeem_coupon(session=session, code=code, order_id=order.id, now=now)
    if commit_in.redeem_points:
        ledger.consume(
            session, states, commit_in.redeem_points, now, EntryKind.REDEEM, order_id=order.id
        )

    # Money paid per line: the loyalty discounts fall on the redeemable lines only; the
    # shop's own order discount (抹零 and the like) on every line.
    loyalty_shares = rules.spread_discount(programme, basket.lines, points_value + goods_off)
    other = order.order_discount_fen - points_value - goods_off
    other_shares = rules.prorate_fen(other, [ln.amount_fen for ln in basket.lines])
    paid = [
        ln.amount_fen - a - b
        for ln, a, b in zip(basket.lines, loyalty_shares, other_shares, strict=True)
    ]
    tier = programme.tier(account.tier_code)
    found = promotions.running(session, at=order.ordered_at, basket=basket, programme=programme)
    earned = rules.points_to_earn(
        programme,
        basket.lines,
        paid,
        tier=tier,
        at=order.ordered_at,
        bonuses=promotions.bonuses(found),
    )
    if earned > 0:
        available_at = order.ordered_at + timedelta(days=programme.return_window_days)
        ledger.new_lot(
            session,
            account,
            kind=LotKind.EARN,
            entry_kind=EntryKind.EARN,
            points=earned,
            earned_at=order.ordered_at,
            available_at=available_at,
            expires_at=order.ordered_at + timedelta(days=programme.expiry_days),
            order_id=order.id,
        )
    lo = LoyaltyOrder(
        account_id=account.id,
        order_id=order.id,
        request_hash=digest,
        paid_fen=order.total_fen,
        points_earned=earned,
        points_spent=commit_in.redeem_points,
        points_value_fen=points_value,
        coupon_discount_fen=goods_off,
        refunded_fen=0,
        ordered_at=order.ordered_at,
        committed_at=now,
    )
    session.add(lo)
    session.flush()
    referrals.reward_first_purchase(
        session, referee_account=account, order=lo, programme=programme, now=now
    )
    promotions.grant_gifts(
        session,
        found=found,
        basket=basket,
        paid_fen=paid,
        customer_id=customer_id,
        order_id=order.id,
        programme=programme,
        now=now,
    )
    _review(session, account, max(now, order.ordered_at), programme, at_review=False)
    session.flush()
    return _commit_read(session, lo, account, created=True, now=now)


def apply_refund(
    *,
    session: Session,
    refund_in: LoyaltyRefundIn,
    now: datetime | None = None,
    programme: rules.Programme | None = None,
    store_ids: frozenset[int] | None = None,
) -> LoyaltyRefundRead:
    """Reverse loyalty for a posted refund, once: take back the share of the points its order
    earned, give back the share it spent (to the lots they came from), and restore its
    coupons when the order is refunded in full. Points the customer has spent meanwhile and
    cannot be taken back are recorded as ``points_short``; the balance never goes negative."""
    now, programme = _now(now), programme or get_programme(session, fresh=True)
    refund = orders.get_refund_by_key(
        session=session, source=refund_in.source, external_id=refund_in.external_id
    )
    if refund is None:
        raise InvalidInput(
            "external_id", f"no refund {refund_in.external_id!r} from {refund_in.source!r}"
        )
    if store_ids is not None:  # a till refunds only its own stores' orders
        orders.get_order_or_raise(session=session, order_id=refund.order_id, store_ids=store_ids)
    lo = session.scalar(select(LoyaltyOrder).where(LoyaltyOrder.order_id == refund.order_id))
    if lo is None:
        raise NotAMember(f"order {refund.order_id} was not committed to loyalty")
    account = session.get(LoyaltyAccount, lo.account_id)
    assert account is not None
    account = _open_account(session, account.customer_id, now, programme)
    done = session.scalar(select(LoyaltyRefund).where(LoyaltyRefund.refund_id == refund.id))
    if done is not None:
        return _refund_read(session, done, lo, account, created=False, now=now)

    order = orders.get_order_or_raise(session=session, order_id=refund.order_id)
    full = all(ln.refunded_quantity >= ln.quantity for ln in order.lines) and (
        order.refunded_fen >= order.total_fen
    )
    lo.refunded_fen += refund.amount_fen
    before = session.execute(
        select(
            func.coalesce(
                func.sum(LoyaltyRefund.points_taken_back + LoyaltyRefund.points_short), 0
            ),
            func.coalesce(func.sum(LoyaltyRefund.points_returned), 0),
        ).where(LoyaltyRefund.loyalty_order_id == lo.id)
    ).one()
    take = rules.refunded_share(lo.points_earned, lo.refunded_fen, lo.paid_fen, full=full) - int(
        before[0]
    )
    give = rules.refunded_share(lo.points_spent, lo.refunded_fen, lo.paid_fen, full=full) - int(
        before[1]
    )

    states = ledger.lots(session, account.id)
    ledger.expire(session, states, now)
    short = 0
    if take > 0:
        earn_lot = next((s for s in states if s.lot.order_id == lo.order_id), None)
        _, short = ledger.consume(
            session,
            states,
            take,
            now,
            EntryKind.REVERSE_EARN,
            include_pending=True,
            first=earn_lot,
            allow_short=True,
            order_id=lo.order_id,
            refund_id=refund.id,
            reason="refund",
        )
    to_give = give
    if give > 0:
        spent = ledger.order_spent_by_lot(session, lo.order_id)
        by_id = {s.lot.id: s for s in states}
        # Latest-expiring first, so a partial refund gives back the longest-lived points.
        for lot_id in sorted(spent, key=lambda i: (by_id[i].lot.expires_at, i), reverse=True):
            back = min(give, spent[lot_id])
            if back <= 0:
                break
            ledger.entry(
                session,
                by_id[lot_id],
                EntryKind.RETURN_REDEEMED,
                back,
                now,
                order_id=lo.order_id,
                refund_id=refund.id,
                reason="refund",
            )
            give -= back
    restored = 0
    if full:
        referrals.reverse_for_refund(
            session, order=lo, refund_id=refund.id, programme=programme, now=now
        )
        promotions.reverse_gifts(session, order_id=lo.order_id, now=now)
        coupon_ids = list(
            session.scalars(
                select(Coupon.id).where(
                    Coupon.order_id == lo.order_id, Coupon.status == CouponStatus.REDEEMED
                )
            )
        )
        if coupon_ids:
            session.execute(
                update(Coupon)
                .where(Coupon.id.in_(coupon_ids))
                .values(status=CouponStatus.ISSUED, order_id=None)
                .execution_options(synchronize_session=False)
            )
            session.add_all(
                CouponEvent(
                    coupon_id=cid,
                    kind="restore",
                    order_id=lo.order_id,
                    refund_id=refund.id,
                    occurred_at=now,
                )
                for cid in coupon_ids
            )
            restored = len(coupon_ids)
    row = LoyaltyRefund(
        refund_id=refund.id,
        loyalty_order_id=lo.id,
        amount_fen=refund.amount_fen,
        points_taken_back=max(take, 0) - short,
        points_short=short,
        points_returned=max(to_give, 0) - max(give, 0),
        coupons_restored=restored,
        processed_at=now,
    )
    session.add(row)
    session.flush()
    return _refund_read(session, row, lo, account, created=True, now=now)


def _refund_read(
    session: Session,
    row: LoyaltyRefund,
    lo: LoyaltyOrder,
    account: LoyaltyAccount,
    *,
    created: bool,
    now: datetime,
) -> LoyaltyRefundRead:
    return LoyaltyRefundRead(
        created=created,
        refund_id=row.refund_id,
        order_id=lo.order_id,
        points_taken_back=row.points_taken_back,
        points_short=row.points_short,
        points_returned=row.points_returned,
        coupons_restored=row.coupons_restored,
        balance=ledger.balance(ledger.lots(session, account.id), now),
    )


# ------------------------------------------------------------------------------ merges
# Called by customers.merging when two profiles of one person are merged or unmerged: the
# points, loyalty orders and coupons follow the profile. Lots move with their entries, so
# every lot's balance and the ledger sum stay as they were; the survivor's tier is judged
# again on the next movement or review.


def move_customer_records(
    *, session: Session, from_customer_id: int, to_customer_id: int
) -> dict[str, list[int]]:
    moved: dict[str, list[int]] = {"coupon": [], "points_lot": [], "loyalty_order": []}
    moved |= referrals.move_referrals(
        session, from_customer_id=from_customer_id, to_customer_id=to_customer_id
    )
    moved["coupon"] = list(
        session.scalars(select(Coupon.id).where(Coupon.customer_id == from_customer_id))
    )
    if moved["coupon"]:
        session.execute(
            update(Coupon)
            .where(Coupon.customer_id == from_customer_id)
            .values(customer_id=to_customer_id)
        )
    source = ledger.lock_account(session, from_customer_id)
    if source is None:
        return moved
    target = _open_account(session, to_customer_id, utcnow(), get_programme(session, fresh=True))
    moved["points_lot"] = list(
        session.scalars(select(PointsLot.id).where(PointsLot.account_id == source.id))
    )
    moved["loyalty_order"] = list(
        session.scalars(select(LoyaltyOrder.id).where(LoyaltyOrder.account_id == source.id))
    )
    _move_account_rows(session, moved, source.id, target.id)
    return moved


def restore_customer_records(
    *,
    session: Session,
    moved: dict[str, list[int]],
    from_customer_id: int,
    to_customer_id: int,
) -> None:
    referrals.restore_referrals(
        session, moved=moved, from_customer_id=from_customer_id, to_customer_id=to_customer_id
    )
    coupons = moved.get("coupon", [])
    if coupons:
        session.execute(
            update(Coupon)
            .where(Coupon.id.in_(coupons), Coupon.customer_id == from_customer_id)
            .values(customer_id=to_customer_id)
        )
    if not moved.get("points_lot") and not moved.get("loyalty_order"):
        return
    source = ledger.lock_account(session, from_customer_id)
    target = ledger.lock_account(session, to_customer_id)
    if source is None or target is None:
        return
    _move_account_rows(session, moved, source.id, target.id)


def _move_account_rows(
    session: Session, moved: dict[str, list[int]], from_account: int, to_account: int
) -> None:
    lots = moved.get("points_lot", [])
    if lots:
        session.execute(
            update(PointsEntry)
            .where(PointsEntry.lot_id.in_(lots), PointsEntry.account_id == from_account)
            .values(account_id=to_account)
        )
        session.execute(
            update(PointsLot)
            .where(PointsLot.id.in_(lots), PointsLot.account_id == from_account)
            .values(account_id=to_account)
        )
    orders_moved = moved.get("loyalty_order", [])
    if orders_moved:
        session.execute(
            update(LoyaltyOrder)
            .where(LoyaltyOrder.id.in_(orders_moved), LoyaltyOrder.account_id == from_account)
            .values(account_id=to_account)
        )


# ------------------------------------------------------------------ read helpers (console)
# Small reads the console pages need (loyalty/pages.py); they change nothing.


def list_coupon_templates(*, session: Session) -> list[CouponTemplateRead]:
    """Every coupon template, newest first."""
    rows = session.scalars(select(CouponTemplate).order_by(CouponTemplate.id.desc()))
    return [CouponTemplateRead.model_validate(r) for r in rows]


def find_referral_code(*, session: Session, customer_id: int) -> str | None:
    """The member's referral code if one was made (``referrals.get_referral_code`` makes one)."""
    from patron.loyalty.models import ReferralCode

    return session.scalar(select(ReferralCode.code).where(ReferralCode.customer_id == customer_id))
