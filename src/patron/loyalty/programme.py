"""The programme's terms: the built-in ones until someone changes them, then the newest saved
version. Every change is kept (who, when, why) and audited.

Every till call prices by the terms, so this process keeps the terms it read for
PROGRAMME_SECONDS per database, and forgets them as soon as it saves a change; a change saved
by another server process reaches quotes here within that time. Calls that write the ledger
(commits, refunds, adjustments, draws) ask for ``fresh`` terms: one small query checks the
version in force and the kept terms are used only if they are still it.
"""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.core import caches
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.db import database_key
from patron.core.errors import Conflict, InvalidInput
from patron.core.settings import get_settings
from patron.loyalty import rules
from patron.loyalty.models import LoyaltyAccount, ProgrammeVersion
from patron.loyalty.terms import (
    ProgrammeRead,
    ProgrammeTerms,
    ProgrammeUpdate,
    ProgrammeVersionRead,
)

PROGRAMME_SECONDS = 10.0
_CHANGE_LOCK = 0x5041_5452_4F4E_0001  # PostgreSQL advisory lock: one terms change at a time
HISTORY_SHOWN = 50

# database URL → (read at, monotonic; version, 0 for the built-in terms; the terms)
_kept: dict[str, tuple[float, int, rules.Programme]] = {}


def _newest(session: Session) -> ProgrammeVersion | None:
    return session.scalar(select(ProgrammeVersion).order_by(ProgrammeVersion.id.desc()).limit(1))


def _terms(row: ProgrammeVersion | None) -> ProgrammeTerms:
    """A saved version's terms; the built-in ones for none."""
    return ProgrammeTerms.model_validate(row.terms) if row else ProgrammeTerms()


def current(session: Session, *, fresh: bool = False) -> rules.Programme:
    """The terms in force: kept in this process for PROGRAMME_SECONDS unless ``fresh``."""
    key = database_key(session)
    kept = _kept.get(key)
    now = time.monotonic()
    if kept is not None and not fresh and now - kept[0] < PROGRAMME_SECONDS:
        return kept[2]
    if kept is not None and fresh:
        version = session.scalar(select(func.coalesce(func.max(ProgrammeVersion.id), 0)))
        if version == kept[1]:
            return kept[2]
    row = _newest(session)
    programme = _terms(row).to_rules(get_settings().zone)
    _kept[key] = (now, row.id if row else 0, programme)
    return programme


def forget() -> None:
    """Drop the kept terms (a change was saved here; tests start over)."""
    _kept.clear()


caches.register("loyalty.programme", forget, max_age_s=PROGRAMME_SECONDS)


def read(session: Session) -> ProgrammeRead:
    """The terms in force, with their version and who changed them, when and why."""
    return _read(_newest(session))


def _read(row: ProgrammeVersion | None) -> ProgrammeRead:
    return ProgrammeRead(
        **_terms(row).model_dump(),
        version=row.id if row else 0,
        changed_at=row.created_at if row else None,
        changed_by=row.changed_by if row else None,
        reason=row.reason if row else None,
    )


def update(
    *, session: Session, update_in: ProgrammeUpdate, actor: Actor, now: datetime | None = None
) -> ProgrammeRead:
    """Save new terms: in force from now on, the old ones kept; one audit entry naming what
    changed. A tier that members hold cannot be dropped (rename it instead); terms edited
    from an older version than the one in force are refused (Conflict)."""
    missing = [n for n in ProgrammeTerms.model_fields if n not in update_in.model_fields_set]
    if missing:
        raise InvalidInput(
            missing[0], "send every term, as GET /api/v1/loyalty/programme gives them"
        )
    if session.get_bind().dialect.name == "postgresql":  # one change at a time
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHANGE_LOCK})
    before = read(session)
    if update_in.expected_version not in (None, before.version):
        raise Conflict(
            f"the terms were changed (version {before.version}, by {before.changed_by}) after "
            f"version {update_in.expected_version} was opened: start again from the current "
            "terms",
            version=before.version,
            message_code="programme_changed_meanwhile",
        )
    terms = ProgrammeTerms.model_validate(
        update_in.model_dump(exclude={"reason", "expected_version"})
    )
    codes = {t.code for t in terms.tiers}
    held = session.execute(
        select(LoyaltyAccount.tier_code, func.count())
        .where(LoyaltyAccount.tier_code.not_in(codes))
        .group_by(LoyaltyAccount.tier_code)
        .order_by(LoyaltyAccount.tier_code)
    ).first()
    if held is not None:
        raise InvalidInput(
            "tiers",
            f"tier {held[0]!r} is held by {held[1]} members: keep it (its name and terms may "
            "change) or move them first",
            tier=held[0],
            message_code="tier_held",
        )
    changed = _changed(before, terms)
    row = ProgrammeVersion(
        terms=terms.model_dump(mode="json"),
        reason=update_in.reason,
        changed_by=actor.name[:120],
        created_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="loyalty.programme.update",
        target_kind="loyalty_programme",
        target_id=row.id,
        reason=update_in.reason,
        details={"changed": changed, "from_version": before.version},
    )
    forget()
    # and again once committed: a reader in between may have kept the old terms
    event.listen(session, "after_commit", lambda _s: forget(), once=True)
    return _read(row)


def _changed(before: ProgrammeTerms, after: ProgrammeTerms) -> list[str]:
    """The terms that differ (a tier's as ``tiers.gold.discount_bp``), in the schema's order."""
    out = [
        name
        for name in ProgrammeTerms.model_fields
        if name != "tiers" and getattr(before, name) != getattr(after, name)
    ]
    old = {t.code: t for t in before.tiers}
    new = {t.code: t for t in after.tiers}
    for code in sorted(old.keys() - new.keys()):
        out.append(f"tiers.{code} (removed)")
    for code, tier in new.items():
        if code not in old:
            out.append(f"tiers.{code} (added)")
            continue
        out += [
            f"tiers.{code}.{name}"
            for name in type(tier).model_fields
            if getattr(old[code], name) != getattr(tier, name)
        ]
    return out


def history(session: Session, *, limit: int = HISTORY_SHOWN) -> list[ProgrammeVersionRead]:
    """The saved changes, newest first, each with the terms it changed."""
    rows = list(
        session.scalars(
            select(ProgrammeVersion).order_by(ProgrammeVersion.id.desc()).limit(limit + 1)
        )
    )
    out = []
    for n, row in enumerate(rows[:limit]):
        # The version before (read with the page); the oldest one changed the built-in terms.
        previous = _terms(rows[n + 1] if n + 1 < len(rows) else None)
        out.append(
            ProgrammeVersionRead(
                version=row.id,
                changed_at=row.created_at,
                changed_by=row.changed_by,
                reason=row.reason,
                changed=_changed(previous, _terms(row)),
            )
        )
    return out
