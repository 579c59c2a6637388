"""Service levels: policies, the due times of a ticket's two clocks, warnings, breaches,
escalation, and the SLA report.

A ticket has two clocks, counted in working time on its store's business calendar
(support/calendars, support/workingtime: opening hours, China's public holidays and
adjusted working days): the first reply and the resolution. The resolution clock stands
still while the ticket waits for the customer or a supplier, and while it is resolved
(a reopened ticket goes on where it stopped). ``sweep`` (run by patron.jobs) warns before
a breach, records the breach, escalates to the store's manager, and after the policy's
``chain_after_minutes`` of further working time to the chain's managers; each event is
written once, so a sweep run twice does nothing more (docs/support.md).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from patron import loyalty
from patron.audit.service import record_audit
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.errors import InvalidInput
from patron.staff import service as staff
from patron.support.calendars import calendar_for_store
from patron.support.tickets.models import (
    EntryKind,
    SlaClock,
    SlaEvent,
    SlaEventKind,
    SlaPolicy,
    Ticket,
    TicketEntry,
    TicketStatus,
)
from patron.support.tickets.schemas import SlaPolicyIn, SlaPolicyRead
from patron.support.workingtime import (
    BusinessCalendar,
    Pause,
    add_business_minutes,
    business_time_between,
)

_STOPPED = frozenset(
    {
        TicketStatus.WAITING_CUSTOMER,
        TicketStatus.WAITING_SUPPLIER,
        TicketStatus.RESOLVED,
        TicketStatus.CLOSED,
    }
)


_DONE = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})


def tier_of(session: Session, customer_id: int) -> str | None:
    return loyalty.tier_code_of(session=session, customer_id=customer_id)


# --- policies --------------------------------------------------------------------------


def save_policy(*, session: Session, policy_in: SlaPolicyIn, actor: Actor) -> SlaPolicyRead:
    """Add a policy, or replace the one for the same type, priority and tier."""
    if policy_in.first_reply_minutes > policy_in.resolve_minutes:
        raise InvalidInput(
            "first_reply_minutes",
            "is longer than the time to resolve",
            message_code="sla_reply_after_resolution",
        )
    row = session.scalar(
        select(SlaPolicy).where(
            _is(SlaPolicy.ticket_type, policy_in.ticket_type),
            _is(SlaPolicy.priority, policy_in.priority),
            _is(SlaPolicy.tier_code, policy_in.tier_code),
        )
    )
    if row is None:
        row = SlaPolicy()
        session.add(row)
    for name, value in policy_in.model_dump().items():
        setattr(row, name, value)
    row.changed_by = actor.name
    row.updated_at = utcnow()
    session.flush()
    record_audit(
        session=session, actor=actor, action="sla_policy.save", target_kind="sla_policy",
        target_id=row.id, details=policy_in.model_dump(mode="json"),
    )  # fmt: skip
    return SlaPolicyRead.model_validate(row, from_attributes=True)


def _is(column: InstrumentedAttribute[str | None], value: str | None) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def list_policies(*, session: Session) -> list[SlaPolicyRead]:
    rows = session.scalars(select(SlaPolicy).order_by(SlaPolicy.id))
    return [SlaPolicyRead.model_validate(r, from_attributes=True) for r in rows]


def policy_for(
    session: Session, ticket_type: str, priority: str, tier_code: str | None
) -> SlaPolicy | None:
    """The most specific policy matching: a named field beats an empty one (type counts
    most, then priority, then tier)."""
    best: tuple[int, SlaPolicy] | None = None
    for row in session.scalars(select(SlaPolicy)):
        score = 0
        for value, wanted, weight in (
            (row.ticket_type, ticket_type, 4),
            (row.priority, priority, 2),
            (row.tier_code, tier_code, 1),
        ):
            if value is None:
                continue
            if value != wanted:
                break
            score += weight
        else:
            if best is None or score > best[0]:
                best = (score, row)
    return best[1] if best else None


# --- the clocks ------------------------------------------------------------------------


def _calendar(session: Session, ticket: Ticket) -> BusinessCalendar:
    return calendar_for_store(session=session, store_id=ticket.store_id)


def pauses_of(session: Session, ticket: Ticket) -> list[Pause]:
    """When the resolution clock stood still: the ticket's stretches in a waiting, resolved
    or closed status, from its status entries."""
    entries = session.execute(
        select(TicketEntry.at, TicketEntry.to_status)
        .where(TicketEntry.ticket_id == ticket.id, TicketEntry.kind == EntryKind.STATUS)
        .order_by(TicketEntry.id)
    ).all()
    pauses: list[Pause] = []
    started: datetime | None = None
    for at, to_status in entries:
        stopped = to_status in _STOPPED
        if stopped and started is None:
            started = at
        elif not stopped and started is not None:
            pauses.append(Pause(started, at))
            started = None
    if started is not None:
        pauses.append(Pause(started, None))
    return pauses


def start_clocks(session: Session, ticket: Ticket) -> None:
    """Apply the matching policy and set both due times from the opening."""
    policy = policy_for(session, ticket.ticket_type, ticket.priority, ticket.tier_code)
    if policy is None:
        return
    calendar = _calendar(session, ticket)
    ticket.sla_policy_id = policy.id
    ticket.first_reply_due_at = add_business_minutes(
        calendar, ticket.opened_at, policy.first_reply_minutes
    ).at
    ticket.resolve_due_at = add_business_minutes(
        calendar, ticket.opened_at, policy.resolve_minutes
    ).at


def follow_status(session: Session, ticket: Ticket) -> None:
    """After a status change: the resolution's due time with every pause so far (None while
    waiting; kept as it was when the ticket is resolved or closed, to be judged by)."""
    if ticket.sla_policy_id is None or ticket.status in _DONE:
        return
    policy = session.get(SlaPolicy, ticket.sla_policy_id)
    if policy is None:
        return
    session.flush()
    ticket.resolve_due_at = add_business_minutes(
        _calendar(session, ticket),
        ticket.opened_at,
        policy.resolve_minutes,
        pauses=pauses_of(session, ticket),
    ).at


def clock_colour(due_at: datetime | None, warn_at: datetime | None, now: datetime) -> str:
    """green (in time), amber (past the warning), red (breached), grey (no clock running)."""
    if due_at is None:
        return "grey"
    if now >= due_at:
        return "red"
    if warn_at is not None and now >= warn_at:
        return "amber"
    return "green"


# --- the sweep -------------------------------------------------------------------------


@dataclass
class SweepResult:
    warnings: int = 0
    breaches: int = 0
    escalated_store: int = 0
    escalated_chain: int = 0


def _warn_at(
    calendar: BusinessCalendar, ticket: Ticket, policy: SlaPolicy, minutes: int, pauses: list[Pause]
) -> datetime | None:
    return add_business_minutes(
        calendar, ticket.opened_at, minutes * policy.warn_percent // 100, pauses=pauses
    ).at


def _record(
    session: Session,
    ticket: Ticket,
    clock: SlaClock,
    kind: SlaEventKind,
    due_at: datetime,
    now: datetime,
    notified: str = "",
) -> bool:
    """Write the event once; False when it was written before."""
    exists = session.scalar(
        select(SlaEvent.id).where(
            SlaEvent.ticket_id == ticket.id, SlaEvent.clock == clock, SlaEvent.kind == kind
        )
    )
    if exists is not None:
        return False
    session.add(
        SlaEvent(
            ticket_id=ticket.id, clock=clock, kind=kind, due_at=due_at, notified=notified, at=now
        )
    )
    session.add(
        TicketEntry(
            ticket_id=ticket.id,
            kind=EntryKind.NOTE,
            body=f"SLA {clock.value}: {kind.value}" + (f" → {notified}" if notified else ""),
            author="sla",
            at=now,
        )
    )
    session.flush()
    return True


def _managers(session: Session, role: str, store_code: str | None) -> list[str]:
    return [
        s.display_name
        for s in staff.list_staff(session=session)
        if s.is_active and s.role == role and (store_code is None or store_code in s.store_codes)
    ]


def _clocks(ticket: Ticket, policy: SlaPolicy) -> Iterable[tuple[SlaClock, datetime | None, int]]:
    if ticket.first_replied_at is None:
        yield SlaClock.FIRST_REPLY, ticket.first_reply_due_at, policy.first_reply_minutes
    if ticket.status not in _STOPPED:
        yield SlaClock.RESOLUTION, ticket.resolve_due_at, policy.resolve_minutes


def _sweep_ticket(
    session: Session, ticket: Ticket, policy: SlaPolicy, store_code: str | None, now: datetime
) -> SweepResult:
    done = SweepResult()
    calendar = _calendar(session, ticket)
    pauses = pauses_of(session, ticket)
    for clock, due_at, minutes in _clocks(ticket, policy):
        if due_at is None:
            continue
        warn_at = _warn_at(
            calendar, ticket, policy, minutes, pauses if clock == SlaClock.RESOLUTION else []
        )
        if warn_at is not None and now >= warn_at and now < due_at:
            done.warnings += _record(session, ticket, clock, SlaEventKind.WARNING, due_at, now)
        if now < due_at:
            continue
        done.breaches += _record(session, ticket, clock, SlaEventKind.BREACH, due_at, now)
        names = ", ".join(_managers(session, "store_manager", store_code))
        if _record(session, ticket, clock, SlaEventKind.ESCALATED_STORE, due_at, now, names):
            done.escalated_store += 1
            ticket.escalation_level = max(ticket.escalation_level, 1)
        chain_at = add_business_minutes(calendar, due_at, policy.chain_after_minutes).at
        if chain_at is not None and now >= chain_at:
            chain = ", ".join(_managers(session, "chain_manager", None))
            if _record(session, ticket, clock, SlaEventKind.ESCALATED_CHAIN, due_at, now, chain):
                done.escalated_chain += 1
                ticket.escalation_level = 2
    return done


def sweep(*, session: Session, now: datetime | None = None) -> SweepResult:
    """Warn, record breaches and escalate for every open ticket with a policy. Idempotent:
    each (ticket, clock, event) is written once."""
    from patron.catalog import service as catalog

    at = now or utcnow()
    codes = catalog.store_codes_by_id(session=session)
    policies = {p.id: p for p in session.scalars(select(SlaPolicy))}
    total = SweepResult()
    open_ = [
        str(s)
        for s in (
            TicketStatus.NEW,
            TicketStatus.ASSIGNED,
            TicketStatus.IN_PROGRESS,
            TicketStatus.WAITING_CUSTOMER,
            TicketStatus.WAITING_SUPPLIER,
        )
    ]
    tickets = session.scalars(
        select(Ticket).where(Ticket.status.in_(open_), Ticket.sla_policy_id.is_not(None))
    ).all()
    for ticket in tickets:
        policy = policies.get(ticket.sla_policy_id or 0)
        if policy is None:
            continue
        store_code = codes.get(ticket.store_id) if ticket.store_id else None
        one = _sweep_ticket(session, ticket, policy, store_code, at)
        total.warnings += one.warnings
        total.breaches += one.breaches
        total.escalated_store += one.escalated_store
        total.escalated_chain += one.escalated_chain
    return total


def events_of(*, session: Session, ticket_id: int) -> list[tuple[str, str, datetime]]:
    rows = session.execute(
        select(SlaEvent.clock, SlaEvent.kind, SlaEvent.at)
        .where(SlaEvent.ticket_id == ticket_id)
        .order_by(SlaEvent.id)
    ).all()
    return list(rows)


# --- the report ------------------------------------------------------------------------


@dataclass
class SlaGroup:
    key: str
    tickets: int = 0
    met: int = 0  # both clocks kept (of the tickets whose clocks have run out or stopped)
    judged: int = 0
    reply_minutes: list[int] = field(default_factory=list)
    resolve_minutes: list[int] = field(default_factory=list)

    @property
    def met_percent(self) -> float | None:
        return round(100 * self.met / self.judged, 1) if self.judged else None

    @property
    def median_reply_minutes(self) -> float | None:
        return statistics.median(self.reply_minutes) if self.reply_minutes else None

    @property
    def median_resolve_minutes(self) -> float | None:
        return statistics.median(self.resolve_minutes) if self.resolve_minutes else None


@dataclass
class SlaReport:
    since: datetime
    until: datetime
    overall: SlaGroup
    by_store: list[SlaGroup]
    by_type: list[SlaGroup]
    by_agent: list[SlaGroup]


def _met(ticket: Ticket, now: datetime) -> bool | None:
    """Kept both clocks (True), broke one (False), or not judged yet (None)."""
    verdicts: list[bool] = []
    reply_due, resolve_due = ticket.first_reply_due_at, ticket.resolve_due_at
    if reply_due is not None:
        if ticket.first_replied_at is not None:
            verdicts.append(ticket.first_replied_at <= reply_due)
        elif now >= reply_due:
            verdicts.append(False)
    done = ticket.resolved_at is not None and ticket.status in _DONE
    if done and resolve_due is not None:
        assert ticket.resolved_at is not None
        verdicts.append(ticket.resolved_at <= resolve_due)
    elif not done and resolve_due is not None and now >= resolve_due:
        verdicts.append(False)
    if False in verdicts:
        return False
    return True if done and ticket.sla_policy_id is not None else None


def sla_report(
    *,
    session: Session,
    since: datetime,
    until: datetime,
    store_ids: frozenset[int] | None = None,
    now: datetime | None = None,
) -> SlaReport:
    """Met %, median working minutes to the first reply and to resolution, overall and by
    store, type and agent, of the tickets opened in [since, until)."""
    from patron.catalog import service as catalog

    at = now or utcnow()
    q = select(Ticket).where(Ticket.opened_at >= since, Ticket.opened_at < until)
    if store_ids is not None:
        q = q.where(Ticket.store_id.in_(store_ids))
    codes = catalog.store_codes_by_id(session=session)
    names = {s.id: s.display_name for s in staff.list_staff(session=session)}
    overall = SlaGroup("all")
    groups: dict[str, dict[str, SlaGroup]] = {k: {} for k in ("store", "type", "agent")}
    calendars: dict[int | None, BusinessCalendar] = {}
    for ticket in session.scalars(q):
        if ticket.store_id not in calendars:
            calendars[ticket.store_id] = _calendar(session, ticket)
        calendar = calendars[ticket.store_id]
        keys = {
            "store": codes.get(ticket.store_id, "—") if ticket.store_id else "—",
            "type": ticket.ticket_type,
            "agent": names.get(ticket.assignee_id, "—") if ticket.assignee_id else "—",
        }
        targets = [overall] + [groups[g].setdefault(k, SlaGroup(k)) for g, k in keys.items()]
        met = _met(ticket, at)
        reply = (
            business_time_between(calendar, ticket.opened_at, ticket.first_replied_at).duration
            if ticket.first_replied_at
            else None
        )
        resolve = (
            business_time_between(
                calendar, ticket.opened_at, ticket.resolved_at,
                pauses=[p for p in pauses_of(session, ticket) if p.end is not None],
            ).duration
            if ticket.resolved_at
            else None
        )  # fmt: skip
        for group in targets:
            group.tickets += 1
            if met is not None:
                group.judged += 1
                group.met += int(met)
            if reply is not None:
                group.reply_minutes.append(_minutes(reply))
            if resolve is not None:
                group.resolve_minutes.append(_minutes(resolve))
    return SlaReport(
        since=since,
        until=until,
        overall=overall,
        by_store=sorted(groups["store"].values(), key=lambda g: g.key),
        by_type=sorted(groups["type"].values(), key=lambda g: g.key),
        by_agent=sorted(groups["agent"].values(), key=lambda g: g.key),
    )


def _minutes(duration: timedelta) -> int:
    return int(duration.total_seconds() // 60)
