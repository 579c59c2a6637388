"""Photos on tickets: the type is read from the file's first bytes (never trusted from the
name or the browser), the size is capped, and the file is kept under the data directory
(``<data_dir>/support/attachments``), outside anything the web server serves; staff get it
only through the ticket, so only those who may see the ticket (docs/support.md)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.errors import NotFound
from patron.core.settings import get_settings
from patron.support.exceptions import AttachmentRefused, TicketRefused
from patron.support.tickets import service as tickets
from patron.support.tickets.models import TicketAttachment, TicketStatus
from patron.support.tickets.schemas import AttachmentRead

MAX_BYTES = 5 * 1024 * 1024
MAX_PER_TICKET = 20


def sniff(head: bytes) -> str | None:
    """The photo type of a file by its first bytes, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def attachment_dir() -> Path:
    return get_settings().data_dir / "support" / "attachments"


def _path(sha256: str) -> Path:
    return attachment_dir() / sha256[:2] / sha256


def add_attachment(
    *,
    session: Session,
    ticket_id: int,
    file_name: str,
    content: bytes,
    actor: Actor,
    now: datetime | None = None,
) -> AttachmentRead:
    ticket = tickets.load_ticket(session, ticket_id, actor, lock=True)
    if ticket.status == TicketStatus.CLOSED:
        raise TicketRefused("the ticket is closed", message_code="ticket_closed")
    content_type = sniff(content[:16])
    if content_type is None or not content or len(content) > MAX_BYTES:
        raise AttachmentRefused(
            "file", "is not a JPEG, PNG or WebP photo of at most 5 MB", limit_mb=5
        )
    count = len(
        session.scalars(
            select(TicketAttachment.id).where(TicketAttachment.ticket_id == ticket.id)
        ).all()
    )
    if count >= MAX_PER_TICKET:
        raise AttachmentRefused("file", "the ticket has as many photos as it may", limit_mb=5)
    digest = hashlib.sha256(content).hexdigest()
    path = _path(digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(content)
        partial.replace(path)
    name = Path(file_name.replace("\\", "/")).name[:200] or "photo"
    row = TicketAttachment(
        ticket_id=ticket.id,
        file_name=name,
        content_type=content_type,
        size_bytes=len(content),
        sha256=digest,
        added_by=actor.name,
        added_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    record_audit(
        session=session, actor=actor, action="ticket.attach", target_kind="ticket",
        target_id=ticket.id, details={"attachment_id": row.id, "bytes": len(content)},
    )  # fmt: skip
    return AttachmentRead.model_validate(row, from_attributes=True)


@dataclass(frozen=True, slots=True)
class Photo:
    content_type: str
    file_name: str
    path: Path


def get_attachment(*, session: Session, ticket_id: int, attachment_id: int, actor: Actor) -> Photo:
    """The photo's file, if the actor may see its ticket (else the ticket is not found)."""
    tickets.load_ticket(session, ticket_id, actor)
    row = session.scalar(
        select(TicketAttachment).where(
            TicketAttachment.id == attachment_id, TicketAttachment.ticket_id == ticket_id
        )
    )
    if row is None or not _path(row.sha256).exists():
        raise NotFound(f"no photo {attachment_id} on ticket {ticket_id}")
    return Photo(row.content_type, row.file_name, _path(row.sha256))
