"""Customers over HTTP: sign-up, profile, look-up, lists, tags, interactions, merges."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from patron.core.actor import Actor
from patron.core.errors import InvalidInput
from patron.core.schemas import Page, UtcInstant
from patron.customers import fields, service
from patron.customers.exceptions import CustomerNotFound
from patron.customers.masking import mask_customer
from patron.customers.models import Gender
from patron.customers.schemas import (
    CustomerCreate,
    CustomerFilter,
    CustomerPage,
    CustomerRead,
    CustomerUpdate,
    CustomFieldCreate,
    CustomFieldRead,
    CustomFieldValue,
    CustomFieldValuesIn,
    InteractionCreate,
    InteractionRead,
    MergeRead,
    MergeRequest,
    MergeSuggestionPage,
    MergeSuggestionRead,
    RevealRequest,
    SuggestionDecision,
    TagIn,
)
from patron.orders import service as orders
from patron.orders.schemas import OrderRead
from patron.web.deps import Db, PathId
from patron.web.security import CurrentActor, check_lookup_rate

router = APIRouter(prefix="/api/v1", tags=["customers"])


@router.post(
    "/customers",
    response_model=CustomerRead,
    status_code=201,
    responses={
        200: {"model": CustomerRead, "description": "An identifier was known: that profile"}
    },
)
def register_customer(
    customer_in: CustomerCreate,
    response: Response,
    actor: CurrentActor,
    db: Db,
    source: Annotated[str, Query(max_length=64)] = "api",
) -> CustomerRead:
    result = db.write(
        lambda s: service.register_customer(
            session=s, customer_in=customer_in, source=source, actor=actor
        )
    )
    if not result.created:
        response.status_code = 200
    return mask_customer(result.customer)


# The filters the list offers; any other query parameter is refused, never ignored (an
# ignored filter returns everyone, which reads as an answer).
LIST_FILTERS = frozenset(
    {
        "q",
        "city",
        "gender",
        "home_store_code",
        "tag",
        "signup_channel",
        "signed_up_from",
        "signed_up_to",
        "status",
        "limit",
        "cursor",
    }
)


@router.get("/customers", response_model=CustomerPage)
def list_customers(
    request: Request,
    db: Db,
    actor: CurrentActor,
    q: Annotated[
        str | None,
        Query(max_length=120, description="Full name, exactly (names are encrypted at rest)"),
    ] = None,
    city: Annotated[str | None, Query(max_length=60)] = None,
    gender: Gender | None = None,
    home_store_code: Annotated[str | None, Query(max_length=32)] = None,
    tag: Annotated[str | None, Query(max_length=60)] = None,
    signup_channel: Annotated[str | None, Query(max_length=32)] = None,
    signed_up_from: UtcInstant | None = None,
    signed_up_to: UtcInstant | None = None,
    status: Annotated[str | None, Query(pattern="^(active|merged)$")] = "active",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> CustomerPage:
    unknown = sorted(set(request.query_params) - LIST_FILTERS)
    if unknown:
        raise InvalidInput(
            unknown[0],
            f"not a filter of this list (filters: {', '.join(sorted(LIST_FILTERS))})",
            message_code="unknown_filter",
        )
    filters = CustomerFilter(
        q=q,
        city=city,
        gender=gender,
        home_store_code=home_store_code,
        tag=tag,
        signup_channel=signup_channel,
        signed_up_from=signed_up_from,
        signed_up_to=signed_up_to,
        status=status,
    )
    page = db.read(
        lambda s: service.list_customers(
            session=s, filters=filters, limit=limit, cursor=cursor, store_ids=actor.store_ids
        )
    )
    return page.model_copy(update={"items": [mask_customer(c) for c in page.items]})


@router.get("/customers/lookup", response_model=CustomerRead)
def lookup_customer(
    db: Db,
    actor: CurrentActor,
    phone: Annotated[str | None, Query(max_length=40)] = None,
    member_card: Annotated[str | None, Query(max_length=128)] = None,
    email: Annotated[str | None, Query(max_length=254)] = None,
    wechat_unionid: Annotated[str | None, Query(max_length=128)] = None,
    wechat_openid: Annotated[str | None, Query(max_length=128)] = None,
    external_account: Annotated[str | None, Query(max_length=128)] = None,
    namespace: Annotated[
        str, Query(max_length=64, description="WeChat app id or shop system")
    ] = "",
) -> CustomerRead:
    given = {
        k: v
        for k, v in {
            "phone": phone,
            "member_card": member_card,
            "email": email,
            "wechat_unionid": wechat_unionid,
            "wechat_openid": wechat_openid,
            "external_account": external_account,
        }.items()
        if v
    }
    if len(given) != 1:
        raise InvalidInput(
            "query",
            "give exactly one of phone, member_card, email, wechat_unionid, "
            "wechat_openid, external_account",
        )
    ((kind, value),) = given.items()
    check_lookup_rate(actor)
    # Another store's customer is answered exactly like nobody (404).
    customer = db.read(
        lambda s: service.lookup_customer(
            session=s, kind=kind, value=value, namespace=namespace, store_ids=actor.store_ids
        )
    )
    if customer is None:
        raise CustomerNotFound(f"no customer with that {kind}")
    return mask_customer(customer)


def _in_scope(s: Session, actor: Actor, customer_id: int) -> None:
    service.check_customer_in_scope(session=s, customer_id=customer_id, store_ids=actor.store_ids)


@router.get("/customers/{customer_id}", response_model=CustomerRead)
def get_customer(customer_id: PathId, actor: CurrentActor, db: Db) -> CustomerRead:
    return mask_customer(
        db.read(
            lambda s: service.get_customer_or_raise(
                session=s, customer_id=customer_id, store_ids=actor.store_ids
            )
        )
    )


@router.post("/customers/{customer_id}/reveal", response_model=CustomerRead)
def reveal_customer(
    customer_id: PathId, reveal_in: RevealRequest, response: Response, actor: CurrentActor, db: Db
) -> CustomerRead:
    """The profile unmasked. The reason is kept in the audit log with who asked and when."""

    response.headers["Cache-Control"] = "no-store"  # unmasked data stays out of caches
    return db.write(
        lambda s: service.reveal_customer(
            session=s,
            customer_id=customer_id,
            reason=reveal_in.reason,
            actor=actor,
            store_ids=actor.store_ids,
        )
    )


@router.patch("/customers/{customer_id}", response_model=CustomerRead)
def update_customer(
    customer_id: PathId, customer_in: CustomerUpdate, actor: CurrentActor, db: Db
) -> CustomerRead:
    def work(s: Session) -> CustomerRead:
        _in_scope(s, actor, customer_id)
        return service.update_customer(
            session=s, customer_id=customer_id, customer_in=customer_in, actor=actor
        )

    return mask_customer(db.write(work))


@router.get("/customers/{customer_id}/orders", response_model=Page[OrderRead])
def list_customer_orders(
    customer_id: PathId,
    actor: CurrentActor,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> Page[OrderRead]:
    def work(s: Session) -> Page[OrderRead]:
        _in_scope(s, actor, customer_id)
        return orders.list_customer_orders(
            session=s,
            customer_id=customer_id,
            limit=limit,
            cursor=cursor,
            store_ids=actor.store_ids,
        )

    return db.read(work)


@router.post("/customers/{customer_id}/tags", response_model=CustomerRead)
def add_tag(customer_id: PathId, tag_in: TagIn, actor: CurrentActor, db: Db) -> CustomerRead:
    def work(s: Session) -> CustomerRead:
        _in_scope(s, actor, customer_id)
        service.add_tag(session=s, customer_id=customer_id, name=tag_in.name, actor=actor)
        return service.get_customer_or_raise(session=s, customer_id=customer_id)

    return mask_customer(db.write(work))


@router.delete("/customers/{customer_id}/tags/{name}", response_model=CustomerRead)
def remove_tag(customer_id: PathId, name: str, actor: CurrentActor, db: Db) -> CustomerRead:
    def work(s: Session) -> CustomerRead:
        _in_scope(s, actor, customer_id)
        service.remove_tag(session=s, customer_id=customer_id, name=name, actor=actor)
        return service.get_customer_or_raise(session=s, customer_id=customer_id)

    return mask_customer(db.write(work))


@router.post(
    "/customers/{customer_id}/interactions", response_model=InteractionRead, status_code=201
)
def record_interaction(
    customer_id: PathId, interaction_in: InteractionCreate, actor: CurrentActor, db: Db
) -> InteractionRead:
    def work(s: Session) -> InteractionRead:
        _in_scope(s, actor, customer_id)
        return service.record_interaction(
            session=s, customer_id=customer_id, interaction_in=interaction_in
        )

    return db.write(work)


@router.get("/customers/{customer_id}/interactions", response_model=list[InteractionRead])
def list_interactions(
    customer_id: PathId,
    actor: CurrentActor,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[InteractionRead]:
    def work(s: Session) -> list[InteractionRead]:
        _in_scope(s, actor, customer_id)
        return service.list_interactions(session=s, customer_id=customer_id, limit=limit)

    return db.read(work)


@router.post("/customers/{customer_id}/merge", response_model=MergeRead, status_code=201)
def merge_customer(
    customer_id: PathId, merge_in: MergeRequest, actor: CurrentActor, db: Db
) -> MergeRead:
    """Fold another profile of the same person into this one."""

    return db.write(
        lambda s: service.merge_customers(
            session=s,
            survivor_id=customer_id,
            merged_id=merge_in.other_id,
            reason=merge_in.reason,
            actor=actor,
        )
    )


@router.get("/customers/{customer_id}/merges", response_model=list[MergeRead])
def list_merges(customer_id: PathId, actor: CurrentActor, db: Db) -> list[MergeRead]:
    def work(s: Session) -> list[MergeRead]:
        _in_scope(s, actor, customer_id)
        return service.list_merges(session=s, customer_id=customer_id)

    return db.read(work)


@router.post("/merges/{merge_id}/undo", response_model=MergeRead)
def unmerge(merge_id: PathId, actor: CurrentActor, db: Db) -> MergeRead:
    """Give back both profiles as they were, with their identities and orders."""

    return db.write(lambda s: service.unmerge_customers(session=s, merge_id=merge_id, actor=actor))


# ------------------------------------------------------------------------ merge suggestions


@router.get("/merge-suggestions", response_model=MergeSuggestionPage)
def list_merge_suggestions(
    db: Db,
    status: Annotated[str | None, Query(pattern="^(pending|accepted|dismissed)$")] = "pending",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> MergeSuggestionPage:
    """Profiles a record says are one person, raised where its sender may not merge them (a
    store's till); both profiles masked, oldest suggestion first."""
    return db.read(
        lambda s: service.list_merge_suggestions(
            session=s, status=status, limit=limit, cursor=cursor
        )
    )


@router.get("/merge-suggestions/{suggestion_id}", response_model=MergeSuggestionRead)
def get_merge_suggestion(suggestion_id: PathId, db: Db) -> MergeSuggestionRead:
    return db.read(
        lambda s: service.get_merge_suggestion_or_raise(session=s, suggestion_id=suggestion_id)
    )


@router.post("/merge-suggestions/{suggestion_id}/accept", response_model=MergeRead)
def accept_merge_suggestion(
    suggestion_id: PathId, decision: SuggestionDecision, actor: CurrentActor, db: Db
) -> MergeRead:
    """Merge the two (the newer profile into the older); audited, and undone like any merge."""
    return db.write(
        lambda s: service.accept_merge_suggestion(
            session=s, suggestion_id=suggestion_id, reason=decision.reason, actor=actor
        )
    )


@router.post("/merge-suggestions/{suggestion_id}/dismiss", response_model=MergeSuggestionRead)
def dismiss_merge_suggestion(
    suggestion_id: PathId, decision: SuggestionDecision, actor: CurrentActor, db: Db
) -> MergeSuggestionRead:
    """They are two people: the pair is never suggested, nor merged automatically, again."""
    return db.write(
        lambda s: service.dismiss_merge_suggestion(
            session=s, suggestion_id=suggestion_id, reason=decision.reason, actor=actor
        )
    )


# ------------------------------------------------------------------------ custom fields


@router.get("/custom-fields", response_model=list[CustomFieldRead])
def list_custom_fields(db: Db) -> list[CustomFieldRead]:
    return db.read(lambda s: fields.list_fields(session=s))


@router.post("/custom-fields", response_model=CustomFieldRead, status_code=201)
def define_custom_field(
    field_in: CustomFieldCreate, actor: CurrentActor, db: Db
) -> CustomFieldRead:
    """A new profile field (an administrator's): text, number, date or choice; a personal
    one's values are encrypted, shown masked and left out of audiences."""
    return db.write(lambda s: fields.define_field(session=s, field_in=field_in, actor=actor))


@router.get("/customers/{customer_id}/fields", response_model=list[CustomFieldValue])
def get_custom_field_values(
    customer_id: PathId,
    actor: CurrentActor,
    db: Db,
    reveal: Annotated[bool, Query(description="Personal values unmasked (audited)")] = False,
    reason: Annotated[str | None, Query(max_length=255)] = None,
) -> list[CustomFieldValue]:
    """Every custom field with the customer's value; personal ones masked unless revealed
    by a role that may, with a reason."""

    def work(s: Session) -> list[CustomFieldValue]:
        service.check_customer_in_scope(
            session=s, customer_id=customer_id, store_ids=actor.store_ids
        )
        if reveal:
            return fields.reveal_field_values(
                session=s, customer_id=customer_id, actor=actor, reason=reason or ""
            )
        return fields.field_values(session=s, customer_id=customer_id)

    return db.write(work) if reveal else db.read(work)


@router.put("/customers/{customer_id}/fields", response_model=list[CustomFieldValue])
def set_custom_field_values(
    customer_id: PathId, values_in: CustomFieldValuesIn, actor: CurrentActor, db: Db
) -> list[CustomFieldValue]:
    """Set or clear (null) values by field code, all or none; audited."""

    def work(s: Session) -> list[CustomFieldValue]:
        service.check_customer_in_scope(
            session=s, customer_id=customer_id, store_ids=actor.store_ids
        )
        fields.set_field_values(
            session=s, customer_id=customer_id, values=values_in.values, actor=actor
        )
        return fields.field_values(session=s, customer_id=customer_id)

    return db.write(work)
