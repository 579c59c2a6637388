"""Churn risk over HTTP: the at-risk list (masked, in the caller's stores), the model report,
and a customer's risk history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from patron.analytics.churn import service
from patron.analytics.churn.schemas import AtRiskPage, ChurnModelReportRead, CustomerRiskRead
from patron.core.schemas import MAX_ID
from patron.customers.masking import mask_customer
from patron.web.deps import Db, PathId
from patron.web.security import CurrentActor

router = APIRouter(prefix="/api/v1", tags=["analytics"])
RunId = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="Default: the latest run with churn risk")
]


@router.get("/analytics/risk", response_model=AtRiskPage)
def at_risk_list(
    db: Db,
    actor: CurrentActor,
    run_id: RunId = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = 50,
) -> AtRiskPage:
    """Customers who crossed into high risk in a run, most value at stake first, with their
    reasons and suggested actions in Chinese and English; customers masked."""
    found = db.read(
        lambda s: service.at_risk_list(
            session=s, run_id=run_id, page=page, page_size=page_size, store_ids=actor.store_ids
        )
    )
    items = [i.model_copy(update={"customer": mask_customer(i.customer)}) for i in found.items]
    return found.model_copy(update={"items": items})


@router.get("/analytics/risk/report", response_model=ChurnModelReportRead)
def model_report(db: Db, actor: CurrentActor, run_id: RunId = None) -> ChurnModelReportRead:
    """The churn model report of a run: mode, fit, holdout AUC and Brier next to P(alive)
    alone, and the calibration table (every store's customers: refused to a store-bound
    role)."""
    return db.read(
        lambda s: service.get_model_report(session=s, run_id=run_id, store_ids=actor.store_ids)
    )


@router.get("/customers/{customer_id}/risk", response_model=list[CustomerRiskRead])
def customer_risk(customer_id: PathId, actor: CurrentActor, db: Db) -> list[CustomerRiskRead]:
    """The customer's churn risk, CLV and reasons from every run that scored them, newest
    first."""
    return db.read(
        lambda s: service.risk_for_customer(
            session=s, customer_id=customer_id, store_ids=actor.store_ids
        )
    )
