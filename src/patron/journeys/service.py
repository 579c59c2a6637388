"""Journeys: create one, edit it (a new version: customers already inside walk the steps
they entered on to their end), switch it on and off, read it and its figures per step with
the holdout's uplift (docs/journeys.md). Services take ``session`` keyword-only and never
commit."""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patron import audiences, events
from patron.audit.service import record_audit
from patron.campaigns import templates as campaign_templates
from patron.campaigns.measure import measure_uplift
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.errors import Conflict, InvalidInput, NotFound
from patron.customers import service as customers
from patron.journeys.engine import parse_steps
from patron.journeys.models import (
    Journey,
    JourneyState,
    JourneyStepRun,
    JourneyVersion,
    StateStatus,
)
from patron.journeys.schemas import (
    EntryRead,
    JourneyCounts,
    JourneyIn,
    JourneyRead,
    JourneyStats,
    StepFigures,
)


def _row(session: Session, journey_id: int, *, lock: bool = False) -> Journey:
    query = select(Journey).where(Journey.id == journey_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound(
            f"no journey {journey_id}", message_code="journey_not_found", journey_id=journey_id
        )
    return row


def _steps_of(session: Session, journey_id: int, version: int) -> list[dict[str, Any]]:
    return list(
        session.scalar(
            select(JourneyVersion.steps).where(
                JourneyVersion.journey_id == journey_id, JourneyVersion.version == version
            )
        )
        or []
    )


def _read(session: Session, row: Journey) -> JourneyRead:
    return JourneyRead(
        id=row.id,
        code=row.code,
        name=row.name,
        enabled=row.enabled,
        version=row.version,
        trigger=dict(row.trigger),
        steps=_steps_of(session, row.id, row.version),
        reentry=row.reentry,
        reentry_days=row.reentry_days,
        goal=row.goal,
        holdout_bp=row.holdout_bp,
        conversion_days=row.conversion_days,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _check(session: Session, journey_in: JourneyIn) -> None:
    """What a journey names exists: its templates (on their channel), its audiences."""
    audience_ids = [getattr(journey_in.trigger, "audience_id", None)]
    for i, step in enumerate(journey_in.steps):
        audience_ids.append(getattr(step, "audience_id", None))
        if step.kind == "webhook":
            try:
                events.get_subscription(session=session, subscription_id=step.subscription_id)
            except NotFound:
                raise InvalidInput(
                    f"steps.{i}.subscription_id",
                    f"no webhook subscription {step.subscription_id}",
                    message_code="journey_webhook_unknown",
                    subscription_id=step.subscription_id,
                ) from None
        for channel, template_id in getattr(step, "templates", {}).items():
            template = campaign_templates.get_template_or_raise(
                session=session, template_id=template_id
            )
            if template.channel != channel:
                raise InvalidInput(
                    f"steps.{i}.templates.{channel}",
                    f"template {template.name!r} is for {template.channel}",
                    message_code="template_wrong_channel",
                    channel=template.channel,
                )
    for audience_id in audience_ids:
        if audience_id is not None:
            audiences.get_audience_or_raise(session=session, audience_id=audience_id)


def _dump_steps(journey_in: JourneyIn) -> list[dict[str, Any]]:
    return [s.model_dump(mode="json", exclude_none=True) for s in journey_in.steps]


def _audit(session: Session, actor: Actor, action: str, row: Journey, **details: Any) -> None:
    record_audit(
        session=session,
        actor=actor,
        action=action,
        target_kind="journey",
        target_id=row.id,
        details={"name": row.name, "version": row.version, **details},
    )


def create_journey(
    *,
    session: Session,
    journey_in: JourneyIn,
    actor: Actor,
    code: str | None = None,
    enabled: bool = False,
) -> JourneyRead:
    _check(session, journey_in)
    row = Journey(
        code=code,
        name=journey_in.name,
        enabled=enabled,
        version=1,
        trigger=journey_in.trigger.model_dump(mode="json"),
        reentry=journey_in.reentry,
        reentry_days=journey_in.reentry_days,
        goal=journey_in.goal,
        holdout_bp=round(journey_in.holdout_percent * 100),
        seed=secrets.randbits(62),
        conversion_days=journey_in.conversion_days,
        created_by=actor.name[:120],
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(
            f"a journey named {journey_in.name!r} exists",
            message_code="journey_name_taken",
            field="name",
        ) from None
    session.add(JourneyVersion(journey_id=row.id, version=1, steps=_dump_steps(journey_in)))
    session.flush()
    _audit(session, actor, "journey.create", row)
    return _read(session, row)


def update_journey(
    *, session: Session, journey_id: int, journey_in: JourneyIn, actor: Actor
) -> JourneyRead:
    """A new version for whoever enters from now on; customers inside stay on theirs. The
    holdout's seed is kept, so nobody changes group."""
    _check(session, journey_in)
    row = _row(session, journey_id, lock=True)
    row.version += 1
    row.name = journey_in.name
    row.trigger = journey_in.trigger.model_dump(mode="json")
    row.reentry = journey_in.reentry
    row.reentry_days = journey_in.reentry_days
    row.goal = journey_in.goal
    row.holdout_bp = round(journey_in.holdout_percent * 100)
    row.conversion_days = journey_in.conversion_days
    row.updated_at = utcnow()
    try:
        with session.begin_nested():
            session.add(
                JourneyVersion(
                    journey_id=row.id, version=row.version, steps=_dump_steps(journey_in)
                )
            )
            session.flush()
    except IntegrityError:
        raise Conflict(
            f"a journey named {journey_in.name!r} exists",
            message_code="journey_name_taken",
            field="name",
        ) from None
    _audit(session, actor, "journey.update", row)
    return _read(session, row)


def set_enabled(*, session: Session, journey_id: int, enabled: bool, actor: Actor) -> JourneyRead:
    """Switched off, a journey lets nobody new in; those inside walk on to the end."""
    row = _row(session, journey_id, lock=True)
    if row.enabled != enabled:
        row.enabled = enabled
        row.updated_at = utcnow()
        session.flush()
        _audit(session, actor, "journey.enable" if enabled else "journey.disable", row)
    return _read(session, row)


def get_journey_or_raise(*, session: Session, journey_id: int) -> JourneyRead:
    return _read(session, _row(session, journey_id))


def get_journey_by_code(*, session: Session, code: str) -> JourneyRead | None:
    row = session.scalar(select(Journey).where(Journey.code == code))
    return _read(session, row) if row is not None else None


def list_journeys(*, session: Session) -> list[JourneyRead]:
    rows = session.scalars(select(Journey).order_by(Journey.id))
    return [_read(session, r) for r in rows]


# ------------------------------------------------------------------------------ figures


def _step_figures(session: Session, row: Journey) -> list[StepFigures]:
    """Per step of the current version (by key, so earlier versions' runs count too)."""
    steps = parse_steps(_steps_of(session, row.id, row.version))
    outcomes: dict[str, dict[str, int]] = {}
    for key, outcome, n in session.execute(
        select(JourneyStepRun.step_key, JourneyStepRun.outcome, func.count())
        .where(JourneyStepRun.journey_id == row.id)
        .group_by(JourneyStepRun.step_key, JourneyStepRun.outcome)
    ):
        outcomes.setdefault(key, {})[outcome] = int(n)
    waiting: dict[str, int] = {}
    for version, index, n in session.execute(
        select(JourneyState.version, JourneyState.step, func.count())
        .where(JourneyState.journey_id == row.id, JourneyState.status == StateStatus.ACTIVE)
        .group_by(JourneyState.version, JourneyState.step)
    ):
        theirs = parse_steps(_steps_of(session, row.id, int(version)))
        if int(index) < len(theirs):
            key = str(theirs[int(index)].key)
            waiting[key] = waiting.get(key, 0) + int(n)
    figures = [
        StepFigures(
            key=str(s.key),
            kind=s.kind,
            done=sum(outcomes.get(str(s.key), {}).values()),
            waiting=waiting.get(str(s.key), 0),
            outcomes=outcomes.get(str(s.key), {}),
        )
        for s in steps
    ]
    for figure in figures:
        if figure.kind == "webhook":
            figure.outcomes.update(_webhook_figures(session, row.id, figure.key))
    return figures


def _webhook_figures(session: Session, journey_id: int, key: str) -> dict[str, int]:
    """A webhook step's calls by where their deliveries are (``webhook:delivered``,
    ``webhook:pending`` …); a step run's detail is its event's row id."""
    row_ids = [
        int(detail)
        for detail in session.scalars(
            select(JourneyStepRun.detail).where(
                JourneyStepRun.journey_id == journey_id,
                JourneyStepRun.step_key == key,
                JourneyStepRun.outcome == "webhook",
            )
        )
        if detail and detail.isdigit()
    ]
    counts = events.delivery_counts(session=session, event_row_ids=row_ids)
    return {f"webhook:{status}": n for status, n in sorted(counts.items())}


def journey_stats(*, session: Session, journey_id: int) -> JourneyStats:
    """Entries by status, each step's runs and waiting entries, and the treated entries'
    conversion against the holdout's (campaigns' measure: Newcombe's interval)."""
    row = _row(session, journey_id)
    counts = {
        status: int(n)
        for status, n in session.execute(
            select(JourneyState.status, func.count())
            .where(JourneyState.journey_id == journey_id)
            .group_by(JourneyState.status)
        )
    }
    fen = session.execute(
        select(JourneyState.status == StateStatus.HOLDOUT, JourneyState.converted_fen).where(
            JourneyState.journey_id == journey_id
        )
    ).all()
    treated = np.array([f for hold, f in fen if not hold], dtype=np.int64)
    holdout = np.array([f for hold, f in fen if hold], dtype=np.int64)
    converted = {True: 0, False: 0}
    for status, n in session.execute(
        select(JourneyState.status, func.count())
        .where(JourneyState.journey_id == journey_id, JourneyState.converted_at.is_not(None))
        .group_by(JourneyState.status)
    ):
        converted[status == StateStatus.HOLDOUT] += int(n)
    uplift = measure_uplift(treated_sales_fen=treated, holdout_sales_fen=holdout, cost_fen=0)
    conversion = uplift.conversion
    return JourneyStats(
        journey_id=journey_id,
        entered=sum(counts.values()),
        holdout=counts.get(StateStatus.HOLDOUT, 0),
        active=counts.get(StateStatus.ACTIVE, 0),
        done=counts.get(StateStatus.DONE, 0),
        exited=counts.get(StateStatus.EXITED, 0),
        converted=converted.get(False, 0),
        holdout_converted=converted.get(True, 0),
        steps=_step_figures(session, row),
        conversion_uplift=(
            (conversion.estimate, conversion.low, conversion.high) if conversion else None
        ),
        verdict=str(uplift.verdict),
    )


def journey_counts(*, session: Session, journey_ids: list[int]) -> dict[int, JourneyCounts]:
    """The journeys list's figures for several journeys in one query: what
    :func:`journey_stats` gives as ``entered``, ``active`` and ``converted``, without each
    journey's steps and uplift."""
    counts = {j: JourneyCounts(journey_id=j, entered=0, active=0, converted=0) for j in journey_ids}
    if not counts:
        return counts
    for journey_id, status, entered, converted in session.execute(
        select(
            JourneyState.journey_id,
            JourneyState.status,
            func.count(),
            func.count(JourneyState.converted_at),
        )
        .where(JourneyState.journey_id.in_(journey_ids))
        .group_by(JourneyState.journey_id, JourneyState.status)
    ):
        figures = counts[journey_id]
        figures.entered += int(entered)
        if status == StateStatus.ACTIVE:
            figures.active += int(entered)
        if status != StateStatus.HOLDOUT:
            figures.converted += int(converted)
    return counts


def list_entries(
    *,
    session: Session,
    journey_id: int,
    customer_id: int | None = None,
    store_ids: frozenset[int] | None = None,
    limit: int = 100,
) -> list[EntryRead]:
    """The latest entries (a customer's, when given; only customers of ``store_ids``, when
    given: a store-bound reader's), newest first."""
    query = select(JourneyState).where(JourneyState.journey_id == journey_id)
    if customer_id is not None:
        query = query.where(JourneyState.customer_id == customer_id)
    if store_ids is not None:
        query = query.where(
            JourneyState.customer_id.in_(customers.customer_ids_in_stores(store_ids))
        )
    states = list(session.scalars(query.order_by(JourneyState.id.desc()).limit(limit)))
    runs: dict[int, dict[str, str]] = {}
    if states:
        for state_id, key, outcome, detail in session.execute(
            select(
                JourneyStepRun.state_id,
                JourneyStepRun.step_key,
                JourneyStepRun.outcome,
                JourneyStepRun.detail,
            ).where(JourneyStepRun.state_id.in_([s.id for s in states]))
        ):
            runs.setdefault(state_id, {})[key] = f"{outcome}:{detail}" if detail else outcome
    versions: dict[int, list[Any]] = {}
    found: list[EntryRead] = []
    for s in states:
        if s.version not in versions:
            versions[s.version] = parse_steps(_steps_of(session, journey_id, s.version))
        steps = versions[s.version]
        walking = s.status == StateStatus.ACTIVE and s.step < len(steps)
        found.append(
            EntryRead(
                id=s.id,
                customer_id=s.customer_id,
                entry_key=s.entry_key,
                status=s.status,
                step_key=str(steps[s.step].key) if walking else None,
                next_run_at=s.next_run_at,
                waiting_for=s.waiting_for,
                entered_at=s.entered_at,
                converted_at=s.converted_at,
                outcomes=runs.get(s.id, {}),
            )
        )
    return found
