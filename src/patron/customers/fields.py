"""Custom profile fields: defined by an admin (text, number, date or choice; personal or
not), valued per customer. Personal values are encrypted like the rest of the profile and
stay out of the analytics store. See docs/audiences.md."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.customers.models import CustomerFieldValue, CustomField

FieldValueRow = tuple[int, str, str | None, float | None, date | None]


def audience_field_kinds(*, session: Session) -> Mapping[str, str]:
    """code → kind of every field that is not personal (what audiences may select on)."""
    rows = session.execute(
        select(CustomField.code, CustomField.kind).where(CustomField.personal.is_(False))
    ).all()
    return {r[0]: r[1] for r in rows}


def _typed(kind: str, text: str) -> tuple[str | None, float | None, date | None]:
    if kind == "number":
        try:
            return None, float(text), None
        except ValueError:
            return None, None, None
    if kind == "date":
        try:
            return None, None, date.fromisoformat(text)
        except ValueError:
            return None, None, None
    return text, None, None


def audience_field_values(*, session: Session) -> list[FieldValueRow]:
    """(customer id, field code, text, number, date) of every value of a field that is not
    personal, typed by the field's kind."""
    rows = session.execute(
        select(
            CustomerFieldValue.customer_id,
            CustomField.code,
            CustomField.kind,
            CustomerFieldValue.value,
        )
        .join(CustomField, CustomField.id == CustomerFieldValue.field_id)
        .where(CustomField.personal.is_(False), CustomerFieldValue.value.is_not(None))
    ).all()
    return [(r[0], r[1], *_typed(r[2], r[3] or "")) for r in rows]
