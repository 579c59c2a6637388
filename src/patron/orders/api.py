"""Orders and refunds over HTTP: idempotent on (source, external_id)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import count
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import to_json
from starlette.concurrency import run_in_threadpool

from patron.core.actor import Actor
from patron.core.collector import fewer_collections
from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.core.settings import get_settings
from patron.orders import service
from patron.orders.exceptions import OrderNotFound
from patron.orders.schemas import (
    BulkResult,
    OrderIn,
    OrderRead,
    RefundIn,
    RefundRead,
)
from patron.web.bodies import json_body, served_by, validated
from patron.web.deps import Db, PathId
from patron.web.errors import validation_items
from patron.web.security import CurrentActor, actor_of, authorize

router = APIRouter(prefix="/api/v1", tags=["orders"])

_REPLAYED = {"Idempotent-Replayed": "true"}
_order_adapter: TypeAdapter[OrderIn] = TypeAdapter(OrderIn)
_orders_adapter: TypeAdapter[list[OrderIn]] = TypeAdapter(list[OrderIn])
_read_json: TypeAdapter[OrderRead] = TypeAdapter(OrderRead)


def post_order(order_in: OrderIn, request: Request) -> Response:
    """The tills' busiest call, answered with the order's JSON as FastAPI would write it.

    Returning the bytes skips FastAPI's check of the answer, which for a plain ``def``
    route is a second trip to the thread pool, and the actor and database are read off the
    request rather than through two more dependencies (``authorize`` has run first).
    """
    # (This docstring is the route's OpenAPI description. The request is read, checked and
    # validated by _post_order below; FastAPI reads this signature for the OpenAPI only.)
    actor = actor_of(request)
    db: Database = request.app.state.db
    store_ids = actor.store_ids
    # One statement straight through the driver, outside any transaction, reads the order
    # stored under the key: a repeat is answered from it and its lines, before any write
    # lock (on SQLite, BEGIN IMMEDIATE and the one writer's turn), with no session. A new
    # order's key, found free, is not looked up again in the write; an order posted in
    # between fails the key's unique constraint, and the retry looks it up
    # (docs/architecture.md, "Order intake over HTTP").
    result = db.plain_read(
        lambda reader: service.plain_stored_order(
            reader=reader, order_in=order_in, store_ids=store_ids
        )
    )
    if result is None:
        # A new order: written in a few driver statements without a session when it is of
        # the usual kind (intake.plain_record_order), else through record_order, as is
        # one whose plain write met a driver error (a key stored meanwhile, a lock).
        result = db.plain_write(
            lambda writer: service.plain_record_order(
                writer=writer, order_in=order_in, store_ids=store_ids
            )
        )
    if result is None:
        attempts = count()
        result = db.write(
            lambda s: service.record_order(
                session=s,
                order_in=order_in,
                store_ids=store_ids,
                actor=actor,
                absent=next(attempts) == 0,
            )
        )
    return Response(
        _read_json.dump_json(result.order, by_alias=True),
        status_code=201 if result.created else 200,
        headers=None if result.created else _REPLAYED,
        media_type="application/json",
    )


async def _post_order(request: Request) -> Response:
    """POST /api/v1/orders without FastAPI's generic request handling (web/bodies.py): the
    same answers, a third less of the framework's CPU per post. The write runs on the thread
    pool, as FastAPI runs a plain ``def`` route."""
    body = await json_body(request)
    await authorize(request)
    order_in = validated(_order_adapter, body)
    return await run_in_threadpool(post_order, order_in, request)


router.add_api_route(
    "/orders",
    post_order,
    methods=["POST"],
    response_model=OrderRead,
    status_code=201,
    responses={
        200: {
            "model": OrderRead,
            "description": "Posted before with the same content: the first result",
        },
        409: {"description": "Posted before under this key with other content"},
    },
    route_class_override=served_by(_post_order),
)


@router.post(
    "/orders/bulk",
    response_model=BulkResult,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["orders"],
                        "properties": {
                            "orders": {
                                "type": "array",
                                "maxItems": 1000,
                                "items": {"$ref": "#/components/schemas/OrderIn"},
                            }
                        },
                    }
                }
            },
        }
    },
)
async def post_orders_bulk(request: Request, actor: CurrentActor, db: Db) -> Response:
    """Up to 1,000 orders in one call, each reported on its own: one bad order stops no other."""
    body = await request.body()
    return await run_in_threadpool(_bulk, db, body, actor)


class _ValidBulk(BaseModel):
    """The usual bulk body, read and validated straight from its bytes: every order valid
    and nothing beside them. Any other body goes the way of each order on its own
    (:func:`_orders_of`), which answers it as it always did."""

    model_config = ConfigDict(extra="forbid")
    orders: list[OrderIn]


@lru_cache(maxsize=4)
def _valid_bulk(limit: int) -> type[_ValidBulk]:
    """:class:`_ValidBulk` of at most ``limit`` orders. pydantic checks the list's length
    before any order in it: a body of too many orders is refused unvalidated."""

    class _AtMost(_ValidBulk):
        orders: Annotated[list[OrderIn], Field(max_length=limit)]

    return _AtMost


def _bulk(db: Database, body: bytes, actor: Actor) -> Response:
    """Validate, store and report a batch, with the collector paced as for an import."""
    with fewer_collections():
        return _bulk_paced(db, body, actor)


def _bulk_paced(db: Database, body: bytes, actor: Actor) -> Response:
    limit = get_settings().bulk_max_orders
    try:  # the usual batch: one pass of pydantic over the bytes, no Python objects between
        valid: list[OrderIn] | None = _valid_bulk(limit).model_validate_json(body).orders
    except ValidationError as exc:
        for problem in exc.errors(include_url=False):
            if problem["type"] == "too_long" and problem["loc"] == ("orders",):
                _check_count(problem.get("ctx", {})["actual_length"], limit)
        valid = None
    if valid is not None:
        _check_count(len(valid), limit)
        results: list[dict[str, Any] | None] = [None] * len(valid)
        positions: Sequence[int] = range(len(valid))
    else:
        raw = _orders_of(body)
        _check_count(len(raw), limit)
        results = [None] * len(raw)
        try:  # every order valid after all (a key beside them): one call validates them all
            valid = _orders_adapter.validate_python(raw)
            positions = range(len(raw))
        except ValidationError:  # then each on its own, each reported with its own fields
            valid, positions = _each_validated(raw, results)
    if valid:
        orders_in = valid
        outcomes = db.write(
            lambda s: service.record_orders(
                session=s, orders_in=orders_in, store_ids=actor.store_ids, actor=actor
            )
        )
        for i, outcome in zip(positions, outcomes, strict=True):
            error = outcome.error
            results[i] = {
                "index": i,
                "status": outcome.status,
                "order_id": outcome.order_id,
                "errors": []
                if error is None
                else [{"field": error.field, "message": error.message}],
            }
    counts = dict.fromkeys(("created", "duplicate", "conflict", "invalid"), 0)
    for result in results:
        assert result is not None
        counts[result["status"]] += 1
    # BulkResult's JSON, as FastAPI wrote it from the model (the same serialiser, pydantic's),
    # without a model per order made and then checked again on the way out.
    answer = {
        "created": counts["created"],
        "duplicates": counts["duplicate"],
        "conflicts": counts["conflict"],
        "invalid": counts["invalid"],
        "results": results,
    }
    return Response(to_json(answer), media_type="application/json")


def _orders_of(body: bytes) -> list[Any]:
    """The list of orders under ``orders`` in a JSON body, or the 422 saying what is wrong."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidInput("body", "not valid JSON") from None
    raw = parsed.get("orders") if isinstance(parsed, dict) else None
    if not isinstance(raw, list):
        raise InvalidInput("orders", "give a list of orders under 'orders'")
    return raw


def _check_count(count: int, limit: int) -> None:
    """A call of more orders than ``PATRON_BULK_MAX_ORDERS`` is refused whole, before any
    order in it is validated."""
    if count > limit:
        raise InvalidInput(
            "orders",
            f"at most {limit} orders per call, got {count}",
            message_code="too_many_orders_per_call",
            limit=limit,
            count=count,
        )


def _each_validated(
    raw: list[Any], results: list[dict[str, Any] | None]
) -> tuple[list[OrderIn], list[int]]:
    """The valid orders of ``raw`` and their positions; each invalid one's result is set."""
    valid: list[OrderIn] = []
    positions: list[int] = []
    for i, item in enumerate(raw):
        try:
            valid.append(_order_adapter.validate_python(item))
            positions.append(i)
        except ValidationError as exc:
            errors = [
                {"field": e["field"], "message": e["msg"]} for e in validation_items(exc.errors())
            ]
            results[i] = {"index": i, "status": "invalid", "order_id": None, "errors": errors}
    return valid, positions


@router.get("/orders", response_model=OrderRead)
def get_order_by_key(
    db: Db,
    actor: CurrentActor,
    source: Annotated[str, Query(min_length=1, max_length=64)],
    external_id: Annotated[str, Query(min_length=1, max_length=128)],
) -> OrderRead:
    """The order stored under a key, as a till checks after a time-out."""

    order = db.read(
        lambda s: service.get_order_by_key(
            session=s, source=source, external_id=external_id, store_ids=actor.store_ids
        )
    )
    if order is None:
        raise OrderNotFound(f"no order {external_id!r} from {source!r}")
    return order


@router.get("/orders/{order_id}", response_model=OrderRead)
def get_order(order_id: PathId, actor: CurrentActor, db: Db) -> OrderRead:
    return db.read(
        lambda s: service.get_order_or_raise(
            session=s, order_id=order_id, store_ids=actor.store_ids
        )
    )


@router.post(
    "/refunds",
    response_model=RefundRead,
    status_code=201,
    responses={200: {"model": RefundRead, "description": "Posted before: the first result"}},
)
def post_refund(refund_in: RefundIn, response: Response, actor: CurrentActor, db: Db) -> RefundRead:
    result = db.write(
        lambda s: service.record_refund(session=s, refund_in=refund_in, store_ids=actor.store_ids)
    )
    if not result.created:
        response.status_code = 200
        response.headers.update(_REPLAYED)
    return result.refund
