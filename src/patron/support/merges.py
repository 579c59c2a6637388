"""A customer merge moves their tickets, survey invitations and answers to the survivor, and
an undone merge moves them back (customers/merging.py calls these by name)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from patron.support.surveys.models import SurveyInvitation, SurveyResponse
from patron.support.tickets.models import Ticket

_MODELS: tuple[tuple[str, type[Ticket] | type[SurveyInvitation] | type[SurveyResponse]], ...] = (
    ("ticket", Ticket),
    ("survey_invitation", SurveyInvitation),
    ("survey_response", SurveyResponse),
)
_CHUNK = 1_000


def move_customer_records(
    *, session: Session, from_customer_id: int, to_customer_id: int
) -> dict[str, list[int]]:
    moved: dict[str, list[int]] = {}
    for name, model in _MODELS:
        ids = list(session.scalars(select(model.id).where(model.customer_id == from_customer_id)))
        if ids:
            session.execute(
                update(model)
                .where(model.customer_id == from_customer_id)
                .values(customer_id=to_customer_id)
            )
        moved[name] = ids
    return moved


def restore_customer_records(
    *,
    session: Session,
    moved: dict[str, list[int]],
    from_customer_id: int,
    to_customer_id: int,
) -> None:
    for name, model in _MODELS:
        ids = moved.get(name, [])
        for start in range(0, len(ids), _CHUNK):
            session.execute(
                update(model)
                .where(
                    model.id.in_(ids[start : start + _CHUNK]), model.customer_id == from_customer_id
                )
                .values(customer_id=to_customer_id)
            )
