"""Priority purchase (优先购买权): goods (a SKU, a category) or a member offer that higher
tiers may buy first. No commits here.

Each listed tier, and every tier ranked above it, may buy from its day; everyone else from
``everyone_day``. Day 0 is the opening instant itself; day N starts at midnight, in the
programme's zone (Asia/Shanghai by default), N calendar days after the opening day — so
"gold from day 0, everyone from day 3" opens a Friday-10:00 release to everyone at Monday
00:00 Shanghai time. The till's quote refuses a line this member may not buy yet, naming
the line and the time they may; the API answers the question alone.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.catalog import service as catalog
from patron.core import caches
from patron.core.actor import Actor
from patron.core.db import database_key
from patron.customers import service as customers
from patron.loyalty import rules
from patron.loyalty.accounts import account_of, get_programme, now_or
from patron.loyalty.exceptions import EarlyAccessOnly
from patron.loyalty.models import EarlyAccess
from patron.loyalty.reward_schemas import AccessAnswer, EarlyAccessCreate, EarlyAccessRead


@dataclass(frozen=True)
class AccessRule:
    target_kind: str
    target: str
    opens_at: datetime
    tier_days: tuple[tuple[str, int], ...]
    everyone_day: int


def member_day(rule: AccessRule, tier: rules.TierRule, programme: rules.Programme) -> int:
    """The day this tier may buy from: the earliest of the listed tiers at or below its rank."""
    codes = _codes(programme)
    days = [
        day
        for code, day in rule.tier_days
        if code in codes and programme.tier(code).rank <= tier.rank
    ]
    return min([*days, rule.everyone_day])


def _codes(programme: rules.Programme) -> frozenset[str]:
    return frozenset(t.code for t in programme.tiers)


def day_starts_at(rule: AccessRule, day: int, zone: ZoneInfo) -> datetime:
    if day <= 0:
        return rule.opens_at
    opening_day = rule.opens_at.astimezone(zone).date()
    return datetime.combine(opening_day + timedelta(days=day), clock_time(), zone).astimezone(UTC)


def may_buy_from(rule: AccessRule, tier: rules.TierRule, programme: rules.Programme) -> datetime:
    return day_starts_at(rule, member_day(rule, tier, programme), programme.zone)


def _rule(row: EarlyAccess) -> AccessRule:
    return AccessRule(
        target_kind=row.target_kind,
        target=row.target,
        opens_at=row.opens_at,
        tier_days=tuple(sorted(row.tier_days.items())),
        everyone_day=row.everyone_day,
    )


def _read(row: EarlyAccess) -> EarlyAccessRead:
    return EarlyAccessRead(
        target_kind=row.target_kind,
        target=row.target,
        opens_at=row.opens_at,
        tier_days=dict(row.tier_days),
        everyone_day=row.everyone_day,
    )


# Written out, not built from the row: the audit page names each target kind it can meet.
_AUDIT_TARGETS = {
    "sku": "early_access.sku",
    "category": "early_access.category",
    "offer": "early_access.offer",
}


def set_early_access(
    *, session: Session, access_in: EarlyAccessCreate, actor: Actor
) -> EarlyAccessRead:
    """Set (or replace) who may buy a SKU, a category or an offer first. Audited."""
    row = session.scalar(
        select(EarlyAccess).where(
            EarlyAccess.target_kind == access_in.target_kind,
            EarlyAccess.target == access_in.target,
        )
    )
    if row is None:
        row = EarlyAccess(target_kind=access_in.target_kind, target=access_in.target)
        session.add(row)
    row.opens_at = access_in.opens_at
    row.tier_days = dict(sorted(access_in.tier_days.items()))
    row.everyone_day = access_in.everyone_day
    session.flush()
    forget_till_access()
    record_audit(
        session=session,
        actor=actor,
        action="early_access.set",
        target_kind=_AUDIT_TARGETS[row.target_kind],
        target_id=row.target,
        details={"tier_days": row.tier_days, "everyone_day": row.everyone_day},
    )
    return _read(row)


def list_early_access(*, session: Session) -> list[EarlyAccessRead]:
    rows = session.scalars(select(EarlyAccess).order_by(EarlyAccess.opens_at.desc()))
    return [_read(r) for r in rows]


# The till asks on every quote; the rules change rarely: each process keeps them for
# TILL_ACCESS_SECONDS, dropped when it changes one.
TILL_ACCESS_SECONDS = 10.0
_till_access: dict[str, tuple[float, list[AccessRule]]] = {}


def till_rules(session: Session) -> list[AccessRule]:
    clock, key = time.monotonic(), database_key(session)
    hit = _till_access.get(key)
    if hit is None or clock - hit[0] >= TILL_ACCESS_SECONDS:
        rows = [_rule(r) for r in session.scalars(select(EarlyAccess))]
        hit = _till_access[key] = (clock, rows)
    return hit[1]


def forget_till_access() -> None:
    _till_access.clear()


caches.register("loyalty.till_access", forget_till_access, max_age_s=TILL_ACCESS_SECONDS)


def _under(category: str, prefix: str) -> bool:
    path, p = category.strip("/"), prefix.strip("/")
    return path == p or path.startswith(p + "/")


def rule_for(
    found: Sequence[AccessRule], *, sku: str | None = None, category: str | None = None,
    offer_code: str | None = None,
) -> AccessRule | None:  # fmt: skip
    for r in found:
        if (
            (r.target_kind == "sku" and r.target == sku)
            or (r.target_kind == "category" and category is not None and _under(category, r.target))
            or (r.target_kind == "offer" and r.target == offer_code)
        ):
            return r
    return None


def check_lines(
    found: Sequence[AccessRule],
    lines: Sequence[tuple[str, str]],
    *,
    tier: rules.TierRule,
    programme: rules.Programme,
    at: datetime,
) -> None:
    """Refuse the first (sku, category) line this member may not buy yet at ``at``."""
    if not found:
        return
    for n, (sku, category) in enumerate(lines):
        rule = rule_for(found, sku=sku, category=category)
        if rule is None:
            continue
        start = may_buy_from(rule, tier, programme)
        if at < start:
            raise EarlyAccessOnly(
                f"lines.{n}.sku: {sku} is for priority members until {start.isoformat()}",
                field=f"lines.{n}.sku",
                target=sku,
                from_at=start.astimezone(programme.zone).strftime("%Y-%m-%d %H:%M"),
            )


def offer_allowed(
    found: Sequence[AccessRule],
    code: str,
    *,
    tier: rules.TierRule,
    programme: rules.Programme,
    at: datetime,
) -> bool:
    rule = rule_for(found, offer_code=code)
    return rule is None or at >= may_buy_from(rule, tier, programme)


def check_access(
    *,
    session: Session,
    customer_id: int,
    sku: str | None = None,
    offer_code: str | None = None,
    at: datetime | None = None,
    programme: rules.Programme | None = None,
) -> AccessAnswer:
    """May this member buy this SKU (or have this offer) now? If not, from when."""
    at, programme = now_or(at), programme or get_programme(session)
    customer_id = customers.active_customer_id(session=session, customer_id=customer_id)
    account = account_of(session, customer_id)
    tier = programme.tier(account.tier_code) if account else programme.base_tier
    category = None
    if sku is not None:
        category = catalog.category_paths(session=session, skus=[sku]).get(sku)
    rule = rule_for(till_rules(session), sku=sku, category=category, offer_code=offer_code)
    start = may_buy_from(rule, tier, programme) if rule else None
    allowed = start is None or at >= start
    return AccessAnswer(
        customer_id=customer_id,
        tier_code=tier.code,
        target_kind="offer" if offer_code else "sku",
        target=offer_code or sku or "",
        allowed=allowed,
        from_at=start,
        reason=None if allowed else "early_access_only",
    )
