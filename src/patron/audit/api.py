"""The audit log over HTTP, for the privacy officer and for review."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from patron.audit import service
from patron.audit.schemas import AuditPage
from patron.core.schemas import UtcInstant
from patron.web.deps import Db

router = APIRouter(prefix="/api/v1", tags=["audit"])


@router.get("/audit", response_model=AuditPage)
def list_audit(
    db: Db,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor_name: Annotated[str | None, Query(max_length=120)] = None,
    target_kind: Annotated[str | None, Query(max_length=32)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    since: UtcInstant | None = None,
    until: UtcInstant | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> AuditPage:
    return db.read(
        lambda s: service.list_audit(
            session=s,
            action=action,
            actor_name=actor_name,
            target_kind=target_kind,
            target_id=target_id,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
        )
    )
