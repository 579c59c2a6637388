"""Coupon templates and coupons: issuing to one member or many, the coupons a member can use,
and redeeming one exactly once. No commits here."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Row, Select, bindparam, func, select, update
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.core.actor import Actor
from patron.core.db import core_rows
from patron.core.errors import InvalidInput
from patron.core.models import UTCDateTime
from patron.customers import service as customers
from patron.loyalty import rules
from patron.loyalty.accounts import get_programme, now_or, open_account
from patron.loyalty.exceptions import (
    CouponAlreadyUsed,
    CouponLimitReached,
    CouponNotFound,
    CouponTemplateNotFound,
)
from patron.loyalty.models import (
    Coupon,
    CouponEvent,
    CouponStatus,
    CouponTemplate,
)
from patron.loyalty.schemas import (
    BulkIssueIn,
    BulkIssueRead,
    CouponIssue,
    CouponRead,
    CouponScope,
    CouponTemplateCreate,
    CouponTemplateRead,
)


def terms_of(template: CouponTemplate | Row[*tuple[Any, ...]]) -> rules.CouponTerms:
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
        skus=tuple(scope.skus),
    )


def create_coupon_template(
    *, session: Session, template_in: CouponTemplateCreate
) -> CouponTemplateRead:
    if session.scalar(select(CouponTemplate.id).where(CouponTemplate.code == template_in.code)):
        raise InvalidInput(
            "code",
            f"a coupon template {template_in.code!r} exists already",
            message_code="coupon_template_exists",
            code=template_in.code,
        )
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


def list_coupon_templates(*, session: Session) -> list[CouponTemplateRead]:
    """Every coupon template, newest first."""
    rows = session.scalars(select(CouponTemplate).order_by(CouponTemplate.id.desc()))
    return [CouponTemplateRead.model_validate(r) for r in rows]


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
        raise InvalidInput(
            "template_code",
            "this template's validity has ended",
            message_code="template_validity_ended",
        )
    return valid_from, expires_at


def issue_coupon(
    *,
    session: Session,
    issue_in: CouponIssue,
    now: datetime | None = None,
    programme: rules.Programme | None = None,
) -> CouponRead:
    """Give one customer a coupon with a fresh unique code, within the template's limits."""
    now, programme = now_or(now), programme or get_programme(session, fresh=True)
    template = session.scalar(
        select(CouponTemplate).where(CouponTemplate.code == issue_in.template_code)
    )
    if template is None:
        raise CouponTemplateNotFound(f"no coupon template {issue_in.template_code!r}")
    # The account lock serialises issues to one customer, so the limit holds under concurrency.
    open_account(session, issue_in.customer_id, now, programme)
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


# The members of a value segment or lifecycle stage of the latest analytics run, as
# ``(run id, customer ids)``: analytics answers it, and the caller (the API) passes it in, so
# loyalty does not import analytics (which reads loyalty's tables for its own figures).
SegmentMembers = Callable[[Session, str | None, str | None], tuple[int, list[int]]]


def issue_coupons_to(
    *,
    session: Session,
    issue_in: BulkIssueIn,
    actor: Actor,
    segment_members: SegmentMembers,
) -> BulkIssueRead:
    """:func:`issue_coupons` for an audience: a list of ids, or a value segment or lifecycle
    stage of the latest analytics run (through ``segment_members``), within the actor's
    stores."""
    if issue_in.customer_ids is not None:
        ids, audience = list(issue_in.customer_ids), "list"
    else:
        run_id, ids = segment_members(session, issue_in.segment, issue_in.stage)
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
    codes_out: dict[int, str] | None = None,
) -> BulkIssueRead:
    """Give one coupon of a template to each of many members (a segment, a stage, a list):
    members merged away or outside ``store_ids`` are left out, members already holding the
    template's per-member limit are skipped, and every code is new. One audit entry.
    ``codes_out``, when given, receives each member's new code (a campaign's messages name
    it)."""
    now = now_or(now)
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
        if codes_out is not None:
            codes_out.update((c.customer_id, c.code) for c in batch)
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


def usable_coupons(session: Session, customer_id: int, at: datetime) -> list[Row[*tuple[Any, ...]]]:
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
    return [_held_read(row) for row in usable_coupons(session, customer_id, now_or(now))]


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
    now = now_or(now)
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
