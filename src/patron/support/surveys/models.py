"""Survey tables: surveys and their questions, invitations (one signed link each) and
responses."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.clock import utcnow
from patron.core.models import Base, BigId, IdPk, UTCDateTime


class QuestionKind(StrEnum):
    CSAT = "csat"  # 1-5
    NPS = "nps"  # 0-10
    CES = "ces"  # 1-7, effort: 1 very easy
    CHOICE = "choice"
    TEXT = "text"


class SurveyTrigger(StrEnum):
    TICKET_CLOSED = "ticket_closed"
    LIST = "list"


class Survey(Base):
    __tablename__ = "survey"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    trigger: Mapped[str] = mapped_column(String(16))  # SurveyTrigger
    # [{"key", "kind", "text_zh", "text_en", "options": [{"code", "zh", "en"}], "required"}]
    questions: Mapped[list[Any]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    valid_days: Mapped[int] = mapped_column(Integer, default=14)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SurveyInvitation(Base):
    """One customer's link to one survey: single-use, expiring, signed; only the nonce's
    hash is kept."""

    __tablename__ = "survey_invitation"
    __table_args__ = (Index("ix_survey_invitation_survey", "survey_id"),)

    id: Mapped[IdPk]
    survey_id: Mapped[int] = mapped_column(BigId, ForeignKey("survey.id"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("ticket.id"), unique=True)
    nonce_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message_channel: Mapped[str | None] = mapped_column(String(16))  # how it was sent
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SurveyResponse(Base):
    __tablename__ = "survey_response"
    __table_args__ = (Index("ix_survey_response_survey", "survey_id", "submitted_at"),)

    id: Mapped[IdPk]
    invitation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("survey_invitation.id"), unique=True
    )
    survey_id: Mapped[int] = mapped_column(BigId, ForeignKey("survey.id"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("ticket.id"))
    store_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("store.id"))
    agent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("staff_user.id"))
    ticket_type: Mapped[str | None] = mapped_column(String(16))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    csat: Mapped[int | None] = mapped_column(Integer)
    nps: Mapped[int | None] = mapped_column(Integer)
    ces: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    sentiment: Mapped[str | None] = mapped_column(String(16))  # positive / negative
    language: Mapped[str] = mapped_column(String(8), default="zh")
    follow_up_ticket_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("ticket.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
