"""Custom profile fields: defined by an admin (text, number, date or choice; personal or
not), valued per customer. Personal values are encrypted like the rest of the profile and
stay out of the analytics store. See docs/audiences.md."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.core.actor import Actor
from patron.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from patron.customers.masking import mask_tail
from patron.customers.models import CustomerFieldValue, CustomField
from patron.customers.schemas import CustomFieldCreate, CustomFieldRead, CustomFieldValue

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


class CustomFieldTaken(Conflict):
    code = "custom_field_taken"


class CustomFieldNotFound(NotFound):
    code = "custom_field_not_found"


def define_field(*, session: Session, field_in: CustomFieldCreate, actor: Actor) -> CustomFieldRead:
    """A new custom field (its code unique)."""
    if session.scalar(select(CustomField.id).where(CustomField.code == field_in.code)):
        raise CustomFieldTaken(
            f"a custom field {field_in.code!r} exists already",
            message_code="custom_field_taken",
            code=field_in.code,
        )
    field = CustomField(
        code=field_in.code,
        label=field_in.label,
        kind=field_in.kind,
        choices=list(field_in.choices),
        personal=field_in.personal,
    )
    session.add(field)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="custom_field.define",
        target_kind="custom_field",
        target_id=field.id,
        details={"code": field.code, "kind": field.kind, "personal": field.personal},
    )
    return CustomFieldRead.model_validate(field)


def list_fields(*, session: Session, personal: bool | None = None) -> list[CustomFieldRead]:
    """The custom fields, by label; ``personal`` keeps only those that are (or are not)."""
    query = select(CustomField).order_by(CustomField.label, CustomField.id)
    if personal is not None:
        query = query.where(CustomField.personal.is_(personal))
    return [CustomFieldRead.model_validate(f) for f in session.scalars(query)]


def _normalise(field: CustomField, raw: str) -> str:
    """The value as stored (plain text: numbers as typed without grouping, ISO dates), or
    InvalidInput at ``fields.<code>``."""
    text = raw.strip()
    where = f"fields.{field.code}"
    if field.kind == "number":
        try:
            number = Decimal(text.replace(",", ""))
        except InvalidOperation:
            raise InvalidInput(where, "not a number", message_code="decimal_parsing") from None
        if not number.is_finite():
            raise InvalidInput(where, "not a number", message_code="decimal_parsing")
        return format(number.normalize(), "f")
    if field.kind == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise InvalidInput(
                where, "not a date (YYYY-MM-DD)", message_code="custom_field_not_date"
            ) from None
    if field.kind == "choice" and text not in field.choices:
        raise InvalidInput(
            where,
            f"not one of {', '.join(field.choices)}",
            message_code="custom_field_not_a_choice",
            value=text,
        )
    return text


def set_field_values(
    *,
    session: Session,
    customer_id: int,
    values: Mapping[str, str | None],
    actor: Actor,
) -> list[CustomFieldValue]:
    """Set (or clear, with None or "") the customer's values of these fields, all or none:
    the first bad value raises InvalidInput naming ``fields.<code>``. The caller checks the
    customer is in the actor's stores. Audited, the values before kept encrypted."""
    fields = {f.code: f for f in session.scalars(select(CustomField))}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise InvalidInput(
            f"fields.{unknown[0]}",
            "no such custom field",
            message_code="custom_field_not_found",
            code=unknown[0],
        )
    stored = {
        v.field_id: v
        for v in session.scalars(
            select(CustomerFieldValue).where(CustomerFieldValue.customer_id == customer_id)
        )
    }
    normalised = {
        code: (_normalise(fields[code], raw) if raw not in (None, "") and raw.strip() else None)
        for code, raw in values.items()
    }
    before: dict[str, str | None] = {}
    for code, value in normalised.items():
        field = fields[code]
        row = stored.get(field.id)
        old = None if row is None else (row.secret if field.personal else row.value)
        if old == value:
            continue
        before[code] = old
        if value is None:
            if row is not None:
                session.delete(row)
            continue
        if row is None:
            row = CustomerFieldValue(customer_id=customer_id, field_id=field.id)
            session.add(row)
        row.value, row.secret = (None, value) if field.personal else (value, None)
    session.flush()
    if before:
        record_audit(
            session=session,
            actor=actor,
            action="customer.update",
            target_kind="customer",
            target_id=customer_id,
            details={"fields": [f"fields.{code}" for code in sorted(before)]},
            before_image={f"fields.{code}": value for code, value in before.items()},
        )
    return field_values(session=session, customer_id=customer_id, reveal=True)


REVEAL = "customers.reveal"


class FieldRevealNotAllowed(Forbidden):
    code = "field_reveal_forbidden"


def reveal_field_values(
    *, session: Session, customer_id: int, actor: Actor, reason: str
) -> list[CustomFieldValue]:
    """The values unmasked, for a role that may reveal, with a reason; audited."""
    if not actor.can(REVEAL):
        raise FieldRevealNotAllowed("your role may not see personal data unmasked")
    if not reason.strip():
        raise InvalidInput("reason", "say why", message_code="audience_reveal_reason")
    shown = field_values(session=session, customer_id=customer_id, reveal=True)
    record_audit(
        session=session,
        actor=actor,
        action="customer.reveal",
        target_kind="customer",
        target_id=customer_id,
        reason=reason.strip(),
        details={"fields": [f"fields.{v.code}" for v in shown if v.personal]},
    )
    return shown


def field_values(
    *, session: Session, customer_id: int, reveal: bool = False
) -> list[CustomFieldValue]:
    """Every field with the customer's value (None when unset); a personal value masked
    unless ``reveal`` (the caller audits a reveal)."""
    stored = {
        v.field_id: v
        for v in session.scalars(
            select(CustomerFieldValue).where(CustomerFieldValue.customer_id == customer_id)
        )
    }
    out = []
    for field in session.scalars(select(CustomField).order_by(CustomField.label, CustomField.id)):
        row = stored.get(field.id)
        value = None if row is None else (row.secret if field.personal else row.value)
        if value is not None and field.personal and not reveal:
            value = mask_tail(value)
        out.append(
            CustomFieldValue(
                code=field.code,
                label=field.label,
                kind=field.kind,
                personal=field.personal,
                value=value,
            )
        )
    return out
