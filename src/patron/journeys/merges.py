"""A merge inside a journey: the merged profile's entries move to the survivor, unless the
survivor already holds an entry for the same occurrence (then the merged one ends as
"merged", so nobody gets a step twice); an unmerge gives every row back (docs/journeys.md)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.journeys.models import JourneyState, StaffTask, StateStatus

_ENDED = "journey_state_ended"


def move_customer_records(
    *, session: Session, from_customer_id: int, to_customer_id: int
) -> dict[str, list[int]]:
    theirs = list(
        session.scalars(select(JourneyState).where(JourneyState.customer_id == from_customer_id))
    )
    held = {
        (journey_id, entry_key)
        for journey_id, entry_key in session.execute(
            select(JourneyState.journey_id, JourneyState.entry_key).where(
                JourneyState.customer_id == to_customer_id
            )
        )
    }
    moved: list[int] = []
    ended: list[int] = []
    for state in theirs:
        if (state.journey_id, state.entry_key) in held:
            if state.status in (StateStatus.ACTIVE, StateStatus.HOLDOUT):
                state.context = {**state.context, "status_before_merge": state.status}
                state.status = StateStatus.MERGED
                ended.append(state.id)
            continue
        state.customer_id = to_customer_id
        moved.append(state.id)
    tasks = list(
        session.scalars(select(StaffTask).where(StaffTask.customer_id == from_customer_id))
    )
    for task in tasks:
        task.customer_id = to_customer_id
    session.flush()
    return {
        "journey_state": moved,
        _ENDED: ended,
        "staff_task": [t.id for t in tasks],
    }


def restore_customer_records(
    *,
    session: Session,
    moved: dict[str, list[int]],
    from_customer_id: int,
    to_customer_id: int,
) -> None:
    # An unmerge passes the survivor as ``from_customer_id`` and the profile given back as
    # ``to_customer_id`` (customers/merging.py): what the merge moved goes from one to the other.
    for state_id in moved.get("journey_state", []):
        state = session.get(JourneyState, state_id)
        if state is not None and state.customer_id == from_customer_id:
            state.customer_id = to_customer_id
    for task_id in moved.get("staff_task", []):
        task = session.get(StaffTask, task_id)
        if task is not None and task.customer_id == from_customer_id:
            task.customer_id = to_customer_id
    for row_id in moved.get(_ENDED, []):
        state = session.get(JourneyState, row_id)
        if state is not None and state.status == StateStatus.MERGED:
            before = dict(state.context)
            state.status = before.pop("status_before_merge", StateStatus.ACTIVE)
            state.context = before
    session.flush()
