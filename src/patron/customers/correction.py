"""Correcting a customer's identifiers with history (docs/privacy.md, "Correction"): the
phone, e-mail or member card replaced, what it held before kept sealed under the person's
key, who corrected it, when and for which privacy request; the change audited with a
before-image. A value that belongs to another profile is refused, naming it: two profiles
become one only by a merge someone decides."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.core.actor import Actor
from patron.core.crypto import identity_index
from patron.core.errors import InvalidInput
from patron.core.phone import normalise_email, normalise_phone
from patron.core.settings import get_settings
from patron.customers.exceptions import CustomerNotFound, IdentifierTaken
from patron.customers.masking import mask_identity
from patron.customers.models import (
    Customer,
    CustomerStatus,
    Identity,
    IdentityCorrection,
    IdentityKind,
)
from patron.customers.schemas import IdentityCorrectionIn, IdentityCorrectionRead

CORRECTABLE = (IdentityKind.PHONE, IdentityKind.EMAIL, IdentityKind.MEMBER_CARD)


def _normal(kind: str, value: str) -> str:
    try:
        if kind == IdentityKind.PHONE:
            return normalise_phone(value, get_settings().phone_region)
        if kind == IdentityKind.EMAIL:
            return normalise_email(value)
    except ValueError as exc:
        raise InvalidInput("value", str(exc), message_code="identifier_unreadable") from None
    return value.strip()


def correct_identity(
    *,
    session: Session,
    customer_id: int,
    correction_in: IdentityCorrectionIn,
    actor: Actor,
    request_id: int | None = None,
) -> IdentityCorrectionRead:
    """Replace one of the customer's identifiers of ``kind`` (``old_value`` says which when
    they have several; none: the value is added) with ``value``."""
    customer = session.get(Customer, customer_id)
    if customer is None or customer.status != CustomerStatus.ACTIVE:
        raise CustomerNotFound(f"no live customer {customer_id}", customer_id=customer_id)
    kind = correction_in.kind
    value = _normal(kind, correction_in.value)
    index = identity_index(kind, "", value)
    owner = session.scalar(
        select(Identity.customer_id).where(
            Identity.kind == kind, Identity.namespace == "", Identity.value_index == index
        )
    )
    if owner == customer_id:
        raise InvalidInput(
            "value", "the customer has this value already", message_code="identifier_unchanged"
        )
    if owner is not None:
        raise IdentifierTaken(kind, owner)
    held = list(
        session.scalars(
            select(Identity)
            .where(
                Identity.customer_id == customer_id,
                Identity.kind == kind,
                Identity.namespace == "",
            )
            .order_by(Identity.id)
        )
    )
    target = held[0] if len(held) == 1 else None
    if correction_in.old_value is not None:
        old_index = identity_index(kind, "", _normal(kind, correction_in.old_value))
        target = next((i for i in held if i.value_index == old_index), None)
        if target is None:
            raise InvalidInput(
                "old_value",
                f"the customer has no such {kind}",
                message_code="identifier_not_held",
            )
    elif len(held) > 1:
        raise InvalidInput(
            "old_value",
            f"the customer has {len(held)} of these: say which one is corrected",
            message_code="identifier_which",
        )
    old = target.value if target is not None else None
    if target is None:
        session.add(
            Identity(
                customer_id=customer_id,
                kind=kind,
                namespace="",
                value=value,
                value_index=index,
                source="correction",
            )
        )
    else:
        target.value = value
        target.value_index = index
    row = IdentityCorrection(
        customer_id=customer_id,
        kind=kind,
        old_value=old,
        corrected_by=actor.label[:140],
        request_id=request_id,
    )
    session.add(row)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="customer.identity.correct",
        target_kind="customer",
        target_id=customer_id,
        details={"kind": kind, "request_id": request_id, "correction_id": row.id},
        before_image={kind: old},
    )
    return _read(row)


def _read(row: IdentityCorrection) -> IdentityCorrectionRead:
    return IdentityCorrectionRead(
        id=row.id,
        customer_id=row.customer_id,
        kind=row.kind,
        old_value=mask_identity(row.kind, row.old_value) if row.old_value else None,
        corrected_by=row.corrected_by,
        corrected_at=row.corrected_at,
        request_id=row.request_id,
    )


def list_corrections(*, session: Session, customer_id: int) -> list[IdentityCorrectionRead]:
    """The customer's identifier corrections, newest first, old values masked."""
    rows = session.scalars(
        select(IdentityCorrection)
        .where(IdentityCorrection.customer_id == customer_id)
        .order_by(IdentityCorrection.id.desc())
    )
    return [_read(r) for r in rows]
