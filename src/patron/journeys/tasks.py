"""The staff task inbox: tasks journeys set (call this customer), each in its customer's
home store's inbox; store-bound staff see their stores' only (docs/journeys.md)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.errors import NotFound
from patron.journeys.models import StaffTask, TaskStatus
from patron.journeys.schemas import TaskRead


def list_tasks(
    *,
    session: Session,
    store_ids: frozenset[int] | None,
    status: str | None = TaskStatus.OPEN,
    limit: int = 200,
) -> list[TaskRead]:
    """Tasks, newest first; ``store_ids`` None: every store's and the chain's."""
    query = select(StaffTask).order_by(StaffTask.created_at.desc(), StaffTask.id.desc())
    if status is not None:
        query = query.where(StaffTask.status == status)
    if store_ids is not None:
        query = query.where(StaffTask.store_id.in_(sorted(store_ids)))
    return [TaskRead.model_validate(t) for t in session.scalars(query.limit(limit))]


def complete_task(
    *,
    session: Session,
    task_id: int,
    actor: Actor,
    store_ids: frozenset[int] | None,
    now: datetime | None = None,
) -> TaskRead:
    """Mark a task done (again: nothing changes). A task outside the actor's stores is not
    found for them."""
    task = session.get(StaffTask, task_id, with_for_update=True)
    if task is None or (store_ids is not None and task.store_id not in store_ids):
        raise NotFound(f"no task {task_id}", message_code="task_not_found", task_id=task_id)
    if task.status != TaskStatus.DONE:
        task.status = TaskStatus.DONE
        task.done_at = now or utcnow()
        task.done_by = actor.name[:120]
        session.flush()
    return TaskRead.model_validate(task)
