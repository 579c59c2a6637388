"""Staff users, API keys and one's own account over HTTP."""

from __future__ import annotations

from fastapi import APIRouter

from patron.staff import service
from patron.staff.roles import Role
from patron.staff.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    MeRead,
    PasswordChange,
    StaffCreate,
    StaffRead,
    StaffUpdate,
)
from patron.web.deps import Db, PathId
from patron.web.security import CurrentActor

router = APIRouter(prefix="/api/v1", tags=["staff"])


@router.get("/me", response_model=MeRead)
def me(actor: CurrentActor) -> MeRead:
    """Who this session or key is, and what it may do."""
    return MeRead(
        kind=actor.kind,
        id=actor.id,
        name=actor.name,
        role=Role(actor.role) if actor.role else None,
        permissions=sorted(actor.permissions),
        store_ids=sorted(actor.store_ids) if actor.store_ids is not None else None,
    )


@router.post("/me/password", status_code=204)
def change_password(change_in: PasswordChange, actor: CurrentActor, db: Db) -> None:
    db.write(
        lambda s: service.change_password(
            session=s,
            actor=actor,
            current_password=change_in.current_password.get_secret_value(),
            new_password=change_in.new_password.get_secret_value(),
        )
    )


@router.get("/staff", response_model=list[StaffRead])
def list_staff(db: Db) -> list[StaffRead]:
    return db.read(lambda s: service.list_staff(session=s))


@router.post("/staff", response_model=StaffRead, status_code=201)
def create_staff(staff_in: StaffCreate, actor: CurrentActor, db: Db) -> StaffRead:
    return db.write(lambda s: service.create_staff(session=s, staff_in=staff_in, actor=actor))


@router.get("/staff/{staff_id}", response_model=StaffRead)
def get_staff(staff_id: PathId, db: Db) -> StaffRead:
    return db.read(lambda s: service.get_staff_or_raise(session=s, staff_id=staff_id))


@router.patch("/staff/{staff_id}", response_model=StaffRead)
def update_staff(staff_id: PathId, staff_in: StaffUpdate, actor: CurrentActor, db: Db) -> StaffRead:
    return db.write(
        lambda s: service.update_staff(session=s, staff_id=staff_id, staff_in=staff_in, actor=actor)
    )


@router.get("/api-keys", response_model=list[ApiKeyRead])
def list_api_keys(db: Db) -> list[ApiKeyRead]:
    return db.read(lambda s: service.list_api_keys(session=s))


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201)
def create_api_key(key_in: ApiKeyCreate, actor: CurrentActor, db: Db) -> ApiKeyCreated:
    """A new key for an integration; the key is in this answer only, keep it safe."""
    return db.write(lambda s: service.create_api_key(session=s, key_in=key_in, actor=actor))


@router.post("/api-keys/{api_key_id}/revoke", response_model=ApiKeyRead)
def revoke_api_key(api_key_id: PathId, actor: CurrentActor, db: Db) -> ApiKeyRead:
    return db.write(lambda s: service.revoke_api_key(session=s, api_key_id=api_key_id, actor=actor))
