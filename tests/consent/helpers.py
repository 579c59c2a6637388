"""Consent for tests, recorded through the consent service."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from patron.consent import record_consent
from patron.consent.schemas import ConsentChange, ConsentIn
from patron.core.db import Database
from patron.customers import service as customers


def record(
    db: Database,
    customer_ids: Iterable[int],
    channel: str,
    *,
    purpose: str = "marketing",
    granted: bool = True,
    source: str = "till",
    at: datetime | None = None,
) -> None:
    change = ConsentChange.model_validate(
        {"channel": channel, "purpose": purpose, "granted": granted}
    )
    consent_in = ConsentIn.model_validate(
        {"changes": [change], "source": source, "notice_version": "2026-01", "at": at}
    )
    ids = list(customer_ids)

    def work(session: object) -> None:
        for cid in ids:
            if not customers.customer_exists(session=session, customer_id=cid):  # type: ignore[arg-type]
                continue  # an unknown id, for tests that enqueue one on purpose
            record_consent(session=session, customer_id=cid, consent_in=consent_in)  # type: ignore[arg-type]

    db.write(work)


def grant_marketing(db: Database, customer_ids: Iterable[int], *channels: str) -> None:
    for channel in channels or ("email", "sms", "wechat"):
        record(db, customer_ids, channel)
