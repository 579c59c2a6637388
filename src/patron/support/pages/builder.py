"""The survey builder: a survey's code, name and questions typed into a form, saved through
the same service as ``POST /api/v1/surveys`` (audited there). Question rows are added with a
button and removed with another or by leaving them empty (docs/support.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from patron.core.actor import Actor
from patron.core.errors import Conflict, InvalidInput
from patron.support.surveys import service as surveys
from patron.support.surveys.models import QuestionKind, SurveyTrigger
from patron.support.surveys.schemas import SurveyCreate
from patron.web.deps import Db
from patron.web.forms import FormError, error_field, field_errors, parse_int, rows_errors
from patron.web.i18n import N_
from patron.web.messages import message_for
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

QUESTION_ROWS = 3  # empty question rows a new survey's form offers
MAX_ROWS = 30

KIND_TITLES: dict[str, str] = {
    QuestionKind.CSAT: N_("Satisfaction (CSAT, 1–5)"),
    QuestionKind.NPS: N_("Would recommend (NPS, 0–10)"),
    QuestionKind.CES: N_("Effort (CES, 1–7)"),
    QuestionKind.CHOICE: N_("Single choice"),
    QuestionKind.TEXT: N_("Free text"),
}
TRIGGER_TITLES: dict[str, str] = {
    SurveyTrigger.TICKET_CLOSED: N_("When a ticket is closed"),
    SurveyTrigger.LIST: N_("Sent to a list"),
}
QUESTION_LABELS = {  # a question's fields as the form's columns name them
    "key": N_("Key"),
    "kind": N_("Kind"),
    "text_zh": N_("Question in Chinese"),
    "text_en": N_("Question in English"),
    "options": N_("Options"),
}
SURVEY_LABELS = {"name": N_("Survey name"), "valid_days": N_("Days the link stays valid")}
_BLANK = {"key": "", "kind": "csat", "text_zh": "", "text_en": "", "options": "",
          "required": "yes"}  # fmt: skip


def _builder_page(
    request: Request,
    actor: Actor,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    form = form or {"code": "", "name": "", "trigger": "ticket_closed", "valid_days": "14"}
    questions = list(form.get("questions") or [dict(_BLANK) for _ in range(QUESTION_ROWS)])
    context: dict[str, Any] = {
        "actor": actor,
        "form": form,
        "questions": questions,
        "errors": errors or {},
        "kinds": KIND_TITLES,
        "triggers": TRIGGER_TITLES,
    }
    return TEMPLATES.TemplateResponse(
        request, "support/survey_new.html", context, status_code=status
    )


@router.get("/surveys/new", response_class=HTMLResponse)
def new_survey_page(request: Request, actor: CurrentActor) -> Response:
    return _builder_page(request, actor)


def _options(text: str) -> list[dict[str, str]]:
    """One option a line, typed "code | 中文 | English" (a missing name repeats the other)."""
    options: list[dict[str, str]] = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if not any(parts):
            continue
        code, zh, en = [*parts, "", ""][:3]
        options.append({"code": code, "zh": zh or en, "en": en or zh})
    return options


def survey_from_form(form: dict[str, Any]) -> SurveyCreate:
    questions: list[dict[str, Any]] = []
    for i, row in enumerate(form["questions"]):
        if not any(row[k].strip() for k in ("key", "text_zh", "text_en", "options")):
            continue  # an empty row
        row["index"] = i  # a filled row: errors named questions.<n> are shown here
        questions.append(
            {
                "key": row["key"].strip() or f"q{len(questions) + 1}",
                "kind": row["kind"],
                "text_zh": row["text_zh"].strip() or row["text_en"].strip(),
                "text_en": row["text_en"].strip() or row["text_zh"].strip(),
                "options": _options(row["options"]),
                "required": row["required"] == "yes",
            }
        )
    if not questions:
        raise FormError("questions", "required")
    return SurveyCreate.model_validate(
        {
            "code": form["code"].strip(),
            "name": form["name"].strip(),
            "trigger": form["trigger"],
            "valid_days": parse_int(form["valid_days"], "valid_days") or 14,
            "questions": questions,
        }
    )


def _rows(columns: dict[str, list[str] | None]) -> list[dict[str, str]]:
    count = min(max((len(v or []) for v in columns.values()), default=0), MAX_ROWS)
    rows = [
        {k: str((v or [])[i])[:2000] if i < len(v or []) else "" for k, v in columns.items()}
        for i in range(count)
    ]
    for row in rows:
        row["kind"] = row["kind"] if row["kind"] in KIND_TITLES else "text"
    return rows


@router.post("/surveys/new", response_class=HTMLResponse)
def create_survey(
    request: Request,
    actor: CurrentActor,
    db: Db,
    code: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    trigger: Annotated[str, Form(max_length=20)] = "ticket_closed",
    valid_days: Annotated[str, Form(max_length=10)] = "",
    step: Annotated[str, Form(max_length=20)] = "",
    q_key: Annotated[list[str] | None, Form()] = None,
    q_kind: Annotated[list[str] | None, Form()] = None,
    q_text_zh: Annotated[list[str] | None, Form()] = None,
    q_text_en: Annotated[list[str] | None, Form()] = None,
    q_options: Annotated[list[str] | None, Form()] = None,
    q_required: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Save the survey, or (``step`` "add" or "remove-<n>") show the form with a question
    row more or less."""
    rows = _rows({"key": q_key, "kind": q_kind, "text_zh": q_text_zh, "text_en": q_text_en,
                  "options": q_options, "required": q_required})  # fmt: skip
    trigger = trigger if trigger in TRIGGER_TITLES else "ticket_closed"
    form: dict[str, Any] = {"code": code, "name": name, "trigger": trigger,
                            "valid_days": valid_days, "questions": rows}  # fmt: skip
    if step == "add" and len(rows) < MAX_ROWS:
        rows.append(dict(_BLANK))
        return _builder_page(request, actor, form=form)
    if step.startswith("remove-") and step[7:].isdigit():
        if int(step[7:]) < len(rows):
            rows.pop(int(step[7:]))
        return _builder_page(request, actor, form=form)
    errors: dict[str, str] = {}
    try:
        survey_in = survey_from_form(form)
        db.write(lambda s: surveys.create_survey(session=s, survey_in=survey_in, actor=actor))
    except ValidationError as exc:
        errors = field_errors(exc, keep_index=True)
    except (InvalidInput, Conflict) as exc:  # a box the form could not read, a code in use
        errors[error_field(exc, "code")] = message_for(exc)
    if errors:
        errors = rows_errors(errors, rows, items="questions", key="question",
                             labels=QUESTION_LABELS)  # fmt: skip
        for row in rows:
            row.pop("index", None)
        return _builder_page(request, actor, form=form, errors=errors, status=422)
    return RedirectResponse(f"/surveys/{survey_in.code}", 303)
