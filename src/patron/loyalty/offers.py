"""Limited-time member offers (限时优惠): a member price or a percentage off some SKUs or
categories, for some tiers, between a start and an end, optionally for the first N units or
N members. No commits here.

Stacking (docs/loyalty-rewards.md): each line takes the one offer that saves the member the
most; the offer lowers the line's price first, as a line discount would, and the tier
discount, coupons and points then apply to what is left under their own rules. The quote
shows which offer priced each line; committing the order takes the offer's quota in one
conditional statement, so a quota is never exceeded however many tills sell at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Row, Select, bindparam, select, update
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.core import caches
from patron.core.actor import Actor
from patron.core.db import core_rows, database_key
from patron.core.errors import Conflict
from patron.core.models import UTCDateTime
from patron.core.money import MILLI, line_amount_fen, round_half_up_div
from patron.loyalty import ledger, rules
from patron.loyalty.exceptions import OfferNotFound, OfferQuotaUsedUp
from patron.loyalty.models import MemberOffer, OfferClaim
from patron.loyalty.reward_schemas import OfferCreate, OfferLine, OfferRead


@dataclass(frozen=True)
class OfferTerms:
    """An offer as the pure rules read it."""

    code: str
    name: str
    price_fen: int | None
    percent_off_bp: int
    skus: frozenset[str]
    categories: tuple[str, ...]
    tiers: frozenset[str]
    store_codes: frozenset[str]
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class PricedLine:
    """A basket line as an offer prices it: what it is and what it costs before loyalty."""

    sku: str
    category: str
    quantity_milli: int
    amount_fen: int


def _under(category: str, prefixes: Sequence[str]) -> bool:
    path = category.strip("/")
    return any(path == p.strip("/") or path.startswith(p.strip("/") + "/") for p in prefixes)


def covers(terms: OfferTerms, line: PricedLine) -> bool:
    return line.sku in terms.skus or _under(line.category, terms.categories)


def applies(terms: OfferTerms, *, tier_code: str, store_code: str, at: datetime) -> bool:
    return (
        terms.starts_at <= at < terms.ends_at
        and (not terms.tiers or tier_code in terms.tiers)
        and (not terms.store_codes or store_code in terms.store_codes)
    )


def line_saving_fen(terms: OfferTerms, line: PricedLine) -> int:
    """What the offer takes off the line: down to the member price (never below it, never
    raising a line already cheaper), or the percentage, rounded half up per line."""
    if terms.price_fen is not None:
        member_amount = line_amount_fen(line.quantity_milli, terms.price_fen)
        return max(line.amount_fen - member_amount, 0)
    return round_half_up_div(line.amount_fen * terms.percent_off_bp, rules.BP)


def units(quantity_milli: int) -> int:
    """Units a line takes from a quota: its quantity rounded up (1.5 kg is 2)."""
    return max(-(-quantity_milli // MILLI), 1)


def _terms(row: MemberOffer | Row[Any]) -> OfferTerms:
    scope = row.scope
    return OfferTerms(
        code=row.code,
        name=row.name,
        price_fen=row.price_fen,
        percent_off_bp=row.percent_off_bp,
        skus=frozenset(scope.get("skus", [])),
        categories=tuple(scope.get("categories", [])),
        tiers=frozenset(scope.get("tiers", [])),
        store_codes=frozenset(scope.get("store_codes", [])),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
    )


def _read(row: MemberOffer) -> OfferRead:
    scope = row.scope
    return OfferRead(
        code=row.code,
        name=row.name,
        price_fen=row.price_fen,
        percent_off_bp=row.percent_off_bp,
        skus=scope.get("skus", []),
        categories=scope.get("categories", []),
        tiers=scope.get("tiers", []),
        store_codes=scope.get("store_codes", []),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        quota_units=row.quota_units,
        quota_members=row.quota_members,
        units_taken=row.units_taken,
        members_taken=row.members_taken,
        active=row.active,
    )


def create_offer(*, session: Session, offer_in: OfferCreate, actor: Actor) -> OfferRead:
    if session.scalar(select(MemberOffer.id).where(MemberOffer.code == offer_in.code)):
        raise Conflict(f"offer {offer_in.code!r} exists", message_code="code_taken")
    row = MemberOffer(
        code=offer_in.code,
        name=offer_in.name,
        price_fen=offer_in.price_fen,
        percent_off_bp=offer_in.percent_off_bp,
        scope={
            "skus": sorted(set(offer_in.skus)),
            "categories": sorted(set(offer_in.categories)),
            "tiers": sorted(set(offer_in.tiers)),
            "store_codes": sorted(set(offer_in.store_codes)),
        },
        starts_at=offer_in.starts_at,
        ends_at=offer_in.ends_at,
        quota_units=offer_in.quota_units,
        quota_members=offer_in.quota_members,
        units_taken=0,
        members_taken=0,
        active=True,
    )
    session.add(row)
    session.flush()
    forget_till_offers()
    record_audit(
        session=session,
        actor=actor,
        action="offer.create",
        target_kind="member_offer",
        target_id=row.code,
        details={"tiers": row.scope["tiers"], "quota_units": row.quota_units},
    )
    return _read(row)


def _offer(session: Session, code: str) -> MemberOffer:
    row = session.scalar(select(MemberOffer).where(MemberOffer.code == code))
    if row is None:
        raise OfferNotFound(f"no offer {code!r}", code=code)
    return row


def end_offer(*, session: Session, code: str, actor: Actor) -> OfferRead:
    row = _offer(session, code)
    row.active = False
    forget_till_offers()
    record_audit(
        session=session, actor=actor, action="offer.end", target_kind="member_offer", target_id=code
    )
    session.flush()
    return _read(row)


def list_offers(*, session: Session, running_at: datetime | None = None) -> list[OfferRead]:
    query = select(MemberOffer).order_by(MemberOffer.starts_at.desc(), MemberOffer.id.desc())
    if running_at is not None:
        query = query.where(
            MemberOffer.active.is_(True),
            MemberOffer.starts_at <= running_at,
            MemberOffer.ends_at > running_at,
        )
    return [_read(r) for r in session.scalars(query)]


# Every quote asks which offers run; like promotions, each process keeps the offers not yet
# ended for TILL_OFFER_SECONDS, dropped when it changes one or takes quota. A quota shown
# by a quote may be a few seconds old; the commit takes it exactly.
TILL_OFFER_SECONDS = 10.0
_till_offers: dict[str, tuple[float, datetime, list[tuple[Row[Any], OfferTerms]]]] = {}


@cache
def _not_ended_statement() -> Select[*tuple[Any, ...]]:
    return (
        select(*MemberOffer.__table__.c)
        .where(
            MemberOffer.active.is_(True),
            MemberOffer.ends_at > bindparam("at", type_=UTCDateTime()),
        )
        .order_by(MemberOffer.id)
    )


def _running(session: Session, at: datetime) -> list[tuple[Row[Any], OfferTerms]]:
    clock, key = time.monotonic(), database_key(session)
    hit = _till_offers.get(key)
    if hit is None or clock - hit[0] >= TILL_OFFER_SECONDS or at < hit[1]:
        rows = core_rows(session, _not_ended_statement(), {"at": at})
        hit = _till_offers[key] = (clock, at, [(r, _terms(r)) for r in rows])
    return hit[2]


def forget_till_offers() -> None:
    _till_offers.clear()


caches.register("loyalty.till_offers", forget_till_offers, max_age_s=TILL_OFFER_SECONDS)


def _has_claimed(session: Session, offer_id: int, customer_id: int) -> bool:
    return (
        session.scalar(
            select(OfferClaim.id)
            .where(OfferClaim.offer_id == offer_id, OfferClaim.customer_id == customer_id)
            .limit(1)
        )
        is not None
    )


def _quota_left(session: Session, row: Row[Any], customer_id: int, want: int) -> bool:
    if row.quota_units is not None and row.units_taken + want > row.quota_units:
        return False
    if row.quota_members is not None and row.members_taken >= row.quota_members:
        return _has_claimed(session, row.id, customer_id)
    return True


def price_lines(
    session: Session,
    *,
    lines: Sequence[PricedLine],
    tier_code: str,
    store_code: str,
    customer_id: int,
    at: datetime,
    allowed: Callable[[str], bool] = lambda _code: True,
) -> list[OfferLine]:
    """The best offer for each line the member's offers cover (``allowed``: early access
    lets this member have the offer now), with what it saves."""
    found = [
        (row, terms)
        for row, terms in _running(session, at)
        if applies(terms, tier_code=tier_code, store_code=store_code, at=at)
    ]
    if not found:
        return []
    out = []
    for n, line in enumerate(lines):
        best: tuple[int, Row[Any], OfferTerms] | None = None
        for row, terms in found:
            if not covers(terms, line):
                continue
            saving = line_saving_fen(terms, line)
            if (
                saving > 0
                and (best is None or saving > best[0])
                and allowed(terms.code)
                and _quota_left(session, row, customer_id, units(line.quantity_milli))
            ):
                best = (saving, row, terms)
        if best is not None:
            out.append(
                OfferLine(
                    line_no=n,
                    sku=line.sku,
                    offer_code=best[2].code,
                    offer_name=best[2].name,
                    discount_fen=best[0],
                )
            )
    return out


def claim_offer(
    *,
    session: Session,
    code: str,
    customer_id: int,
    order_id: int,
    units_taken: int,
    now: datetime,
    programme: rules.Programme,
) -> None:
    """Take ``units_taken`` units (and, the first time, one member) of an offer's quota for
    an order, each in one conditional statement; refused when the quota is used up."""
    row = _offer(session, code)
    ledger.open_account(session, customer_id, now, programme)  # one member's orders in turn
    if row.quota_members is not None and not _has_claimed(session, row.id, customer_id):
        won = session.execute(
            update(MemberOffer)
            .where(MemberOffer.id == row.id, MemberOffer.members_taken < MemberOffer.quota_members)
            .values(members_taken=MemberOffer.members_taken + 1)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if won != 1:
            raise OfferQuotaUsedUp(f"offer {code!r} has no member places left", code=code)
    limit = (
        [MemberOffer.quota_units >= MemberOffer.units_taken + units_taken]
        if row.quota_units is not None
        else []
    )
    won = session.execute(
        update(MemberOffer)
        .where(MemberOffer.id == row.id, *limit)
        .values(units_taken=MemberOffer.units_taken + units_taken)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if won != 1:
        raise OfferQuotaUsedUp(f"offer {code!r} has fewer than {units_taken} units left", code=code)
    session.add(
        OfferClaim(
            offer_id=row.id,
            customer_id=customer_id,
            order_id=order_id,
            units=units_taken,
            claimed_at=now,
        )
    )
    session.flush()
    forget_till_offers()


def claim_for_order(
    session: Session,
    *,
    codes: Sequence[str],
    lines: Sequence[PricedLine],
    customer_id: int,
    order_id: int,
    ordered_at: datetime,
    now: datetime,
    programme: rules.Programme,
) -> None:
    """The offers a till applied to a posted order: each must have run when the order was
    placed; each takes the units of the lines it covers."""
    for code in dict.fromkeys(codes):
        terms = _terms(_offer(session, code))
        if not terms.starts_at <= ordered_at < terms.ends_at:
            raise OfferNotFound(f"offer {code!r} was not running then", code=code)
        taken = sum(units(ln.quantity_milli) for ln in lines if covers(terms, ln))
        claim_offer(
            session=session,
            code=code,
            customer_id=customer_id,
            order_id=order_id,
            units_taken=max(taken, 1),
            now=now,
            programme=programme,
        )
