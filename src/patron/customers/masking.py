"""What staff and integrations see of a customer unless they reveal it with a reason.

Names keep their first character (张*, W***), phones their first three and last four digits
(138****8000), e-mail its first character and domain (w***@example.com), other identifiers
their last four characters, addresses their first three characters (the city, as a rule);
birthdays are withheld.
"""

from __future__ import annotations

from patron.core.phone import mask_phone
from patron.customers.models import IdentityKind
from patron.customers.schemas import CustomerRead, IdentityRead


def mask_name(name: str) -> str:
    if not name:
        return name
    return name[0] + "*" * max(1, min(len(name) - 1, 3))


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_address(address: str) -> str:
    return address[:3] + "****" if len(address) > 3 else "****"


def mask_tail(value: str) -> str:
    return "****" + value[-4:] if len(value) > 6 else "****"


def mask_identity(kind: str, value: str) -> str:
    if kind == IdentityKind.PHONE:
        return mask_phone(value)
    if kind == IdentityKind.EMAIL:
        return mask_email(value)
    return mask_tail(value)


def mask_customer(customer: CustomerRead) -> CustomerRead:
    return customer.model_copy(
        update={
            "name": mask_name(customer.name) if customer.name else customer.name,
            "birthday": None,
            "address": mask_address(customer.address) if customer.address else customer.address,
            "identities": [
                IdentityRead(
                    kind=i.kind,
                    namespace=i.namespace,
                    value=mask_identity(i.kind, i.value),
                    created_at=i.created_at,
                )
                for i in customer.identities
            ],
        }
    )
