"""Wherever a loyalty screen names a customer (issuing a coupon, adjusting points, a referral
code), a store-bound role is kept to its own stores: another store's customer is reported
exactly like one that does not exist."""

from __future__ import annotations

from sqlalchemy.orm import Session

from patron.core.actor import Actor
from patron.customers import service as customers
from patron.customers.exceptions import CustomerNotFound, OutOfScope


def check_member_in_scope(session: Session, actor: Actor, customer_id: int) -> None:
    """The customer exists and this actor's stores may see them; else "no such customer"."""
    try:
        customers.check_customer_in_scope(
            session=session, customer_id=customer_id, store_ids=actor.store_ids
        )
    except OutOfScope:
        raise CustomerNotFound(f"no customer {customer_id}", customer_id=customer_id) from None
