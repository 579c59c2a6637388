"""The public survey page, reached by a signed one-time link (``/s/<token>``): no sign-in,
built for a phone (and WeChat's browser), in Chinese or English, showing nothing personal
beyond the customer's first name. A link that is forged, used or expired says only that."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from patron.core.errors import InvalidInput
from patron.support.exceptions import SurveyLinkInvalid
from patron.support.surveys import service as surveys
from patron.support.surveys.schemas import AnswersIn
from patron.web.deps import Db
from patron.web.i18n import current_language
from patron.web.messages import message_for
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)
MAX_TOKEN = 120
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def _render(request: Request, context: dict[str, Any], status: int = 200) -> Response:
    response = TEMPLATES.TemplateResponse(
        request, "support/public_survey.html", context, status_code=status
    )
    response.headers["cache-control"] = "no-store"
    return response


def _invalid(request: Request, token: str) -> Response:
    return _render(request, {"invalid": True, "token": token[:MAX_TOKEN]}, 410)


@router.get("/s/{token}", response_class=HTMLResponse)
def survey_page(request: Request, token: str, db: Db) -> Response:
    try:
        page = db.read(lambda s: surveys.open_survey(session=s, token=token[:MAX_TOKEN]))
    except SurveyLinkInvalid:
        return _invalid(request, token)
    context = {"page": page, "token": token, "answers": {}, "error": None, "field": None,
               "lang_code": current_language().code}  # fmt: skip
    return _render(request, context)


@router.post("/s/{token}", response_class=HTMLResponse)
async def answer(request: Request, token: str, db: Db) -> Response:
    form = await request.form()
    answers = {k: v for k, v in form.items() if isinstance(v, str) and _KEY.match(k)}
    lang = current_language().code
    body = AnswersIn.model_validate(
        {"answers": dict(list(answers.items())[:30]),
         "language": "en" if lang == "en" else "zh"}
    )  # fmt: skip
    try:
        db.write(lambda s: surveys.submit(session=s, token=token[:MAX_TOKEN], answers_in=body))
    except SurveyLinkInvalid:
        return _invalid(request, token)
    except InvalidInput as exc:
        page = db.read(lambda s: surveys.open_survey(session=s, token=token[:MAX_TOKEN]))
        context = {"page": page, "token": token, "answers": answers, "error": message_for(exc),
                   "field": exc.field, "lang_code": lang}  # fmt: skip
        return _render(request, context, 422)
    return _render(request, {"thanks": True})
