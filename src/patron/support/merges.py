"""A customer merge moves their tickets, survey invitations and answers to the survivor, and
an undone merge moves them back (customers/merging.py calls these by name)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from patron.core.ownership import move_owned_rows, restore_owned_rows
from patron.support.surveys.models import SurveyInvitation, SurveyResponse
from patron.support.tickets.models import Ticket

_MODELS = {
    "ticket": Ticket,
    "survey_invitation": SurveyInvitation,
    "survey_response": SurveyResponse,
}


def move_customer_records(
    *, session: Session, from_customer_id: int, to_customer_id: int
) -> dict[str, list[int]]:
    return move_owned_rows(
        session, _MODELS, from_customer_id=from_customer_id, to_customer_id=to_customer_id
    )


def restore_customer_records(
    *,
    session: Session,
    moved: dict[str, list[int]],
    from_customer_id: int,
    to_customer_id: int,
) -> None:
    restore_owned_rows(
        session, _MODELS, moved, from_customer_id=from_customer_id, to_customer_id=to_customer_id
    )
