"""The records a privacy officer keeps: the processing register (what is processed, why,
shared with whom, kept how long, on what legal basis), exportable as XLSX, and the count of
reveals and exports per staff member, read from the audit log."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.audit.service import count_by_actor, record_audit
from patron.core.actor import Actor
from patron.core.spreadsheets import safe_row
from patron.privacy.exceptions import ActivityNotFound
from patron.privacy.models import ProcessingActivity
from patron.privacy.schemas import ActivityIn, ActivityRead

# What a privacy officer asks "who looked at personal data": single reveals, bulk
# customer exports and access exports.
REVEAL_ACTIONS = ("customer.reveal", "customer.export", "privacy.export")


def list_activities(*, session: Session) -> list[ActivityRead]:
    rows = session.scalars(
        select(ProcessingActivity).order_by(ProcessingActivity.position, ProcessingActivity.id)
    )
    return [ActivityRead.model_validate(r) for r in rows]


def save_activity(
    *, session: Session, activity_in: ActivityIn, actor: Actor, activity_id: int | None = None
) -> ActivityRead:
    """Add a line to the register, or change one (``activity_id``); audited."""
    if activity_id is None:
        row = ProcessingActivity()
        session.add(row)
    else:
        found = session.get(ProcessingActivity, activity_id)
        if found is None:
            raise ActivityNotFound(activity_id)
        row = found
    for key, value in activity_in.model_dump().items():
        setattr(row, key, value)
    row.updated_by = actor.name[:120]
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="privacy.register.create" if activity_id is None else "privacy.register.update",
        target_kind="processing_activity",
        target_id=row.id,
    )
    return ActivityRead.model_validate(row)


def delete_activity(*, session: Session, activity_id: int, actor: Actor) -> None:
    row = session.get(ProcessingActivity, activity_id)
    if row is None:
        raise ActivityNotFound(activity_id)
    session.delete(row)
    record_audit(
        session=session,
        actor=actor,
        action="privacy.register.delete",
        target_kind="processing_activity",
        target_id=activity_id,
        details={"purpose": row.purpose},
    )


REGISTER_HEADER = {
    "zh": ("处理目的", "个人信息种类", "接收方", "保存期限", "法律依据", "更新人", "更新时间"),
    "en": (
        "Purpose",
        "Kinds of data",
        "Recipients",
        "Retention",
        "Legal basis",
        "Updated by",
        "Updated at",
    ),
}


def register_workbook(*, session: Session, language: str = "zh") -> bytes:
    """The register as an XLSX file, headed in ``language`` (zh or en)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("处理活动记录" if language == "zh" else "Processing register")
    sheet.append(list(REGISTER_HEADER.get(language, REGISTER_HEADER["en"])))
    for a in list_activities(session=session):
        sheet.append(
            safe_row(
                [
                    a.purpose,
                    a.data_kinds,
                    a.recipients,
                    a.retention,
                    a.legal_basis,
                    a.updated_by,
                    a.updated_at.isoformat(timespec="seconds"),
                ]
            )
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@dataclass(frozen=True)
class StaffReveals:
    actor_kind: str
    actor_name: str
    reveals: int
    bulk_exports: int
    access_exports: int

    @property
    def total(self) -> int:
        return self.reveals + self.bulk_exports + self.access_exports


def reveals_by_staff(
    *, session: Session, since: datetime | None = None, until: datetime | None = None
) -> list[StaffReveals]:
    """Per staff member (or API key), the reveals and exports of personal data in the
    period, most first."""
    found: dict[tuple[str, str], dict[str, int]] = {}
    for kind, name, action, count in count_by_actor(
        session=session, actions=REVEAL_ACTIONS, since=since, until=until
    ):
        found.setdefault((kind, name), {})[action] = count
    rows = [
        StaffReveals(
            actor_kind=kind,
            actor_name=name,
            reveals=c.get("customer.reveal", 0),
            bulk_exports=c.get("customer.export", 0),
            access_exports=c.get("privacy.export", 0),
        )
        for (kind, name), c in found.items()
    ]
    return sorted(rows, key=lambda r: (-r.total, r.actor_name))
