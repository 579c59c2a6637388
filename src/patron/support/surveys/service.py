"""Surveys: build one, invite customers (after a ticket closes, or a list), show the public
page for a signed one-time link, and take the answers. A detractor's answer (NPS 0-6, or
CSAT 1-2) opens a follow-up ticket (docs/support.md)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.core.actor import Actor, system_actor
from patron.core.clock import utcnow
from patron.core.errors import InvalidInput
from patron.core.settings import get_settings
from patron.customers import service as customers
from patron.support.exceptions import SurveyLinkInvalid, SurveyNotFound
from patron.support.notify import tell_customer, withdraw
from patron.support.surveys import tokens
from patron.support.surveys.models import (
    QuestionKind,
    Survey,
    SurveyInvitation,
    SurveyResponse,
    SurveyTrigger,
)
from patron.support.surveys.schemas import (
    SCALES,
    AnswersIn,
    Invitation,
    PublicSurvey,
    QuestionIn,
    ResponseRead,
    SurveyCreate,
    SurveyRead,
)
from patron.support.tickets.models import Priority, Ticket, TicketChannel, TicketType

DETRACTOR_NPS = 6  # 0-6 detract
DETRACTOR_CSAT = 2  # 1-2 dissatisfied
MAX_TEXT = 2_000


def create_survey(*, session: Session, survey_in: SurveyCreate, actor: Actor) -> SurveyRead:
    if session.scalar(select(Survey.id).where(Survey.code == survey_in.code)) is not None:
        raise InvalidInput(
            "code", f"a survey {survey_in.code!r} exists already",
            message_code="survey_exists", code=survey_in.code,
        )  # fmt: skip
    row = Survey(
        code=survey_in.code,
        name=survey_in.name,
        trigger=survey_in.trigger,
        questions=[q.model_dump(mode="json") for q in survey_in.questions],
        valid_days=survey_in.valid_days,
        active=True,
        created_by=actor.name,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    record_audit(
        session=session, actor=actor, action="survey.create", target_kind="survey",
        target_id=row.id,
    )  # fmt: skip
    return survey_read(row)


def survey_read(row: Survey) -> SurveyRead:
    return SurveyRead(
        id=row.id,
        code=row.code,
        name=row.name,
        trigger=SurveyTrigger(row.trigger),
        questions=[QuestionIn.model_validate(q) for q in row.questions],
        valid_days=row.valid_days,
        active=row.active,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def list_surveys(*, session: Session) -> list[SurveyRead]:
    return [survey_read(r) for r in session.scalars(select(Survey).order_by(Survey.id))]


def get_survey_row(session: Session, code: str) -> Survey:
    row = session.scalar(select(Survey).where(Survey.code == code))
    if row is None:
        raise SurveyNotFound(f"no survey {code!r}", code=code)
    return row


# --- invitations -----------------------------------------------------------------------


def _invite(
    session: Session,
    survey: Survey,
    customer_id: int,
    ticket_id: int | None,
    now: datetime,
    base_url: str,
) -> Invitation:
    value = tokens.nonce()
    expires_at = now + timedelta(days=survey.valid_days)
    row = SurveyInvitation(
        survey_id=survey.id,
        customer_id=customer_id,
        ticket_id=ticket_id,
        nonce_hash=tokens.nonce_hash(value),
        expires_at=expires_at,
        created_at=now,
    )
    session.add(row)
    session.flush()
    token = tokens.make_token(row.id, expires_at, value)
    row.message_channel = tell_customer(
        session=session,
        customer_id=customer_id,
        source_kind="survey",
        source_id=str(row.id),
        text="感谢您的光临，请花一分钟评价我们的服务：{{ survey_url }}",
        subject="请评价我们的服务",
        variables={
            "survey_url": f"{(base_url or get_settings().public_url).rstrip('/')}/s/{token}"
        },
    )
    return Invitation(
        invitation_id=row.id, customer_id=customer_id, token=token, channel=row.message_channel
    )


def invite(
    *,
    session: Session,
    code: str,
    customer_ids: list[int],
    actor: Actor,
    base_url: str = "",
    now: datetime | None = None,
) -> list[Invitation]:
    """Send the survey to a list; customers merged away or unknown are left out."""
    at = now or utcnow()
    survey = get_survey_row(session, code)
    live = customers.live_customer_ids(session=session, customer_ids=customer_ids)
    made = [_invite(session, survey, c, None, at, base_url) for c in sorted(live)]
    record_audit(
        session=session, actor=actor, action="survey.invite", target_kind="survey",
        target_id=survey.id, details={"invited": len(made)},
    )  # fmt: skip
    return made


def invite_after_close(
    session: Session, ticket: Ticket, *, base_url: str = "", now: datetime | None = None
) -> Invitation | None:
    """The active ticket survey, to the customer of a ticket just closed, once per ticket
    (a follow-up of a survey answer is not surveyed again)."""
    if ticket.survey_response_id is not None:
        return None
    survey = session.scalar(
        select(Survey)
        .where(Survey.trigger == SurveyTrigger.TICKET_CLOSED, Survey.active.is_(True))
        .order_by(Survey.id.desc())
    )
    if survey is None:
        return None
    if session.scalar(select(SurveyInvitation.id).where(SurveyInvitation.ticket_id == ticket.id)):
        return None
    return _invite(session, survey, ticket.customer_id, ticket.id, now or utcnow(), base_url)


# --- the public page -------------------------------------------------------------------


def _valid_invitation(
    session: Session, token: str, now: datetime, *, lock: bool = False
) -> SurveyInvitation:
    signed = tokens.read_token(token)
    if signed is None:
        raise SurveyLinkInvalid("the link is not valid", reason="forged")
    statement = select(SurveyInvitation).where(SurveyInvitation.id == signed.invitation_id)
    if lock:
        statement = statement.with_for_update()
    row = session.scalar(statement)
    if row is None or row.nonce_hash != tokens.nonce_hash(signed.nonce):
        raise SurveyLinkInvalid("the link is not valid", reason="forged")
    if row.used_at is not None:
        raise SurveyLinkInvalid("the link was used", reason="used")
    if now >= row.expires_at or now >= signed.expires_at:
        raise SurveyLinkInvalid("the link has expired", reason="expired")
    return row


_CJK = re.compile(r"^[\u4e00-\u9fff]{2,4}$")


def first_name(name: str | None) -> str | None:
    """The given name alone: 小明 of 王小明, Anna of Anna Schmidt."""
    if not name or not name.strip():
        return None
    text = name.strip()
    if _CJK.match(text):
        return text[1:]
    return text.split()[0]


def open_survey(*, session: Session, token: str, now: datetime | None = None) -> PublicSurvey:
    at = now or utcnow()
    row = _valid_invitation(session, token, at)
    survey = session.get(Survey, row.survey_id)
    assert survey is not None
    customer = customers.get_customer(session=session, customer_id=row.customer_id)
    return PublicSurvey(
        name=survey.name,
        first_name=first_name(customer.name if customer else None),
        questions=[QuestionIn.model_validate(q) for q in survey.questions],
        expires_at=row.expires_at,
    )


def _check_answers(questions: list[QuestionIn], answers: dict[str, Any]) -> dict[str, Any]:
    """The answers as kept: scales as whole numbers in range, choices among the options,
    text trimmed; a required question left out is refused by its key."""
    kept: dict[str, Any] = {}
    for q in questions:
        value = answers.get(q.key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if q.required:
                raise InvalidInput(q.key, "required", message_code="required")
            continue
        if q.kind in SCALES:
            low, high = SCALES[q.kind]
            try:
                number = int(str(value))
            except ValueError:
                number = low - 1
            if not low <= number <= high:
                raise InvalidInput(
                    q.key, f"must be from {low} to {high}", message_code="survey_scale",
                    low=low, high=high,
                )  # fmt: skip
            kept[q.key] = number
        elif q.kind == QuestionKind.CHOICE:
            if str(value) not in {o.code for o in q.options}:
                raise InvalidInput(q.key, "choose one of the options", message_code="enum")
            kept[q.key] = str(value)
        else:
            kept[q.key] = str(value).strip()[:MAX_TEXT]
    return kept


def _scale(questions: list[QuestionIn], kept: dict[str, Any], kind: QuestionKind) -> int | None:
    key = next((q.key for q in questions if q.kind == kind), None)
    value = kept.get(key) if key else None
    return int(value) if value is not None else None


def submit(
    *, session: Session, token: str, answers_in: AnswersIn, now: datetime | None = None
) -> ResponseRead:
    """Take the answers once; the link is spent. Free text is scored for sentiment."""
    at = now or utcnow()
    invitation = _valid_invitation(session, token, at, lock=True)
    survey = session.get(Survey, invitation.survey_id)
    assert survey is not None
    questions = [QuestionIn.model_validate(q) for q in survey.questions]
    kept = _check_answers(questions, answers_in.answers)
    text = " ".join(
        str(kept[q.key]) for q in questions if q.kind == QuestionKind.TEXT and q.key in kept
    )
    ticket = session.get(Ticket, invitation.ticket_id) if invitation.ticket_id else None
    invitation.used_at = at
    # answered through a link given some other way (or, in the demo, in its made-up past)
    # before the SMS or e-mail went: that message is not sent any more
    withdraw(
        session=session, source_kind="survey", source_id=str(invitation.id),
        reason="survey_answered", now=at,
    )  # fmt: skip
    response = SurveyResponse(
        invitation_id=invitation.id,
        survey_id=survey.id,
        customer_id=invitation.customer_id,
        ticket_id=invitation.ticket_id,
        store_id=ticket.store_id if ticket else None,
        agent_id=ticket.assignee_id if ticket else None,
        ticket_type=ticket.ticket_type if ticket else None,
        answers=kept,
        csat=_scale(questions, kept, QuestionKind.CSAT),
        nps=_scale(questions, kept, QuestionKind.NPS),
        ces=_scale(questions, kept, QuestionKind.CES),
        comment=text,
        sentiment=_sentiment(text),
        language=answers_in.language,
        submitted_at=at,
    )
    session.add(response)
    session.flush()
    if is_detractor(response.nps, response.csat):
        response.follow_up_ticket_id = _follow_up(session, response, survey.name, ticket, at)
    return ResponseRead.model_validate(response, from_attributes=True)


def is_detractor(nps: int | None, csat: int | None) -> bool:
    return (nps is not None and nps <= DETRACTOR_NPS) or (
        csat is not None and csat <= DETRACTOR_CSAT
    )


def _sentiment(text: str) -> str | None:
    if not text.strip():
        return None
    from patron.support.feedback.sentiment import analyse

    return str(analyse([text])[0].polarity)


def _follow_up(
    session: Session,
    response: SurveyResponse,
    survey_name: str,
    ticket: Ticket | None,
    at: datetime,
) -> int:
    from patron.catalog import service as catalog
    from patron.customers.schemas import CustomerRef
    from patron.support.tickets import service as tickets
    from patron.support.tickets.schemas import TicketCreate

    codes = catalog.store_codes_by_id(session=session)
    score = f"NPS {response.nps}" if response.nps is not None else f"CSAT {response.csat}"
    ticket_in = TicketCreate(
        ticket_type=TicketType.COMPLAINT,
        channel=TicketChannel.SURVEY,
        priority=Priority.HIGH,
        subject=f"{survey_name}: {score}"[:200],
        description=response.comment,
        customer=CustomerRef(id=response.customer_id),
        store_code=codes.get(ticket.store_id) if ticket and ticket.store_id else None,
        opened_at=at,
    )
    opened = tickets.open_ticket(
        session=session, ticket_in=ticket_in, actor=system_actor("survey"), now=at
    )
    follow = session.get(Ticket, opened.id)
    assert follow is not None
    follow.survey_response_id = response.id
    return opened.id


def invitations_of(*, session: Session, customer_id: int) -> list[int]:
    """The ids of a customer's survey invitations, oldest first."""
    return list(
        session.scalars(
            select(SurveyInvitation.id)
            .where(SurveyInvitation.customer_id == customer_id)
            .order_by(SurveyInvitation.id)
        )
    )
