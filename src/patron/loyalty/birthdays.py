"""Birthday points and birthday coupons: each member's tier gift on their birthday, once a
year, with a make-up for nights the server was off. No commits here."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.core.actor import Actor
from patron.core.errors import InvalidInput
from patron.customers import service as customers
from patron.loyalty import ledger, rules
from patron.loyalty.accounts import get_programme, now_or, open_account
from patron.loyalty.coupons import issue_coupon
from patron.loyalty.models import (
    BirthdayCoupon,
    BirthdayCouponIssue,
    Coupon,
    CouponTemplate,
    EntryKind,
    LotKind,
    PointsLot,
)
from patron.loyalty.reward_schemas import BirthdayCouponIn, BirthdayCouponRead, BirthdayCoupons
from patron.loyalty.schemas import BirthdayGifts, CouponIssue

# A birthday gift missed because no run happened that night is made up for this long.
BIRTHDAY_MAKE_UP_DAYS = 6


def _due(session: Session, today: date, programme: rules.Programme) -> dict[int, date]:
    """Customer → the day of their birthday among ``today`` and the make-up days before it
    (29 February falls on 28 February in other years), for members signed up by then."""
    days = rules.birthday_days(today, back=BIRTHDAY_MAKE_UP_DAYS)
    on: dict[int, date] = {}
    for cid, (born, signed_up_at) in customers.birthdays(session=session).items():
        day = days.get((born.month, born.day))
        if day is None:
            continue
        ended = datetime.combine(day + timedelta(days=1), time(), programme.zone)
        if day == today or signed_up_at < ended:  # a past day's gift: a member by then
            on[cid] = day
    return on


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
    now, programme = now_or(now), programme or get_programme(session, fresh=True)
    today = today or now.astimezone(programme.zone).date()
    year_start = datetime(today.year, 1, 1, tzinfo=programme.zone)
    on = _due(session, today, programme)
    due = sorted(on)
    given = points = made_up = 0
    for customer_id in due:
        account = open_account(session, customer_id, now, programme)
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


# ---------------------------------------------------------- birthday coupons by tier


def set_birthday_coupon(
    *, session: Session, rule_in: BirthdayCouponIn, actor: Actor
) -> BirthdayCouponRead:
    """The coupon a tier's members get on their birthday (replacing the tier's last). Audited."""
    if not session.scalar(
        select(CouponTemplate.id).where(CouponTemplate.code == rule_in.template_code)
    ):
        raise InvalidInput(
            "template_code",
            f"no coupon template {rule_in.template_code!r}",
            message_code="birthday_template_unknown",
            code=rule_in.template_code,
        )
    row = session.scalar(
        select(BirthdayCoupon).where(BirthdayCoupon.tier_code == rule_in.tier_code)
    )
    if row is None:
        row = BirthdayCoupon(tier_code=rule_in.tier_code)
        session.add(row)
    row.template_code, row.valid_days = rule_in.template_code, rule_in.valid_days
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="birthday_coupon.set",
        target_kind="tier",
        target_id=row.tier_code,
        details={"template_code": row.template_code, "valid_days": row.valid_days},
    )
    return BirthdayCouponRead(
        tier_code=row.tier_code, template_code=row.template_code, valid_days=row.valid_days
    )


def list_birthday_coupons(*, session: Session) -> list[BirthdayCouponRead]:
    return [
        BirthdayCouponRead(
            tier_code=r.tier_code, template_code=r.template_code, valid_days=r.valid_days
        )
        for r in session.scalars(select(BirthdayCoupon).order_by(BirthdayCoupon.tier_code))
    ]


def give_birthday_coupons(
    *,
    session: Session,
    today: date | None = None,
    now: datetime | None = None,
    programme: rules.Programme | None = None,
) -> BirthdayCoupons:
    """Every member whose birthday is ``today`` (or a make-up day, as for the points) gets
    their tier's birthday coupon, once a calendar year, valid from now until the end of
    the birthday plus the rule's ``valid_days``. Run daily (the nightly upkeep does)."""
    now, programme = now_or(now), programme or get_programme(session, fresh=True)
    today = today or now.astimezone(programme.zone).date()
    by_tier = {r.tier_code: r for r in session.scalars(select(BirthdayCoupon))}
    if not by_tier:
        return BirthdayCoupons(day=today, issued=0)
    issued = 0
    for customer_id, day in sorted(_due(session, today, programme).items()):
        account = open_account(session, customer_id, now, programme)  # serialises the member
        rule = by_tier.get(account.tier_code)
        if rule is None or session.scalar(
            select(BirthdayCouponIssue.id).where(
                BirthdayCouponIssue.customer_id == customer_id,
                BirthdayCouponIssue.year == today.year,
            )
        ):
            continue
        coupon = issue_coupon(
            session=session,
            issue_in=CouponIssue(template_code=rule.template_code, customer_id=customer_id),
            now=now,
            programme=programme,
        )
        row = session.get(Coupon, coupon.id)
        assert row is not None
        row.valid_from = now
        row.expires_at = datetime.combine(
            day + timedelta(days=1 + rule.valid_days), time(), programme.zone
        )
        session.add(
            BirthdayCouponIssue(
                customer_id=customer_id, year=today.year, coupon_id=coupon.id, issued_at=now
            )
        )
        session.flush()
        issued += 1
    return BirthdayCoupons(day=today, issued=issued)


def birthday_coupon_of(*, session: Session, customer_id: int, year: int) -> str | None:
    """The code of the member's birthday coupon of ``year``, if one was given (the 360 page)."""
    return session.scalar(
        select(Coupon.code)
        .join(BirthdayCouponIssue, BirthdayCouponIssue.coupon_id == Coupon.id)
        .where(BirthdayCouponIssue.customer_id == customer_id, BirthdayCouponIssue.year == year)
    )
