"""Retention: how long each kind of personal data is kept, a dry run that counts what a
run would do, and the run (nightly from ``patron.jobs``, or ``patron privacy retention``).

Kinds (docs/privacy.md):

- ``inactive_customers``: a live profile with no activity (sign-up, order, return,
  interaction, points movement) for ``keep_months`` is anonymised through
  ``customers.anonymising``: orders and points stay as an anonymous record, so net sales and
  the points liability do not change.
- ``interaction_notes``: interaction notes older than ``keep_months`` are deleted.

Finding who is inactive reads the sales tables through ``patron.metadata``, as the export
does; every change goes through the customers domain.
"""

from __future__ import annotations

import calendar
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from patron import metadata as all_tables
from patron.audit.service import record_audit
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.customers import anonymising
from patron.privacy.models import RetentionKind, RetentionPolicy
from patron.privacy.schemas import PolicyIn, PolicyRead


def months_before(at: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (the month's last day when
    that month is shorter)."""
    index = at.year * 12 + at.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    last_day = calendar.monthrange(year, month)[1]
    return at.replace(year=year, month=month, day=min(at.day, last_day))


def set_policy(*, session: Session, policy_in: PolicyIn, actor: Actor) -> PolicyRead:
    row = session.scalar(select(RetentionPolicy).where(RetentionPolicy.kind == policy_in.kind))
    before = None if row is None else {"keep_months": row.keep_months, "active": row.active}
    if row is None:
        row = RetentionPolicy(kind=policy_in.kind)
        session.add(row)
    row.keep_months = policy_in.keep_months
    row.active = policy_in.active
    row.updated_by = actor.name[:120]
    row.updated_at = utcnow()
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="privacy.retention.set",
        target_kind="retention_policy",
        target_id=row.kind,
        details={"before": before, "keep_months": row.keep_months, "active": row.active},
    )
    return PolicyRead.model_validate(row)


def list_policies(*, session: Session) -> list[PolicyRead]:
    rows = session.scalars(select(RetentionPolicy).order_by(RetentionPolicy.kind))
    return [PolicyRead.model_validate(r) for r in rows]


def inactive_customer_ids(*, session: Session, before: datetime) -> list[int]:
    """Live profiles that signed up before ``before`` and did nothing since."""
    t = all_tables.metadata.tables
    customer, orders, returns = t["customer"], t["orders"], t["sale_return"]
    interaction, account, entry = t["interaction"], t["loyalty_account"], t["points_entry"]
    cid = customer.c.id
    recent = [
        exists().where(orders.c.customer_id == cid, orders.c.ordered_at >= before),
        exists().where(returns.c.customer_id == cid, returns.c.returned_at >= before),
        exists().where(interaction.c.customer_id == cid, interaction.c.occurred_at >= before),
        exists().where(
            account.c.customer_id == cid,
            entry.c.account_id == account.c.id,
            entry.c.occurred_at >= before,
        ),
    ]
    query = (
        select(cid)
        .where(
            customer.c.status == anonymising.LIVE_STATUS,
            customer.c.signed_up_at < before,
            *(~r for r in recent),
        )
        .order_by(cid)
    )
    return list(session.execute(query).scalars())


# Ids per statement: far below the bound-parameter limits of SQLite and PostgreSQL.
_BATCH = 1000


def _anonymise(session: Session, ids: list[int], *, dry_run: bool) -> dict[str, int]:
    totals: dict[str, int] = {}
    for start in range(0, len(ids), _BATCH):
        done = anonymising.anonymise_customers(
            session=session, customer_ids=ids[start : start + _BATCH], dry_run=dry_run
        )
        for key, value in asdict(done).items():
            totals[key] = totals.get(key, 0) + value
    if not totals:
        totals = asdict(anonymising.Anonymised(0, 0, 0, 0, 0))
    return totals


@dataclass
class RetentionOutcome:
    dry_run: bool
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    cutoffs: dict[str, str] = field(default_factory=dict)


def apply_retention(
    *, session: Session, actor: Actor, dry_run: bool, now: datetime | None = None
) -> RetentionOutcome:
    """Every active policy, counted (``dry_run``) or carried out; a run is audited with
    its counts."""
    now = now or utcnow()
    outcome = RetentionOutcome(dry_run=dry_run)
    for policy in list_policies(session=session):
        if not policy.active:
            continue
        before = months_before(now, policy.keep_months)
        outcome.cutoffs[policy.kind] = before.isoformat()
        if policy.kind == RetentionKind.INACTIVE_CUSTOMERS:
            ids = inactive_customer_ids(session=session, before=before)
            outcome.counts[policy.kind] = _anonymise(session, ids, dry_run=dry_run)
        elif policy.kind == RetentionKind.INTERACTION_NOTES:
            n = anonymising.delete_interactions_before(
                session=session, before=before, dry_run=dry_run
            )
            outcome.counts[policy.kind] = {"interactions": n}
    if not dry_run:
        record_audit(
            session=session,
            actor=actor,
            action="privacy.retention.run",
            target_kind="retention_policy",
            details={"counts": outcome.counts, "cutoffs": outcome.cutoffs},
        )
    return outcome


def run_retention(*, db: Database, actor: Actor, dry_run: bool = False) -> RetentionOutcome:
    """One transaction: the policies are carried out whole or not at all."""
    return db.write(lambda s: apply_retention(session=s, actor=actor, dry_run=dry_run))
