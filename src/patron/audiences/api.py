"""Audiences over HTTP: saved segments, a live count for a definition being edited, the
members as CSV. A store-bound role counts and exports only its stores' customers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from patron.audiences import export, facts, service
from patron.audiences.schemas import (
    AudienceCount,
    AudienceCreate,
    AudienceRead,
    AudienceUpdate,
    Definition,
)
from patron.web.deps import Db, PathId
from patron.web.security import CurrentActor

router = APIRouter(prefix="/api/v1", tags=["audiences"])


class CountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    definition: Definition = Field(default_factory=Definition)


class RefreshRead(BaseModel):
    customers: int
    tags: int
    field_values: int
    seconds: float


@router.get("/audiences", response_model=list[AudienceRead])
def list_audiences(db: Db) -> list[AudienceRead]:
    return db.read(lambda s: service.list_audiences(session=s))


@router.post("/audiences", response_model=AudienceRead, status_code=201)
def create_audience(audience_in: AudienceCreate, db: Db, actor: CurrentActor) -> AudienceRead:
    return db.write(
        lambda s: service.create_audience(session=s, audience_in=audience_in, actor=actor)
    )


@router.post("/audiences/count", response_model=AudienceCount)
def count_definition(count_in: CountIn, db: Db, actor: CurrentActor) -> AudienceCount:
    """How many customers a definition selects now (the builder's live count), unsaved."""
    return db.read(
        lambda s: service.count_definition(
            session=s, definition=count_in.definition, store_ids=actor.store_ids
        )
    )


@router.post("/audiences/refresh", response_model=RefreshRead)
def refresh(db: Db) -> RefreshRead:
    """Bring the analytics store's extract and audience facts up to date now."""
    result = facts.refresh_audience_store(db=db)
    return RefreshRead(
        customers=result.customers,
        tags=result.tags,
        field_values=result.field_values,
        seconds=round(result.seconds, 3),
    )


@router.get("/audiences/{audience_id}", response_model=AudienceRead)
def get_audience(audience_id: PathId, db: Db) -> AudienceRead:
    return db.read(lambda s: service.get_audience_or_raise(session=s, audience_id=audience_id))


@router.patch("/audiences/{audience_id}", response_model=AudienceRead)
def update_audience(
    audience_id: PathId, audience_in: AudienceUpdate, db: Db, actor: CurrentActor
) -> AudienceRead:
    return db.write(
        lambda s: service.update_audience(
            session=s, audience_id=audience_id, audience_in=audience_in, actor=actor
        )
    )


@router.delete("/audiences/{audience_id}", status_code=204)
def delete_audience(audience_id: PathId, db: Db, actor: CurrentActor) -> Response:
    db.write(lambda s: service.delete_audience(session=s, audience_id=audience_id, actor=actor))
    return Response(status_code=204)


@router.get("/audiences/{audience_id}/count", response_model=AudienceCount)
def count_audience(audience_id: PathId, db: Db, actor: CurrentActor) -> AudienceCount:
    return db.read(
        lambda s: service.count_definition(
            session=s,
            definition=service.get_audience_or_raise(session=s, audience_id=audience_id).definition,
            store_ids=actor.store_ids,
        )
    )


@router.get(
    "/audiences/{audience_id}/export",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The members as CSV"}},
)
def export_members(
    audience_id: PathId,
    db: Db,
    actor: CurrentActor,
    reveal: Annotated[bool, Query(description="Unmasked (needs customers.reveal)")] = False,
    reason: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """The members as CSV (masked unless revealed with a reason); audited."""
    text = db.write(
        lambda s: export.export_members_csv(
            session=s, audience_id=audience_id, actor=actor, reveal=reveal, reason=reason
        )
    )
    return Response(
        content=("\ufeff" + text).encode("utf-8"),  # a BOM: Excel then reads the Chinese
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="audience-{audience_id}.csv"'},
    )
