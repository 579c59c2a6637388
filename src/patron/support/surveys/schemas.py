"""Survey schemas: building a survey, the public page's view and answers, and results."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, model_validator

from patron.core.errors import rule_error
from patron.core.schemas import RecordId, Schema, ShortCode
from patron.support.surveys.models import QuestionKind, SurveyTrigger

Words = Annotated[str, Field(min_length=1, max_length=300)]
Key = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]

RESERVED_CODES = frozenset({"new"})

SCALES: dict[QuestionKind, tuple[int, int]] = {
    QuestionKind.CSAT: (1, 5),
    QuestionKind.NPS: (0, 10),
    QuestionKind.CES: (1, 7),
}


class OptionIn(Schema):
    code: Key
    zh: Words
    en: Words


class QuestionIn(Schema):
    key: Key
    kind: QuestionKind
    text_zh: Words
    text_en: Words
    options: list[OptionIn] = Field(default_factory=list, max_length=20)
    required: bool = True

    @model_validator(mode="after")
    def _options_for_choice(self) -> QuestionIn:
        if (self.kind == QuestionKind.CHOICE) != bool(self.options):
            raise rule_error(
                "survey_choice_options",
                "options",
                "a choice question needs options, no other has any",
            )
        return self


class SurveyCreate(Schema):
    code: ShortCode
    name: Annotated[str, Field(min_length=1, max_length=120)]
    trigger: SurveyTrigger = SurveyTrigger.TICKET_CLOSED
    questions: list[QuestionIn] = Field(min_length=1, max_length=30)
    valid_days: Annotated[int, Field(ge=1, le=90)] = 14

    @model_validator(mode="after")
    def _code_not_reserved(self) -> SurveyCreate:
        # /surveys/new is the builder's own address: a survey coded "new" could not be opened.
        if self.code.casefold() in RESERVED_CODES:
            raise rule_error(
                "survey_code_reserved", "code", "this code is reserved: choose another"
            )
        return self

    @model_validator(mode="after")
    def _keys_unique(self) -> SurveyCreate:
        keys = [q.key for q in self.questions]
        if len(keys) != len(set(keys)):
            raise rule_error("survey_keys_repeated", "questions", "two questions have the same key")
        kinds = [q.kind for q in self.questions if q.kind in SCALES]
        if len(kinds) != len(set(kinds)):
            raise rule_error(
                "survey_scale_repeated",
                "questions",
                "at most one CSAT, one NPS and one CES question",
            )
        return self


class SurveyRead(SurveyCreate):
    id: int
    active: bool
    created_by: str
    created_at: datetime


class InviteIn(Schema):
    """A survey sent to a list of customers."""

    customer_ids: list[RecordId] = Field(min_length=1, max_length=10_000)


class Invitation(Schema):
    invitation_id: int
    customer_id: int
    token: str  # only ever shown here, once
    channel: str | None  # how it was sent; None: nobody to send it to


class PublicSurvey(Schema):
    """What the public page shows: the questions and a first name, nothing else."""

    name: str
    first_name: str | None
    questions: list[QuestionIn]
    expires_at: datetime


class AnswersIn(Schema):
    answers: dict[Key, Any] = Field(max_length=30)
    language: Annotated[str, Field(pattern=r"^(zh|en)$")] = "zh"


class ResponseRead(Schema):
    id: int
    csat: int | None
    nps: int | None
    ces: int | None
    comment: str
    sentiment: str | None
    follow_up_ticket_id: int | None
    submitted_at: datetime


class Score(Schema):
    key: str
    responses: int
    csat_mean: float | None
    csat_satisfied_percent: float | None  # 4 or 5


class NpsRead(Schema):
    responses: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None
    ci_low: float | None  # 95% interval
    ci_high: float | None


class SurveyResults(Schema):
    survey: str
    invited: int
    responded: int
    response_rate_percent: float | None
    nps: NpsRead
    csat: Score
    ces_mean: float | None
    csat_by_store: list[Score]
    csat_by_agent: list[Score]
    csat_by_type: list[Score]
    by_month: list[tuple[str, int, float | None]]  # month, responses, NPS
    comments: list[tuple[str, str | None]]  # masked text, sentiment
    keywords: list[tuple[str, int]]  # the comments' keywords: word, comments using it
