"""An audience's members as a CSV file: masked unless the actor may reveal and asks to,
limited to the actor's stores, and recorded in the audit log with its size."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlalchemy.orm import Session

from patron.audiences.service import get_audience_or_raise, member_ids
from patron.audit.service import record_audit
from patron.core.actor import Actor
from patron.core.errors import Forbidden, InvalidInput
from patron.core.spreadsheets import safe_row
from patron.customers import service as customers
from patron.customers.masking import mask_customer

EXPORT_MAX_ROWS = 200_000
REVEAL = "customers.reveal"
COLUMNS = ("customer_id", "name", "phone", "email", "gender", "city", "home_store")
_CHUNK = 500


class RevealNotAllowed(Forbidden):
    code = "audience_reveal_forbidden"


def export_members_csv(
    *,
    session: Session,
    audience_id: int,
    actor: Actor,
    reveal: bool = False,
    reason: str | None = None,
    now: datetime | None = None,
    max_rows: int = EXPORT_MAX_ROWS,
) -> str:
    """The members (of the actor's stores) as CSV text, one row per customer."""
    if reveal and not actor.can(REVEAL):
        raise RevealNotAllowed("your role may not see personal data unmasked")
    if reveal and not (reason or "").strip():
        raise InvalidInput(
            "reason", "say why the data is exported unmasked", message_code="audience_reveal_reason"
        )
    audience = get_audience_or_raise(session=session, audience_id=audience_id)
    ids = member_ids(session=session, audience_id=audience_id, now=now, store_ids=actor.store_ids)
    ids = ids[:max_rows]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        found = customers.get_customers(session=session, customer_ids=chunk)
        for cid in chunk:
            profile = found.get(cid)
            if profile is None:
                continue
            shown = profile if reveal else mask_customer(profile)
            contact = {str(i.kind): i.value for i in reversed(shown.identities)}
            writer.writerow(
                safe_row([
                    cid,
                    shown.name or "",
                    contact.get("phone", ""),
                    contact.get("email", ""),
                    shown.gender or "",
                    shown.city or "",
                    shown.home_store_code or "",
                ])
            )  # fmt: skip
    record_audit(
        session=session,
        actor=actor,
        action="audience.export",
        target_kind="audience",
        target_id=audience_id,
        reason=reason if reveal else None,
        details={
            "name": audience.name,
            "rows": len(ids),
            "revealed": reveal,
            "format": "csv",
            "stores": sorted(actor.store_ids) if actor.store_ids is not None else None,
        },
    )
    return out.getvalue()
