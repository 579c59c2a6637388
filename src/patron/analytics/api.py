"""Analytics over HTTP: runs, segment and stage summaries, scored customers, cohorts, KPIs,
segment migration, and a customer's score history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from patron.analytics import service, serving
from patron.analytics.engine import KpiDimension
from patron.analytics.schemas import (
    AnalyticsRunCreate,
    AnalyticsRunRead,
    BoughtTogetherRead,
    CustomerRecommendations,
    CustomerScoreRead,
    ResultRows,
    RunSummary,
    ScoredCustomerPage,
)
from patron.core.schemas import MAX_ID
from patron.customers.masking import mask_customer
from patron.web.deps import Db, PathId
from patron.web.security import CurrentActor

router = APIRouter(prefix="/api/v1", tags=["analytics"])
RunId = Annotated[int | None, Query(ge=1, le=MAX_ID, description="Default: the latest run")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/analytics/runs", response_model=list[AnalyticsRunRead])
def list_runs(
    db: Db,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[AnalyticsRunRead]:
    return db.read(lambda s: service.list_runs(session=s, limit=limit, offset=offset))


@router.post("/analytics/runs", response_model=AnalyticsRunRead, status_code=201)
def start_run(run_in: AnalyticsRunCreate, db: Db) -> AnalyticsRunRead:
    """Run the pipeline now and answer when it has finished (409 if a run is going)."""
    return service.run_analytics(
        db=db, as_of=run_in.as_of, engine=run_in.engine, full=run_in.full, trigger="api"
    )


@router.get("/analytics/runs/{run_id}", response_model=AnalyticsRunRead)
def get_run(run_id: PathId, db: Db) -> AnalyticsRunRead:
    return db.read(lambda s: service.get_run_or_raise(session=s, run_id=run_id))


@router.get("/analytics/segments", response_model=RunSummary)
def segment_summary(db: Db, actor: CurrentActor, run_id: RunId = None) -> RunSummary:
    """Customers and their spend in the RFM window per value segment."""
    return db.read(
        lambda s: service.segment_summary(session=s, run_id=run_id, store_ids=actor.store_ids)
    )


@router.get("/analytics/stages", response_model=RunSummary)
def stage_summary(db: Db, actor: CurrentActor, run_id: RunId = None) -> RunSummary:
    """Customers and their spend in the RFM window per lifecycle stage."""
    return db.read(
        lambda s: service.stage_summary(session=s, run_id=run_id, store_ids=actor.store_ids)
    )


@router.get("/analytics/customers", response_model=ScoredCustomerPage)
def list_customers(
    db: Db,
    actor: CurrentActor,
    segment: Annotated[str | None, Query(max_length=32)] = None,
    stage: Annotated[str | None, Query(max_length=16)] = None,
    run_id: RunId = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> ScoredCustomerPage:
    """Customers of one value segment or lifecycle stage, with their scores, masked."""
    page = db.read(
        lambda s: service.list_customers_by(
            session=s,
            segment=segment,
            stage=stage,
            run_id=run_id,
            limit=limit,
            cursor=cursor,
            store_ids=actor.store_ids,
        )
    )
    items = [i.model_copy(update={"customer": mask_customer(i.customer)}) for i in page.items]
    return page.model_copy(update={"items": items})


@router.get(
    "/analytics/customers/export",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "An Excel workbook"}},
)
def export_customers(
    db: Db,
    actor: CurrentActor,
    segment: Annotated[str | None, Query(max_length=32)] = None,
    stage: Annotated[str | None, Query(max_length=16)] = None,
    run_id: RunId = None,
    max_rows: Annotated[int, Query(ge=1, le=service.EXPORT_MAX_ROWS)] = 10_000,
    lang: Annotated[
        service.ExportLanguage,
        Query(description="Headers, segment and stage names in Chinese (zh) or English (en)"),
    ] = "zh",
) -> Response:
    """The same list as an Excel workbook (masked; spend in the shop's currency); the export goes in the
    audit log."""
    content = db.write(
        lambda s: service.export_customers_by(
            session=s,
            actor=actor,
            segment=segment,
            stage=stage,
            run_id=run_id,
            max_rows=max_rows,
            store_ids=actor.store_ids,
            language=lang,
        )
    )
    name = f"customers-{segment or stage}.xlsx"
    return Response(
        content=content,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/analytics/cohorts", response_model=ResultRows)
def cohorts(db: Db, actor: CurrentActor, run_id: RunId = None) -> ResultRows:
    """Monthly first-purchase cohorts: size, retention and revenue by month since (every
    store's customers: refused to a store-bound role)."""
    return db.read(
        lambda s: service.read_cohorts(session=s, run_id=run_id, store_ids=actor.store_ids)
    )


@router.get("/analytics/kpis", response_model=ResultRows)
def kpis(
    db: Db,
    actor: CurrentActor,
    by: KpiDimension = "day",
    run_id: RunId = None,
) -> ResultRows:
    """Sales KPIs over the run's KPI period, by day, store, channel or category, or by what
    an import said of each order: country, province, city, payment method, cashier. A
    store-bound role gets its own stores' rows by store, and no other."""
    return db.read(
        lambda s: service.read_kpis(session=s, by=by, run_id=run_id, store_ids=actor.store_ids)
    )


@router.get("/analytics/migration", response_model=ResultRows)
def migration(db: Db, actor: CurrentActor, run_id: RunId = None) -> ResultRows:
    """How many customers moved from each value segment to each other since last month
    (every store's customers: refused to a store-bound role)."""
    return db.read(
        lambda s: service.read_migration(session=s, run_id=run_id, store_ids=actor.store_ids)
    )


@router.get("/customers/{customer_id}/scores", response_model=list[CustomerScoreRead])
def customer_scores(customer_id: PathId, actor: CurrentActor, db: Db) -> list[CustomerScoreRead]:
    """The customer's scores from every run, newest first."""
    return db.read(
        lambda s: service.scores_for_customer(
            session=s, customer_id=customer_id, store_ids=actor.store_ids
        )
    )


@router.get("/customers/{customer_id}/recommendations", response_model=CustomerRecommendations)
def customer_recommendations(
    customer_id: PathId,
    actor: CurrentActor,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=serving.MAX_ITEMS)] = 10,
) -> CustomerRecommendations:
    """The member's next-basket list from the latest nightly run: each item's score, its
    reason (due, repeat, similar, rule, popular) and its product name; a customer of other
    stores is refused to a store-bound role as every customer read refuses it."""
    return db.read(
        lambda s: serving.customer_recommendations(
            session=s, customer_id=customer_id, store_ids=actor.store_ids, limit=limit
        )
    )


@router.get("/products/{sku}/bought-together", response_model=BoughtTogetherRead)
def bought_together(
    sku: Annotated[str, Path(min_length=1, max_length=64)],
    actor: CurrentActor,
    db: Db,
    store: Annotated[
        str | None,
        Query(max_length=32, description="A store's code; default the chain (or your store)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=serving.MAX_ITEMS)] = 10,
) -> BoughtTogetherRead:
    """What is bought with the product: the latest nightly run's rules {sku} ⇒ {y} with
    support, confidence and lift, in one store's baskets or the chain's. A store-bound role
    reads its own store's rules only."""
    return db.read(
        lambda s: serving.product_bought_together(
            session=s, sku=sku, store_code=store, store_ids=actor.store_ids, limit=limit
        )
    )
