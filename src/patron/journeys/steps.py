"""What each kind of step does to a batch of entries at the same step: all of them at once
(one consent query, one coupon issue, one outbox write per channel), in the scheduler's
transaction, so a step's side effects exist exactly when the entries' move past it does
(docs/journeys.md)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from patron import audiences, consent, events, loyalty
from patron.campaigns import templates as campaign_templates
from patron.core.actor import system_actor
from patron.customers import facts as customer_facts
from patron.customers import service as customers
from patron.engagement import service as outbox
from patron.engagement.schemas import MessagesIn, Recipient
from patron.journeys.models import Journey, JourneyState, StaffTask, StateStatus, TaskStatus
from patron.journeys.schemas import (
    BranchStep,
    CouponStep,
    ExitStep,
    PointsStep,
    SendStep,
    TagStep,
    TaskStep,
    WaitEventStep,
    WaitStep,
    WebhookStep,
)

SOURCE_KIND = "journey"
ACTOR = system_actor("journeys")


@dataclass(frozen=True)
class Move:
    """Where an entry goes after its step: ``to`` the next step's index (None: it leaves,
    as ``status``), due ``at``; ``outcome`` is what the step did (None: nothing yet)."""

    to: int | None
    at: datetime | None = None
    outcome: str | None = None
    detail: str | None = None
    status: str = StateStatus.DONE
    waiting_for: str | None = None


@dataclass(frozen=True)
class Batch:
    session: Session
    journey: Journey
    keys: Sequence[str]  # the version's step keys, in order
    index: int
    states: Sequence[JourneyState]
    now: datetime
    zone: ZoneInfo

    def next(self, outcome: str, detail: str | None = None) -> Move:
        return Move(to=self.index + 1, at=self.now, outcome=outcome, detail=detail)

    def goto(self, key: str | None, outcome: str) -> Move:
        if key is None:
            return Move(to=None, outcome=outcome, status=StateStatus.EXITED)
        return Move(to=list(self.keys).index(key), at=self.now, outcome=outcome)


def next_local(after: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The first instant at or after ``after`` when the local clock reads ``at``."""
    local = after.astimezone(zone)
    candidate = datetime.combine(local.date(), at, zone)
    if candidate < local:
        candidate = datetime.combine(local.date() + timedelta(days=1), at, zone)
    return candidate


def _wait(b: Batch, step: WaitStep) -> dict[int, Move]:
    due = b.now + timedelta(days=step.days, hours=step.hours, minutes=step.minutes)
    if step.until is not None:
        due = next_local(due, step.until, b.zone)
    return {s.id: Move(to=b.index + 1, at=due, outcome="waited") for s in b.states}


def _wait_event(b: Batch, step: WaitEventStep) -> dict[int, Move]:
    """First arrival: wait (the event moves the entry on, docs/journeys.md). Due again while
    still waiting: the time-out."""
    moves: dict[int, Move] = {}
    for s in b.states:
        if s.waiting_for is None:
            moves[s.id] = Move(
                to=b.index, at=b.now + timedelta(hours=step.timeout_hours), waiting_for=step.event
            )
        else:
            moves[s.id] = b.goto(step.timeout_goto, "timed_out")
    return moves


def _branch(b: Batch, step: BranchStep) -> dict[int, Move]:
    members = set(audiences.member_ids(session=b.session, audience_id=step.audience_id, now=b.now))
    return {
        s.id: b.next("yes") if s.customer_id in members else b.goto(step.else_goto, "no")
        for s in b.states
    }


def source_id(journey_id: int, step_key: str, entry_key: str) -> str:
    """The outbox's key of a step's messages for one occurrence of the trigger: with the
    customer and the channel, it makes a message unique, so a step run again adds none."""
    found = f"{journey_id}.{step_key}.{entry_key}"
    if len(found) <= 64:
        return found
    digest = hashlib.sha256(entry_key.encode()).hexdigest()[:32]
    return f"{journey_id}.{step_key}.{digest}"


def _channels(b: Batch, step: SendStep) -> dict[int, str]:
    """Each entry's channel: the first of the step's that the customer's consent allows."""
    chosen: dict[int, str] = {}
    left = sorted({s.customer_id for s in b.states})
    for channel in step.templates:
        if not left:
            break
        if step.purpose == "marketing":
            ok = consent.reachable_for_marketing(
                session=b.session, customer_ids=left, channel=channel
            )
        else:
            ok = set(left)
        chosen.update({cid: channel for cid in left if cid in ok})
        left = [cid for cid in left if cid not in ok]
    return chosen


def _variables(state: JourneyState) -> dict[str, str | int] | None:
    found = {k: v for k, v in state.context.items() if k in ("coupon_code", "sku", "points")}
    return found or None


def _send(b: Batch, step: SendStep) -> dict[int, Move]:
    chosen = _channels(b, step)
    key = b.keys[b.index]
    groups: dict[tuple[str, str], list[JourneyState]] = {}
    for s in b.states:
        if s.customer_id in chosen:
            groups.setdefault((chosen[s.customer_id], s.entry_key), []).append(s)
    contents: dict[str, int] = {}
    for (channel, entry_key), states in sorted(groups.items()):
        if channel not in contents:
            template = campaign_templates.get_template_or_raise(
                session=b.session,
                template_id=step.templates[channel],  # type: ignore[index]
            )
            contents[channel] = outbox.create_content(
                session=b.session,
                content_in=campaign_templates.content_for(template, step.language),
            )
        messages_in = MessagesIn(
            source_kind=SOURCE_KIND,
            source_id=source_id(b.journey.id, key, entry_key),
            channel=channel,
            purpose=step.purpose,
            content_id=contents[channel],
            recipients=[
                Recipient.model_construct(customer_id=s.customer_id, variables=_variables(s))
                for s in states
            ],
            send_at=b.now,
        )
        outbox.enqueue_messages(session=b.session, messages_in=messages_in)
    return {
        s.id: b.next("sent", chosen[s.customer_id])
        if s.customer_id in chosen
        else b.next("unreachable")
        for s in b.states
    }


def _coupon(b: Batch, step: CouponStep) -> dict[int, Move]:
    codes: dict[int, str] = {}
    loyalty.issue_coupons(
        session=b.session,
        template_code=step.template_code,
        customer_ids=[s.customer_id for s in b.states],
        actor=ACTOR,
        audience=f"journey {b.journey.id} {b.journey.name}"[:200],
        now=b.now,
        codes_out=codes,
    )
    moves: dict[int, Move] = {}
    for s in b.states:
        code = codes.get(s.customer_id)
        if code is not None:
            s.context = {**s.context, "coupon_code": code}
        moves[s.id] = b.next("coupon" if code else "no_coupon", code)
    return moves


def _points(b: Batch, step: PointsStep) -> dict[int, Move]:
    adjustment = loyalty.AdjustmentIn(
        points=step.points, reason=f"journey {b.journey.name}"[:200], staff=ACTOR.name
    )
    moves: dict[int, Move] = {}
    for s in b.states:
        try:
            loyalty.adjust_points(
                session=b.session,
                customer_id=s.customer_id,
                adjustment_in=adjustment,
                actor=ACTOR,
                now=b.now,
            )
        except loyalty.NotAMember:
            moves[s.id] = b.next("not_a_member")
            continue
        s.context = {**s.context, "points": step.points}
        moves[s.id] = b.next("points", str(step.points))
    return moves


def _tag(b: Batch, step: TagStep) -> dict[int, Move]:
    for s in b.states:
        if step.add:
            customers.add_tag(
                session=b.session, customer_id=s.customer_id, name=step.add, actor=ACTOR
            )
        if step.remove:
            customers.remove_tag(
                session=b.session, customer_id=s.customer_id, name=step.remove, actor=ACTOR
            )
    return {s.id: b.next("tagged") for s in b.states}


def _task(b: Batch, step: TaskStep) -> dict[int, Move]:
    stores = customer_facts.home_store_ids(
        session=b.session, customer_ids=[s.customer_id for s in b.states]
    )
    key = b.keys[b.index]
    for s in b.states:
        b.session.add(
            StaffTask(
                journey_id=b.journey.id,
                state_id=s.id,
                step_key=key,
                customer_id=s.customer_id,
                store_id=stores.get(s.customer_id),
                title=step.title,
                note=step.note,
                status=TaskStatus.OPEN,
                created_at=b.now,
            )
        )
    return {s.id: b.next("task") for s in b.states}


WEBHOOK_EVENT = "journey.webhook"


def webhook_event_id(journey_id: int, step_key: str, state_id: int) -> str:
    """The event's idempotency key: one call per entry and step, however often it runs."""
    return f"{WEBHOOK_EVENT}:{journey_id}.{step_key}.{state_id}"


def _webhook(b: Batch, step: WebhookStep) -> dict[int, Move]:
    """One ``journey.webhook`` event per entry, delivered to the step's subscription alone
    (signed, retried, in order per customer: docs/events.md). The event carries codes
    and ids, never personal data; the receiver looks the customer up by id."""
    key = b.keys[b.index]
    items = [
        events.DomainEvent(
            type=WEBHOOK_EVENT,
            customer_id=s.customer_id,
            properties={
                "journey_id": b.journey.id,
                "journey_code": b.journey.code,
                "journey_version": s.version,
                "step_key": key,
                "entry_id": s.id,
                "entry_key": s.entry_key,
                **(_variables(s) or {}),
            },
            event_id=webhook_event_id(b.journey.id, key, s.id),
            occurred_at=b.now,
        )
        for s in b.states
    ]
    row_ids = events.publish_many(b.session, items, subscription_id=step.subscription_id)
    return {
        s.id: b.next("webhook", str(row_id)) for s, row_id in zip(b.states, row_ids, strict=True)
    }


def _exit(b: Batch, step: ExitStep) -> dict[int, Move]:
    return {s.id: Move(to=None, outcome="exited", status=StateStatus.EXITED) for s in b.states}


HANDLERS: dict[str, Callable[[Batch, Any], dict[int, Move]]] = {
    "wait": _wait,
    "wait_event": _wait_event,
    "branch": _branch,
    "send": _send,
    "coupon": _coupon,
    "points": _points,
    "tag": _tag,
    "task": _task,
    "webhook": _webhook,
    "exit": _exit,
}
