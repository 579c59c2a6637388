"""The engine: customers enter a journey (a trigger's occurrence, once), the scheduler wakes
the entries whose step is due in batches, each batch's steps run set-wise and the entries
move on in the same transaction, and events move waiting entries on or end them at the goal
(docs/journeys.md).

Due entries are claimed on the primary: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (two
schedulers never take the same entry), the one writer's lock on SQLite. A scheduler killed
mid-batch leaves the batch as it was; the next run does it, and the outbox's key (source,
customer, channel) and the step runs' key (entry, step) keep it from happening twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from pydantic import TypeAdapter
from sqlalchemy import Table, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from patron.campaigns.holdout import held_out
from patron.core.errors import PatronError
from patron.core.settings import get_settings
from patron.customers import service as customers
from patron.events import EventRecord
from patron.journeys import steps as journey_steps
from patron.journeys.models import (
    Journey,
    JourneyState,
    JourneyStepRun,
    JourneyVersion,
    StateStatus,
)
from patron.journeys.schemas import Step

log = logging.getLogger(__name__)
_STATE = cast(Table, JourneyState.__table__)
_STEPS = TypeAdapter(list[Step])
BATCH = 5_000
# An event older than this lets nobody into a journey: a thank-you or a cart reminder days
# late is worse than none (the outbox has the same rule for messages).
ENTRY_MAX_AGE = timedelta(days=1)


def parse_steps(raw: Sequence[dict[str, Any]]) -> list[Any]:
    return _STEPS.validate_python(list(raw))


# ------------------------------------------------------------------------------ entering


def _existing(
    session: Session, journey_id: int, customer_ids: Sequence[int]
) -> dict[int, list[tuple[str, str, datetime]]]:
    """(entry key, status, entered at) of each of these customers' entries."""
    found: dict[int, list[tuple[str, str, datetime]]] = {}
    ids = sorted(set(customer_ids))
    for start in range(0, len(ids), 1_000):
        rows = session.execute(
            select(
                JourneyState.customer_id,
                JourneyState.entry_key,
                JourneyState.status,
                JourneyState.entered_at,
            ).where(
                JourneyState.journey_id == journey_id,
                JourneyState.customer_id.in_(ids[start : start + 1_000]),
            )
        )
        for cid, key, status, at in rows:
            found.setdefault(int(cid), []).append((key, status, at))
    return found


def _may_enter(
    journey: Journey, entries: list[tuple[str, str, datetime]], entry_key: str, now: datetime
) -> bool:
    """The journey's re-entry rule: "once" lets nobody in twice; "after_exit" lets a
    customer in again once their last entry has left and ``reentry_days`` have passed."""
    if not entries:
        return True
    if journey.reentry == "once" or any(key == entry_key for key, _, _ in entries):
        return False
    if any(status == StateStatus.ACTIVE for _, status, _ in entries):
        return False
    last = max(at for _, _, at in entries)
    return (now - last).days >= journey.reentry_days


def _insert_states(session: Session, rows: list[dict[str, Any]]) -> None:
    keys = ["journey_id", "customer_id", "entry_key"]
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(_STATE).on_conflict_do_nothing(index_elements=keys)
    for start in range(0, len(rows), BATCH):
        session.execute(statement, rows[start : start + BATCH])


def enter(
    *,
    session: Session,
    journey: Journey,
    entrants: dict[int, dict[str, Any]],
    entry_keys: dict[int, str] | str,
    now: datetime,
) -> tuple[int, int]:
    """Let ``entrants`` (customer → what the entry carries) into ``journey`` under the
    re-entry rule: (entered, of whom held out). An occurrence seen twice enters once."""
    live = customers.live_customer_ids(session=session, customer_ids=list(entrants))
    existing = _existing(session, journey.id, sorted(live))

    def key_of(cid: int) -> str:
        return entry_keys if isinstance(entry_keys, str) else entry_keys[cid]

    chosen = [
        cid for cid in sorted(live) if _may_enter(journey, existing.get(cid, []), key_of(cid), now)
    ]
    if not chosen:
        return 0, 0
    out = held_out(chosen, seed=journey.seed, holdout_bp=journey.holdout_bp).tolist()
    rows = [
        {
            "journey_id": journey.id,
            "version": journey.version,
            "customer_id": cid,
            "entry_key": key_of(cid)[:80],
            "status": StateStatus.HOLDOUT if hold else StateStatus.ACTIVE,
            "step": 0,
            "next_run_at": None if hold else now,
            "waiting_for": None,
            "context": entrants[cid],
            "entered_at": now,
            "finished_at": now if hold else None,
            "converted_at": None,
            "converted_fen": 0,
        }
        for cid, hold in zip(chosen, out, strict=True)
    ]
    _insert_states(session, rows)
    return len(rows), int(sum(out))


# ------------------------------------------------------------------------------ stepping


class _Versions:
    """The steps of each (journey, version) a batch needs, read once."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[tuple[int, int], list[Any]] = {}

    def steps(self, journey_id: int, version: int) -> list[Any]:
        key = (journey_id, version)
        if key not in self.cache:
            raw = self.session.scalar(
                select(JourneyVersion.steps).where(
                    JourneyVersion.journey_id == journey_id, JourneyVersion.version == version
                )
            )
            self.cache[key] = parse_steps(raw or [])
        return self.cache[key]


def _apply(state: JourneyState, move: journey_steps.Move, steps: list[Any], now: datetime) -> None:
    state.waiting_for = move.waiting_for
    if move.to is None or move.to >= len(steps):
        state.status = move.status if move.to is None else StateStatus.DONE
        state.next_run_at = None
        state.finished_at = now
        return
    state.step = move.to
    state.next_run_at = move.at


def _run_step(batch: journey_steps.Batch, step: Any) -> dict[int, journey_steps.Move]:
    """A step that fails on a rule (a coupon template deleted, say) ends its entries as
    exited with the reason, rather than failing again on every run."""
    try:
        with batch.session.begin_nested():
            return journey_steps.HANDLERS[step.kind](batch, step)
    except PatronError as exc:
        reason = exc.message_code or exc.code
        log.warning("journey %s step %s failed: %s", batch.journey.id, step.key, exc)
        return {
            s.id: journey_steps.Move(
                to=None, outcome="failed", detail=reason, status=StateStatus.EXITED
            )
            for s in batch.states
        }


def run_due_batch(*, session: Session, now: datetime, limit: int = BATCH) -> int:
    """Run the steps of up to ``limit`` due entries; returns how many ran (0: none due)."""
    query = (
        select(JourneyState)
        .where(JourneyState.status == StateStatus.ACTIVE, JourneyState.next_run_at <= now)
        .order_by(JourneyState.next_run_at, JourneyState.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    due = list(session.scalars(query))
    if not due:
        return 0
    versions = _Versions(session)
    journeys = {
        j.id: j
        for j in session.scalars(select(Journey).where(Journey.id.in_({s.journey_id for s in due})))
    }
    groups: dict[tuple[int, int, int], list[JourneyState]] = {}
    for s in due:
        groups.setdefault((s.journey_id, s.version, s.step), []).append(s)
    zone = get_settings().zone
    runs: list[dict[str, Any]] = []
    for (journey_id, version, index), states in sorted(groups.items()):
        steps = versions.steps(journey_id, version)
        if index >= len(steps):  # (a version never shrinks; kept for safety)
            for s in states:
                _apply(s, journey_steps.Move(to=None), steps, now)
            continue
        step = steps[index]
        keys = [str(x.key) for x in steps]
        batch = journey_steps.Batch(session, journeys[journey_id], keys, index, states, now, zone)
        moves = _run_step(batch, step)
        for s in states:
            move = moves[s.id]
            if move.outcome is not None:
                runs.append(
                    {
                        "journey_id": journey_id,
                        "state_id": s.id,
                        "step_key": keys[index],
                        "outcome": move.outcome,
                        "detail": move.detail[:200] if move.detail else None,
                        "at": now,
                    }
                )
            _apply(s, move, steps, now)
    if runs:
        session.execute(insert(JourneyStepRun), runs)
    session.flush()
    return len(due)


# ------------------------------------------------------------------------------ events


def _event_entries(session: Session, records: Sequence[EventRecord], now: datetime) -> int:
    types = {r.type for r in records}
    journeys = [
        j
        for j in session.scalars(select(Journey).where(Journey.enabled.is_(True)))
        if j.trigger.get("kind") == "event" and j.trigger.get("event") in types
    ]
    entered = 0
    for journey in journeys:
        mine = [
            r
            for r in records
            if r.type == journey.trigger["event"]
            and r.customer_id is not None
            and now - ENTRY_MAX_AGE <= r.occurred_at <= now
            and all(
                str(r.properties.get(k)) == v for k, v in journey.trigger.get("where", {}).items()
            )
        ]
        entrants: dict[int, dict[str, Any]] = {}
        keys: dict[int, str] = {}
        for r in mine:  # one entry per customer per batch: the first event
            if r.customer_id not in entrants:
                entrants[r.customer_id] = {"event": r.type, **_carried(r.properties)}  # type: ignore[index]
                keys[r.customer_id] = f"e:{r.event_id}"  # type: ignore[index]
        entered += enter(
            session=session, journey=journey, entrants=entrants, entry_keys=keys, now=now
        )[0]
    return entered


def _carried(properties: dict[str, Any]) -> dict[str, Any]:
    """What of an event's properties later steps may name (small plain values)."""
    return {
        k: v
        for k, v in properties.items()
        if isinstance(v, str | int) and not isinstance(v, bool) and len(str(v)) <= 64
    }


def _wake_waiting(session: Session, records: Sequence[EventRecord], now: datetime) -> int:
    """Entries waiting for one of these events of theirs go on to the step after the wait."""
    pairs = {(r.customer_id, r.type) for r in records if r.customer_id is not None}
    if not pairs:
        return 0
    customer_ids = sorted({c for c, _ in pairs})
    waiting = list(
        session.scalars(
            select(JourneyState)
            .where(
                JourneyState.status == StateStatus.ACTIVE,
                JourneyState.waiting_for.is_not(None),
                JourneyState.customer_id.in_(customer_ids),
            )
            .with_for_update()
        )
    )
    versions = _Versions(session)
    woken = 0
    for s in waiting:
        if (s.customer_id, s.waiting_for) not in pairs:
            continue
        steps = versions.steps(s.journey_id, s.version)
        session.add(
            JourneyStepRun(
                journey_id=s.journey_id,
                state_id=s.id,
                step_key=str(steps[s.step].key),
                outcome="event",
                detail=s.waiting_for,
                at=now,
            )
        )
        _apply(s, journey_steps.Move(to=s.step + 1, at=now), steps, now)
        woken += 1
    session.flush()
    return woken


def _convert(session: Session, records: Sequence[EventRecord], now: datetime) -> int:
    """A purchase inside an entry's conversion window: converted (an entry still walking
    leaves the journey at its goal; a holdout entry and one done are counted)."""
    orders = [r for r in records if r.type == "order.created" and r.customer_id is not None]
    if not orders:
        return 0
    by_customer: dict[int, list[EventRecord]] = {}
    for r in orders:
        by_customer.setdefault(int(r.customer_id), []).append(r)  # type: ignore[arg-type]
    rows = session.execute(
        select(JourneyState, Journey.conversion_days)
        .join(Journey, Journey.id == JourneyState.journey_id)
        .where(
            Journey.goal == "purchase",
            JourneyState.converted_at.is_(None),
            JourneyState.customer_id.in_(sorted(by_customer)),
            or_(
                JourneyState.status.in_([StateStatus.ACTIVE, StateStatus.HOLDOUT]),
                JourneyState.status == StateStatus.DONE,
            ),
        )
        .with_for_update(of=JourneyState)
    ).all()
    converted = 0
    for state, days in rows:
        window_end = state.entered_at.timestamp() + days * 86_400
        hits = [
            r
            for r in by_customer[state.customer_id]
            if state.entered_at < r.occurred_at and r.occurred_at.timestamp() <= window_end
        ]
        if not hits:
            continue
        first = min(hits, key=lambda r: r.occurred_at)
        state.converted_at = first.occurred_at
        state.converted_fen = int(first.properties.get("total_fen", 0) or 0)
        if state.status == StateStatus.ACTIVE:
            state.status = StateStatus.CONVERTED
            state.next_run_at = None
            state.waiting_for = None
            state.finished_at = now
        converted += 1
    session.flush()
    return converted


def feed_events(
    *, session: Session, records: Sequence[EventRecord], now: datetime
) -> tuple[int, int, int]:
    """Let the customers' events act on journeys: entries for event-triggered journeys
    (keyed by the event's id, so an event fed twice enters once), waits for an event
    ended, and purchases that reach a journey's goal. Returns (entered, woken, converted)."""
    seen: set[str] = set()
    unique = []
    for r in records:
        if r.event_id not in seen:
            seen.add(r.event_id)
            unique.append(r)
    converted = _convert(session, unique, now)
    woken = _wake_waiting(session, unique, now)
    entered = _event_entries(session, unique, now)
    return entered, woken, converted
