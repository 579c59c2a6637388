"""The journeys console: the list with each journey's switch, a journey's page (its steps
as a vertical list with each step's figures, the holdout's uplift, the latest entries, and
an editor of its trigger and steps that saves a new version), and the staff task inbox of
the reader's stores (docs/journeys.md)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from patron.core.actor import Actor
from patron.core.db import Database
from patron.core.errors import PatronError
from patron.journeys import service, tasks
from patron.journeys.scheduler import run_journeys
from patron.journeys.schemas import JourneyIn
from patron.staff.roles import Permission as P
from patron.web.deps import Db, PathId
from patron.web.forms import field_errors
from patron.web.i18n import N_, gettext
from patron.web.messages import message_for
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

TRIGGER_TITLES = {
    "event": N_("An event"),
    "segment": N_("Entering a segment"),
    "birthday": N_("Birthday"),
    "last_purchase": N_("Days after the last purchase"),
    "replenishment": N_("A consumable runs out"),
    "schedule": N_("A schedule"),
    "holiday": N_("A festival"),
    "member_day": N_("Member day"),
}
STEP_TITLES = {
    "wait": N_("Wait"),
    "wait_event": N_("Wait for an event"),
    "branch": N_("Branch on an audience"),
    "send": N_("Send a message"),
    "coupon": N_("Give a coupon"),
    "points": N_("Give points"),
    "tag": N_("Tag"),
    "task": N_("Task for staff"),
    "webhook": N_("Call a webhook"),
    "exit": N_("Exit"),
}
STATUS_TITLES = {
    "active": N_("In the journey"),
    "holdout": N_("Holdout"),
    "done": N_("Done"),
    "converted": N_("Converted"),
    "exited": N_("Exited"),
    "merged": N_("Merged"),
}
VERDICT_TITLES = {
    "positive": N_("The journey raised conversion"),
    "negative": N_("The journey lowered conversion"),
    "no_measurable_effect": N_("No measurable effect"),
    "too_small": N_("Not measurable yet: a group is empty"),
}
REENTRY_TITLES = {
    "once": N_("Once only"),
    "after_exit": N_("Again after leaving"),
}


def _list_page(request: Request, actor: Actor, db: Database, *, error: str = "") -> Response:
    def read(s: Session) -> dict[str, Any]:
        journeys = service.list_journeys(session=s)
        return {
            "journeys": journeys,
            "stats": service.journey_counts(session=s, journey_ids=[j.id for j in journeys]),
        }

    context = {
        **db.read(read),
        "actor": actor,
        "may_write": actor.can(P.CAMPAIGNS_WRITE),
        "triggers": TRIGGER_TITLES,
        "error": error,
    }
    return TEMPLATES.TemplateResponse(request, "journeys/list.html", context)


@router.get("/journeys", response_class=HTMLResponse)
def journeys_page(request: Request, actor: CurrentActor, db: Db) -> Response:
    return _list_page(request, actor, db)


def _journey_page(
    request: Request,
    actor: Actor,
    db: Database,
    journey_id: int,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    def read(s: Session) -> dict[str, Any]:
        journey = service.get_journey_or_raise(session=s, journey_id=journey_id)
        return {
            "journey": journey,
            "stats": service.journey_stats(session=s, journey_id=journey_id),
            "entries": service.list_entries(
                session=s, journey_id=journey_id, store_ids=actor.store_ids, limit=50
            ),
        }

    context = db.read(read)
    journey = context["journey"]
    context |= {
        "actor": actor,
        "may_write": actor.can(P.CAMPAIGNS_WRITE),
        "triggers": TRIGGER_TITLES,
        "steps_titles": STEP_TITLES,
        "statuses": STATUS_TITLES,
        "verdicts": VERDICT_TITLES,
        "reentries": REENTRY_TITLES,
        "errors": errors or {},
        "form": form
        or {
            "trigger": json.dumps(journey.trigger, ensure_ascii=False, indent=1),
            "steps": json.dumps(journey.steps, ensure_ascii=False, indent=1),
        },
    }
    return TEMPLATES.TemplateResponse(request, "journeys/journey.html", context, status_code=status)


@router.post("/journeys/run", response_class=HTMLResponse)
def run_now(actor: CurrentActor, db: Db, journey_id: Annotated[str, Form()] = "") -> Response:
    """Run the scheduler's tick now (it also runs every minute by itself); back to the
    journey the button was on. A plain ``def``: the tick runs in the server's thread pool,
    not on its event loop."""
    back = journey_id
    run_journeys(db=db)
    target = f"/journeys/{int(back)}" if back.isdigit() else "/journeys"
    return RedirectResponse(target, status_code=303)


@router.get("/journeys/{journey_id}", response_class=HTMLResponse)
def journey_page(request: Request, journey_id: PathId, actor: CurrentActor, db: Db) -> Response:
    return _journey_page(request, actor, db, journey_id)


def _parse(form: dict[str, str], journey: Any) -> JourneyIn:
    """The editor's boxes: the trigger and the steps as JSON, the rest as they were."""
    parsed: dict[str, Any] = {}
    for name in ("trigger", "steps"):
        try:
            parsed[name] = json.loads(form.get(name, ""))
        except json.JSONDecodeError as exc:
            raise _JsonError(name, exc.msg, exc.lineno) from None
    return JourneyIn.model_validate(
        {
            "name": journey.name,
            "reentry": journey.reentry,
            "reentry_days": journey.reentry_days,
            "goal": journey.goal,
            "holdout_percent": journey.holdout_bp / 100,
            "conversion_days": journey.conversion_days,
            **parsed,
        }
    )


class _JsonError(Exception):
    def __init__(self, field: str, reason: str, line: int) -> None:
        super().__init__(reason)
        self.field, self.reason, self.line = field, reason, line


@router.post("/journeys/{journey_id}", response_class=HTMLResponse)
async def edit_journey(
    request: Request, journey_id: PathId, actor: CurrentActor, db: Db
) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    journey = db.read(lambda s: service.get_journey_or_raise(session=s, journey_id=journey_id))
    try:
        journey_in = _parse(form, journey)
        db.write(
            lambda s: service.update_journey(
                session=s, journey_id=journey_id, journey_in=journey_in, actor=actor
            )
        )
    except _JsonError as exc:
        message = gettext("Not valid JSON (line %(line)s): %(reason)s") % {
            "line": exc.line,
            "reason": exc.reason,
        }
        return _journey_page(
            request, actor, db, journey_id, errors={exc.field: message}, form=form, status=422
        )
    except ValidationError as exc:
        errors = field_errors(exc)
        return _journey_page(request, actor, db, journey_id, errors=errors, form=form, status=422)
    except PatronError as exc:
        return _journey_page(
            request,
            actor,
            db,
            journey_id,
            errors={"steps": message_for(exc)},
            form=form,
            status=422,
        )
    return RedirectResponse(f"/journeys/{journey_id}", status_code=303)


def _switch(actor: Actor, db: Database, journey_id: int, enabled: bool) -> Response:
    db.write(
        lambda s: service.set_enabled(
            session=s, journey_id=journey_id, enabled=enabled, actor=actor
        )
    )
    return RedirectResponse(f"/journeys/{journey_id}", status_code=303)


@router.post("/journeys/{journey_id}/enable", response_class=HTMLResponse)
def enable(journey_id: PathId, actor: CurrentActor, db: Db) -> Response:
    return _switch(actor, db, journey_id, True)


@router.post("/journeys/{journey_id}/disable", response_class=HTMLResponse)
def disable(journey_id: PathId, actor: CurrentActor, db: Db) -> Response:
    return _switch(actor, db, journey_id, False)


# ------------------------------------------------------------------------------ tasks


def _tasks_page(request: Request, actor: Actor, db: Database, *, error: str = "") -> Response:
    context = {
        "tasks": db.read(lambda s: tasks.list_tasks(session=s, store_ids=actor.store_ids)),
        "actor": actor,
        "error": error,
    }
    return TEMPLATES.TemplateResponse(request, "journeys/tasks.html", context)


@router.get("/tasks", response_class=HTMLResponse)
def tasks_page(request: Request, actor: CurrentActor, db: Db) -> Response:
    return _tasks_page(request, actor, db)


@router.post("/tasks/{task_id}/done", response_class=HTMLResponse)
def task_done(request: Request, task_id: PathId, actor: CurrentActor, db: Db) -> Response:
    try:
        db.write(
            lambda s: tasks.complete_task(
                session=s, task_id=task_id, actor=actor, store_ids=actor.store_ids
            )
        )
    except PatronError as exc:
        return _tasks_page(request, actor, db, error=message_for(exc))
    return RedirectResponse("/tasks", status_code=303)
