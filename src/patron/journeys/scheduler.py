"""The scheduler's tick: read the orders, churn warnings and the event stream since its
cursors as events, let the daily triggers in once a local day at their hour, then wake the
due entries a batch per transaction until none is due (docs/journeys.md). Each part commits on its own;
run twice, or after a kill, it finds its work done or does what is left."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron import events
from patron.analytics.churn import service as churn
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.settings import get_settings
from patron.events import EventRecord
from patron.journeys import triggers
from patron.journeys.engine import (
    BATCH,
    ENTRY_MAX_AGE,
    enter,
    feed_events,
    run_due_batch,
)
from patron.journeys.models import Journey, JourneyCursor
from patron.journeys.schemas import DAILY_TRIGGERS, RunOutcome, Trigger
from patron.orders import recency

_TRIGGER = TypeAdapter(Trigger)
_ROUNDS = 200  # a batch's entries move one step per round: ample for 50 steps


def _cursor(session: Session, name: str, start: Callable[[], int] = lambda: 0) -> JourneyCursor:
    """A source's cursor; a new one starts at ``start()``: the history before journeys
    were first run is not replayed as events."""
    row = session.get(JourneyCursor, name, with_for_update=True)
    if row is None:
        row = JourneyCursor(name=name, position=start(), updated_at=utcnow())
        session.add(row)
        session.flush()
    return row


def _order_events(session: Session, now: datetime) -> tuple[int, int, int]:
    """New orders as ``order.created`` events (the goal, post-purchase journeys)."""
    cursor = _cursor(
        session,
        "orders",
        lambda: recency.latest_order_id_before(session=session, at=now - ENTRY_MAX_AGE),
    )
    placed = recency.orders_after(session=session, after_id=cursor.position, limit=BATCH)
    if not placed:
        return 0, 0, 0
    records = [
        EventRecord(
            id=o.id,
            event_id=f"order:{o.id}",
            type="order.created",
            customer_id=o.customer_id,
            store_id=o.store_id,
            occurred_at=o.ordered_at,
            properties={"order_id": o.id, "total_fen": o.total_fen},
        )
        for o in placed
    ]
    entered, _, converted = feed_events(session=session, records=records, now=now)
    cursor.position, cursor.updated_at = placed[-1].id, now
    return len(placed), entered, converted


def _alert_events(session: Session, now: datetime) -> tuple[int, int, int]:
    """Churn early warnings (``customer.churn_risk_high``) of the analytics runs."""
    cursor = _cursor(session, "risk_alerts")
    alerts = churn.alerts_after(session=session, after_id=cursor.position, limit=BATCH)
    if not alerts:
        return 0, 0, 0
    records = [
        EventRecord(
            id=i,
            event_id=f"risk_alert:{i}",
            type=event,
            customer_id=c,
            store_id=None,
            occurred_at=at,
            properties={},
        )
        for i, c, event, at in alerts
    ]
    entered, _, converted = feed_events(session=session, records=records, now=now)
    cursor.position, cursor.updated_at = alerts[-1][0], now
    return len(alerts), entered, converted


# Read from their own sources above (orders, the churn run's alerts), so not again from the
# event stream, where they would arrive a second time under other event ids.
_OWN_SOURCES = frozenset({"order.created", "customer.churn_risk_high"})


def _stream_events(session: Session, now: datetime) -> tuple[int, int, int]:
    """Every other event of the stream (docs/events.md): behaviour events such as
    ``cart_add``, and domain events such as ``tier.changed`` and ``points.expiring``. An
    event older than ENTRY_MAX_AGE lets nobody in, so a new cursor may start at the
    beginning."""
    cursor = _cursor(session, "events")
    read = events.read_after(session, cursor.position, limit=BATCH)
    if not read:
        return 0, 0, 0
    records = [r for r in read if r.type not in _OWN_SOURCES]
    entered = converted = 0
    if records:
        entered, _, converted = feed_events(session=session, records=records, now=now)
    cursor.position, cursor.updated_at = read[-1].id, now
    return len(read), entered, converted


def _entrants(session: Session, journey: Journey, now: datetime) -> dict[int, dict[str, Any]]:
    trigger = _TRIGGER.validate_python(journey.trigger)
    zone = get_settings().zone
    today = now.astimezone(zone).date()
    if trigger.kind == "birthday":
        return triggers.birthday_entrants(session, trigger, today)
    if trigger.kind == "last_purchase":
        return triggers.last_purchase_entrants(session, trigger, today, zone)
    if trigger.kind == "replenishment":
        return triggers.replenishment_entrants(session, trigger, today, zone)
    if trigger.kind == "schedule":
        return triggers.schedule_entrants(session, trigger, today, now)
    if trigger.kind == "holiday":
        return triggers.holiday_entrants(session, trigger, today, now)
    if trigger.kind == "member_day":
        return triggers.member_day_entrants(session, trigger, today, now)
    if trigger.kind == "segment":
        first = journey.entered_on is None
        return triggers.segment_entrants(session, journey.id, trigger, now, first_look=first)
    return {}


def _daily(session: Session, journey_id: int, now: datetime) -> tuple[int, int]:
    """Let a daily trigger's customers in, once a local day, from its hour on."""
    journey = session.get(Journey, journey_id, with_for_update=True)
    zone = get_settings().zone
    local = now.astimezone(zone)
    if journey is None or not journey.enabled or journey.entered_on == local.date():
        return 0, 0
    at = _TRIGGER.validate_python(journey.trigger).at  # type: ignore[union-attr]
    if local.time() < at:
        return 0, 0
    entrants = _entrants(session, journey, now)
    journey.entered_on = local.date()
    session.flush()
    return enter(
        session=session,
        journey=journey,
        entrants=entrants,
        entry_keys=local.date().isoformat(),
        now=now,
    )


def _daily_ids(session: Session) -> list[int]:
    rows = session.execute(select(Journey.id, Journey.trigger).where(Journey.enabled.is_(True)))
    return [int(i) for i, trigger in rows if trigger.get("kind") in DAILY_TRIGGERS]


def run_journeys(
    *, db: Database, now: datetime | None = None, clock: Callable[[], datetime] | None = None
) -> RunOutcome:
    """One tick of the scheduler (``patron serve`` runs it every minute; ``patron journeys
    run`` from cron or the job queue does the same)."""
    now = now or (clock or utcnow)()
    outcome = RunOutcome()
    for source in (_order_events, _alert_events, _stream_events):
        while True:
            read, entered, converted = db.write(lambda s, f=source: f(s, now))  # type: ignore[misc]
            if not read:
                break
            outcome.events += read
            outcome.entered += entered
            outcome.converted += converted
    for journey_id in db.read(_daily_ids):
        entered, held = db.write(lambda s, j=journey_id: _daily(s, j, now))  # type: ignore[misc]
        outcome.entered += entered
        outcome.held_out += held
    for _ in range(_ROUNDS):
        ran = db.write(lambda s: run_due_batch(session=s, now=now))
        if not ran:
            break
        outcome.steps_run += ran
    return outcome
