"""Service signals for analytics: every ticket and survey answer as plain rows, dated in the
shop's zone, for the analytics store (analytics/service_extract.py) and the churn model's
service features (analytics/churn/features.py)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from patron.support.surveys.models import SurveyResponse
from patron.support.tickets.models import SlaEvent, SlaEventKind, Ticket

# (ticket_id, customer_id, ticket_type, opened_on, closed_on, breached_on)
TicketRow = tuple[int, int, str, date, date | None, date | None]
# (response_id, customer_id, answered_on, csat, nps)
AnswerRow = tuple[int, int, date, int | None, int | None]


def _day(at: datetime | None, zone: ZoneInfo) -> date | None:
    return at.astimezone(zone).date() if at is not None else None


def ticket_rows(*, session: Session, zone: ZoneInfo) -> list[TicketRow]:
    breached = (
        select(SlaEvent.ticket_id, func.min(SlaEvent.at).label("at"))
        .where(SlaEvent.kind == SlaEventKind.BREACH)
        .group_by(SlaEvent.ticket_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Ticket.id,
            Ticket.customer_id,
            Ticket.ticket_type,
            Ticket.opened_at,
            func.coalesce(Ticket.closed_at, Ticket.resolved_at),
            breached.c.at,
        )
        .outerjoin(breached, breached.c.ticket_id == Ticket.id)
        .order_by(Ticket.id)
    ).all()
    return [
        (int(i), int(c), str(t), o.astimezone(zone).date(), _day(done, zone), _day(b, zone))
        for i, c, t, o, done, b in rows
    ]


def answer_rows(*, session: Session, zone: ZoneInfo) -> list[AnswerRow]:
    rows = session.execute(
        select(
            SurveyResponse.id,
            SurveyResponse.customer_id,
            SurveyResponse.submitted_at,
            SurveyResponse.csat,
            SurveyResponse.nps,
        ).order_by(SurveyResponse.id)
    ).all()
    return [(int(i), int(c), at.astimezone(zone).date(), cs, n) for i, c, at, cs, n in rows]
