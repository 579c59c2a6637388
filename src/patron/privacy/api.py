"""Privacy over HTTP, for the privacy officer: requests, access exports, the processing
register, retention policies and runs, reveals per staff member."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from patron.core.schemas import MAX_ID, UtcInstant
from patron.customers.correction import list_corrections
from patron.customers.schemas import IdentityCorrectionIn, IdentityCorrectionRead
from patron.privacy import corrections, erasure, export, register, requests, retention
from patron.privacy.schemas import (
    ActivityIn,
    ActivityRead,
    ErasureIn,
    ErasureRead,
    ExportIn,
    HoldIn,
    HoldRead,
    PolicyIn,
    PolicyRead,
    PrivacyRequestChange,
    PrivacyRequestCreate,
    PrivacyRequestRead,
)
from patron.web.deps import Db, PathId
from patron.web.security import CurrentActor

router = APIRouter(prefix="/api/v1/privacy", tags=["privacy"])

ZIP = "application/zip"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.post("/requests", response_model=PrivacyRequestRead, status_code=201)
def create_request(
    request_in: PrivacyRequestCreate, actor: CurrentActor, db: Db
) -> PrivacyRequestRead:
    """Record a request; ``due_on`` is 15 working days after receipt unless given."""
    return db.write(
        lambda s: requests.record_request(session=s, request_in=request_in, actor=actor)
    )


@router.get("/requests", response_model=list[PrivacyRequestRead])
def list_requests(
    db: Db,
    status: Annotated[str | None, Query(pattern="^(new|in_progress|done|refused)$")] = None,
    open_only: Annotated[bool, Query(alias="open")] = False,
    customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[PrivacyRequestRead]:
    """Soonest due first."""
    return db.read(
        lambda s: requests.list_requests(
            session=s, status=status, open_only=open_only, customer_id=customer_id
        )
    )


@router.get("/requests/{request_id}", response_model=PrivacyRequestRead)
def get_request(request_id: PathId, db: Db) -> PrivacyRequestRead:
    return db.read(lambda s: requests.get_request_or_raise(session=s, request_id=request_id))


@router.post("/requests/{request_id}/change", response_model=PrivacyRequestRead)
def change_request(
    request_id: PathId, change: PrivacyRequestChange, actor: CurrentActor, db: Db
) -> PrivacyRequestRead:
    """``start``, ``done`` or ``refuse`` (the last two with the outcome)."""
    return db.write(
        lambda s: requests.change_request(
            session=s, request_id=request_id, change=change, actor=actor
        )
    )


@router.post("/requests/{request_id}/erase", response_model=ErasureRead)
def erase(request_id: PathId, erasure_in: ErasureIn, actor: CurrentActor, db: Db) -> ErasureRead:
    """Answer an erasure request: 409 with every reason while a hold stands; otherwise the
    person's data key is destroyed, the profile anonymised and the request closed as done."""
    return erasure.erase_and_roll(
        db=db, request_id=request_id, actor=actor, outcome=erasure_in.outcome
    )


@router.post(
    "/requests/{request_id}/correct", response_model=IdentityCorrectionRead, status_code=201
)
def correct(
    request_id: PathId, correction_in: IdentityCorrectionIn, actor: CurrentActor, db: Db
) -> IdentityCorrectionRead:
    """Correct a phone, e-mail or member card for a correction request, with history; a
    value that belongs to another customer is refused (409), naming them."""
    return db.write(
        lambda s: corrections.correct_for_request(
            session=s, request_id=request_id, correction_in=correction_in, actor=actor
        )
    )


@router.get("/customers/{customer_id}/corrections", response_model=list[IdentityCorrectionRead])
def corrections_of(customer_id: PathId, db: Db) -> list[IdentityCorrectionRead]:
    """The customer's identifier corrections, newest first, old values masked."""
    return db.read(lambda s: list_corrections(session=s, customer_id=customer_id))


@router.get("/customers/{customer_id}/holds", response_model=list[HoldRead])
def list_holds(customer_id: PathId, db: Db) -> list[HoldRead]:
    """What would block erasing the person now: legal holds and open tickets."""
    return db.read(lambda s: erasure.erasure_holds(session=s, customer_id=customer_id))


@router.post("/customers/{customer_id}/holds", response_model=HoldRead, status_code=201)
def place_hold(customer_id: PathId, hold_in: HoldIn, actor: CurrentActor, db: Db) -> HoldRead:
    return db.write(
        lambda s: erasure.place_hold(
            session=s, customer_id=customer_id, hold_in=hold_in, actor=actor
        )
    )


@router.post("/holds/{hold_id}/lift", response_model=HoldRead)
def lift_hold(hold_id: PathId, actor: CurrentActor, db: Db) -> HoldRead:
    return db.write(lambda s: erasure.lift_hold(session=s, hold_id=hold_id, actor=actor))


@router.post("/customers/{customer_id}/export", response_class=Response)
def export_customer(
    customer_id: PathId, export_in: ExportIn, actor: CurrentActor, db: Db
) -> Response:
    """Everything held about the person: a zip of JSON and XLSX with a readme; audited."""
    data = db.write(
        lambda s: export.export_customer(
            session=s,
            customer_id=customer_id,
            reason=export_in.reason,
            actor=actor,
            request_id=export_in.request_id,
        )
    )
    return download(data, ZIP, f"customer-{customer_id}.zip")


def download(data: bytes, media_type: str, name: str) -> Response:
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/register", response_model=list[ActivityRead])
def list_register(db: Db) -> list[ActivityRead]:
    return db.read(lambda s: register.list_activities(session=s))


@router.post("/register", response_model=ActivityRead, status_code=201)
def add_register_entry(activity_in: ActivityIn, actor: CurrentActor, db: Db) -> ActivityRead:
    return db.write(
        lambda s: register.save_activity(session=s, activity_in=activity_in, actor=actor)
    )


@router.put("/register/{activity_id}", response_model=ActivityRead)
def change_register_entry(
    activity_id: PathId, activity_in: ActivityIn, actor: CurrentActor, db: Db
) -> ActivityRead:
    return db.write(
        lambda s: register.save_activity(
            session=s, activity_in=activity_in, actor=actor, activity_id=activity_id
        )
    )


@router.get("/retention", response_model=list[PolicyRead])
def list_policies(db: Db) -> list[PolicyRead]:
    return db.read(lambda s: retention.list_policies(session=s))


@router.put("/retention", response_model=PolicyRead)
def set_policy(policy_in: PolicyIn, actor: CurrentActor, db: Db) -> PolicyRead:
    return db.write(lambda s: retention.set_policy(session=s, policy_in=policy_in, actor=actor))


@router.post("/retention/run")
def run_retention(
    actor: CurrentActor, db: Db, dry_run: Annotated[bool, Query()] = True
) -> dict[str, object]:
    """The policies in force: counted (``dry_run``, the default) or carried out."""
    outcome = retention.run_retention(db=db, actor=actor, dry_run=dry_run)
    return {"dry_run": outcome.dry_run, "counts": outcome.counts, "cutoffs": outcome.cutoffs}


@router.get("/reveals")
def reveals_by_staff(
    db: Db, since: UtcInstant | None = None, until: UtcInstant | None = None
) -> list[dict[str, object]]:
    """Reveals and exports of personal data per staff member or API key."""
    rows = db.read(lambda s: register.reveals_by_staff(session=s, since=since, until=until))
    return [{**r.__dict__, "total": r.total} for r in rows]
