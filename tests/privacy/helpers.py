"""Privacy test data, built through the services."""

from __future__ import annotations

from datetime import datetime

from patron.core.db import Database
from patron.privacy import requests
from patron.privacy.schemas import PrivacyRequestCreate, PrivacyRequestRead
from tests.helpers import ACTOR


def file_request(
    db: Database, customer_id: int, *, kind: str = "access", received_at: datetime | None = None
) -> PrivacyRequestRead:
    request_in = PrivacyRequestCreate(
        customer_id=customer_id,
        kind=kind,  # type: ignore[arg-type]
        requested_by="本人",
        channel="in_store",
        verification="身份证原件核对",
        received_at=received_at,
    )
    return db.write(
        lambda s: requests.record_request(session=s, request_in=request_in, actor=ACTOR)
    )


def note(db: Database, customer_id: int, text: str, *, at: datetime | None = None) -> None:
    from patron.customers import service as customers
    from patron.customers.schemas import InteractionCreate

    interaction_in = InteractionCreate(channel="phone", note=text, occurred_at=at)
    db.write(
        lambda s: customers.record_interaction(
            session=s, customer_id=customer_id, interaction_in=interaction_in
        )
    )


def merge(db: Database, survivor_id: int, merged_id: int) -> None:
    from patron.customers import service as customers

    db.write(
        lambda s: customers.merge_customers(
            session=s, survivor_id=survivor_id, merged_id=merged_id, reason="同一人", actor=ACTOR
        )
    )
