"""Events over HTTP: a web shop's or mini-program's batches of behaviour events, the
stream read after a cursor, and webhook subscriptions with their deliveries
(docs/events.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import ValidationError
from sqlalchemy.orm import Session

from patron.core.actor import Actor
from patron.core.errors import InvalidInput
from patron.core.schemas import MAX_ID
from patron.customers import service as customers
from patron.customers.schemas import CustomerRef
from patron.events import service, webhooks
from patron.events.schemas import (
    AttemptRead,
    CustomerIdentifiersIn,
    DeliveryRead,
    EventBatchIn,
    EventBatchResult,
    EventRead,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionRead,
)
from patron.web.deps import Db, PathId
from patron.web.security import CurrentActor

router = APIRouter(tags=["events"])


def _resolver(actor: Actor) -> service.Resolve:
    """Customers' identity resolution, as orders use it, for visitors who signed in."""

    def resolve(
        session: Session,
        wanted: Sequence[tuple[int, CustomerIdentifiersIn, datetime, int | None]],
    ) -> dict[int, int]:
        refs: list[CustomerRef | None] = []
        contexts: list[customers.ResolveContext] = []
        for index, identifiers, at, store_id in wanted:
            try:
                refs.append(CustomerRef.model_validate(identifiers.model_dump()))
            except ValidationError as exc:
                error = exc.errors()[0]
                where = ".".join(str(part) for part in error["loc"])
                raise InvalidInput(f"events.{index}.customer.{where}", error["msg"]) from None
            contexts.append(
                customers.ResolveContext(
                    source="events", label="behaviour event", at=at, store_id=store_id
                )
            )
        resolution = customers.resolve_customers(
            session=session,
            refs=refs,
            contexts=contexts,
            field_prefix="customer",
            actor=actor,
            store_ids=actor.store_ids,
        )
        return {
            index: cid
            for (index, *_), cid in zip(wanted, resolution.customer_ids, strict=True)
            if cid is not None
        }

    return resolve


@router.post("/api/v1/events", response_model=EventBatchResult)
def post_events(batch: EventBatchIn, actor: CurrentActor, db: Db) -> EventBatchResult:
    """Up to 1,000 behaviour events; an event id already taken in is counted as a duplicate."""
    resolve = _resolver(actor)
    return db.write(
        lambda s: service.record_behaviour_events(
            session=s, events_in=batch.events, resolve=resolve, store_ids=actor.store_ids
        )
    )


@router.get("/api/v1/events", response_model=list[EventRead])
def get_events(
    db: Db,
    type: Annotated[str | None, Query(max_length=64)] = None,
    customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[EventRead]:
    return db.read(
        lambda s: service.list_events(
            session=s, type=type, customer_id=customer_id, before_id=before_id, limit=limit
        )
    )


# ------------------------------------------------------------------------------ webhooks


@router.get("/api/v1/webhooks", response_model=list[SubscriptionRead])
def get_subscriptions(db: Db) -> list[SubscriptionRead]:
    return db.read(lambda s: webhooks.list_subscriptions(session=s))


@router.post("/api/v1/webhooks", response_model=SubscriptionCreated, status_code=201)
def create_subscription(
    subscription_in: SubscriptionIn, actor: CurrentActor, db: Db
) -> SubscriptionCreated:
    return db.write(
        lambda s: webhooks.create_subscription(
            session=s, subscription_in=subscription_in, actor=actor
        )
    )


@router.post("/api/v1/webhooks/{subscription_id}/pause", response_model=SubscriptionRead)
def pause_subscription(subscription_id: PathId, actor: CurrentActor, db: Db) -> SubscriptionRead:
    return db.write(
        lambda s: webhooks.set_subscription_status(
            session=s, subscription_id=subscription_id, active=False, actor=actor
        )
    )


@router.post("/api/v1/webhooks/{subscription_id}/resume", response_model=SubscriptionRead)
def resume_subscription(subscription_id: PathId, actor: CurrentActor, db: Db) -> SubscriptionRead:
    return db.write(
        lambda s: webhooks.set_subscription_status(
            session=s, subscription_id=subscription_id, active=True, actor=actor
        )
    )


@router.post("/api/v1/webhooks/{subscription_id}/rotate", response_model=SubscriptionCreated)
def rotate_secret(subscription_id: PathId, actor: CurrentActor, db: Db) -> SubscriptionCreated:
    return db.write(
        lambda s: webhooks.rotate_secret(session=s, subscription_id=subscription_id, actor=actor)
    )


@router.get("/api/v1/webhooks/{subscription_id}/deliveries", response_model=list[DeliveryRead])
def get_deliveries(
    subscription_id: PathId,
    db: Db,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> list[DeliveryRead]:
    return db.read(
        lambda s: webhooks.list_deliveries(
            session=s, subscription_id=subscription_id, status=status
        )
    )


@router.get("/api/v1/webhooks/deliveries/{delivery_id}/attempts", response_model=list[AttemptRead])
def get_attempts(delivery_id: PathId, db: Db) -> list[AttemptRead]:
    return db.read(lambda s: webhooks.list_attempts(session=s, delivery_id=delivery_id))


@router.post("/api/v1/webhooks/deliveries/{delivery_id}/redeliver", response_model=DeliveryRead)
def redeliver(delivery_id: PathId, actor: CurrentActor, db: Db) -> DeliveryRead:
    return db.write(lambda s: webhooks.redeliver(session=s, delivery_id=delivery_id, actor=actor))
