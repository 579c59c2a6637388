"""Console pages for customers: search, the 360 page, and its small forms (HTMX).

Everything shown is masked (customers.masking) except the answer to a reveal, which needs a
reason and is audited by the service. A store-bound actor asking for another store's
customer gets the same "not found" page as for a customer that does not exist, so the
console does not tell them who shops elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from patron.core.actor import Actor
from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.core.phone import normalise_phone
from patron.core.settings import get_settings
from patron.customers import fields, service
from patron.customers.exceptions import (
    CannotMerge,
    CustomerNotFound,
    OutOfScope,
    SuggestionDecided,
)
from patron.customers.masking import mask_customer
from patron.customers.models import IdentityKind
from patron.customers.schemas import (
    CustomerFilter,
    CustomerRead,
    InteractionCreate,
    InteractionRead,
    RevealRequest,
    SuggestionDecision,
    TagIn,
)
from patron.orders import service as orders
from patron.staff.roles import Permission as P
from patron.web.deps import Db, PathId
from patron.web.forms import first_error, form_error
from patron.web.i18n import N_, _
from patron.web.messages import message_for
from patron.web.sections import SectionContext, render_customer_sections
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES
from patron.web.titles import INTERACTION_CHANNEL_TITLES

router = APIRouter(include_in_schema=False)

SEARCH_PAGE = 20
ORDERS_PAGE = 10
INTERACTIONS_SHOWN = 20

# The channels an interaction form offers (stored as the code; shown translated).
INTERACTION_CHANNELS = INTERACTION_CHANNEL_TITLES
IDENTITY_TITLES = {
    IdentityKind.PHONE: N_("Phone"),
    IdentityKind.MEMBER_CARD: N_("Member card"),
    IdentityKind.EMAIL: N_("E-mail"),
    IdentityKind.WECHAT_OPENID: N_("WeChat openid"),
    IdentityKind.WECHAT_UNIONID: N_("WeChat unionid"),
    IdentityKind.EXTERNAL_ACCOUNT: N_("Online account"),
}
GENDER_TITLES = {"female": N_("Female"), "male": N_("Male"), "other": N_("Other")}

_SEPARATORS = re.compile(r"[\s\-().·]")
_DIGITS = re.compile(r"^\+?\d+$")


# ------------------------------------------------------------------------------ search


@dataclass(frozen=True, slots=True)
class SearchResult:
    how: str  # recent, phone, member_card, email, name
    items: list[CustomerRead]  # masked
    next_cursor: str | None = None


def _lookup(session: Session, kind: str, value: str, actor: Actor) -> CustomerRead | None:
    """The customer owning an identifier, if this actor may see them (else None: as unknown)."""
    try:
        return service.lookup_customer(
            session=session, kind=kind, value=value, store_ids=actor.store_ids
        )
    except (OutOfScope, InvalidInput):
        return None


def search_customers(
    *, session: Session, actor: Actor, q: str, cursor: str | None = None
) -> SearchResult:
    """One box: a phone or a member card is looked up, an e-mail too, anything else is a name.

    An empty box lists the newest customers a page at a time.
    """
    q = q.strip()
    scope = actor.store_ids
    if not q:
        page = service.list_customers(
            session=session, filters=CustomerFilter(), limit=SEARCH_PAGE, cursor=cursor,
            store_ids=scope,
        )  # fmt: skip
        return SearchResult("recent", [mask_customer(c) for c in page.items], page.next_cursor)
    if "@" in q:
        found = _lookup(session, "email", q, actor)
        return SearchResult("email", [mask_customer(found)] if found else [])
    compact = _SEPARATORS.sub("", q)
    if _DIGITS.match(compact):
        try:
            phone = normalise_phone(compact, get_settings().phone_region)
        except ValueError:
            phone = None
        if phone is not None:
            found = _lookup(session, "phone", phone, actor)
            if found is not None:
                return SearchResult("phone", [mask_customer(found)])
        found = _lookup(session, "member_card", compact, actor)
        if found is None and (by_id := _by_account(session, compact, actor)):
            return SearchResult("external_account", by_id)
        return SearchResult("member_card" if found or phone is None else "phone", _one(found))
    found = _lookup(session, "member_card", q, actor)
    if found is not None:
        return SearchResult("member_card", [mask_customer(found)])
    if by_id := _by_account(session, q, actor):
        return SearchResult("external_account", by_id)
    page = service.list_customers(
        session=session, filters=CustomerFilter(q=q), limit=SEARCH_PAGE, cursor=cursor,
        store_ids=scope,
    )  # fmt: skip
    return SearchResult("name", [mask_customer(c) for c in page.items], page.next_cursor)


def _by_account(session: Session, value: str, actor: Actor) -> list[CustomerRead]:
    """Customers holding ``value`` as the id a shop system or an import gave them (masked;
    those this actor may not see left out)."""
    found = []
    for customer_id in service.find_customer_ids_by_account(session=session, value=value):
        try:
            customer = service.get_customer_or_raise(
                session=session, customer_id=customer_id, store_ids=actor.store_ids
            )
        except (OutOfScope, CustomerNotFound):
            continue
        found.append(mask_customer(customer))
    return found


def _one(found: CustomerRead | None) -> list[CustomerRead]:
    return [mask_customer(found)] if found is not None else []


@router.get("/customers", response_class=HTMLResponse)
def customers_page(
    request: Request,
    actor: CurrentActor,
    db: Db,
    q: Annotated[str, Query(max_length=120)] = "",
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    result = db.read(lambda s: search_customers(session=s, actor=actor, q=q, cursor=cursor))
    context = {"actor": actor, "q": q.strip(), "result": result, "titles": IDENTITY_TITLES}
    template = "customers/_results.html" if _is_htmx(request) else "customers/search.html"
    return TEMPLATES.TemplateResponse(request, template, context)


# ------------------------------------------------------------------------------ 360 page


def visible_customer(session: Session, actor: Actor, customer_id: int) -> CustomerRead:
    """The customer as stored, once it is known this actor may see them.

    Another store's customer is reported exactly like one that does not exist.
    """
    try:
        return service.get_customer_or_raise(
            session=session, customer_id=customer_id, store_ids=actor.store_ids
        )
    except OutOfScope:
        raise CustomerNotFound(f"no customer {customer_id}", customer_id=customer_id) from None


def _detail_context(session: Session, actor: Actor, customer_id: int) -> dict[str, Any]:
    customer = mask_customer(visible_customer(session, actor, customer_id))
    context: dict[str, Any] = {
        "actor": actor,
        "customer": customer,
        "titles": IDENTITY_TITLES,
        "genders": GENDER_TITLES,
        "channels": INTERACTION_CHANNELS,
        "orders": None,
        "interactions": service.list_interactions(
            session=session, customer_id=customer_id, limit=INTERACTIONS_SHOWN
        ),
    }
    if actor.can(P.ORDERS_READ):
        context["orders"] = orders.list_customer_timeline(
            session=session, customer_id=customer_id, limit=ORDERS_PAGE, store_ids=actor.store_ids
        )
    context.update(_fields_context(session, customer_id))
    context["sections"] = render_customer_sections(
        SectionContext(session=session, customer=customer, actor=actor)
    )
    return context


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_page(request: Request, customer_id: PathId, actor: CurrentActor, db: Db) -> Response:
    context = db.read(lambda s: _detail_context(s, actor, customer_id))
    return TEMPLATES.TemplateResponse(request, "customers/detail.html", context)


@router.get("/customers/{customer_id}/orders", response_class=HTMLResponse)
def customer_orders(
    request: Request,
    customer_id: PathId,
    actor: CurrentActor,
    db: Db,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """The next page of the orders timeline (the "more" button fetches it)."""

    def work(s: Session) -> Any:
        visible_customer(s, actor, customer_id)
        return orders.list_customer_timeline(
            session=s,
            customer_id=customer_id,
            limit=ORDERS_PAGE,
            cursor=cursor,
            store_ids=actor.store_ids,
        )

    page = db.read(work)
    return TEMPLATES.TemplateResponse(
        request,
        "customers/_orders.html",
        {"actor": actor, "orders": page, "customer_id": customer_id},
    )


def _fields_context(session: Session, customer_id: int) -> dict[str, Any]:
    """The custom fields (personal values masked) and each choice field's choices."""
    return {
        "custom_fields": fields.field_values(session=session, customer_id=customer_id),
        "choices": {f.code: f.choices for f in fields.list_fields(session=session)},
    }


# ------------------------------------------------------------------------------ forms


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _first_error(exc: ValidationError) -> str:
    return first_error(exc, {"name": N_("Tag")})


def _tags_response(
    request: Request, actor: Actor, customer: CustomerRead, error: str | None, status: int = 200
) -> Response:
    return TEMPLATES.TemplateResponse(
        request,
        "customers/_tags.html",
        {"actor": actor, "customer": mask_customer(customer), "tag_error": error},
        status_code=status,
    )


@router.post("/customers/{customer_id}/tags", response_class=HTMLResponse)
def add_tag(
    request: Request,
    customer_id: PathId,
    actor: CurrentActor,
    db: Db,
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        tag_in = TagIn(name=name.strip())
    except ValidationError as exc:
        customer = db.read(lambda s: visible_customer(s, actor, customer_id))
        return _tags_response(request, actor, customer, _first_error(exc), 422)

    def work(s: Session) -> CustomerRead:
        visible_customer(s, actor, customer_id)
        service.add_tag(session=s, customer_id=customer_id, name=tag_in.name, actor=actor)
        return service.get_customer_or_raise(session=s, customer_id=customer_id)

    return _tags_response(request, actor, db.write(work), None)


@router.post("/customers/{customer_id}/tags/remove", response_class=HTMLResponse)
def remove_tag(
    request: Request,
    customer_id: PathId,
    actor: CurrentActor,
    db: Db,
    name: Annotated[str, Form(min_length=1, max_length=60)],
) -> Response:
    def work(s: Session) -> CustomerRead:
        visible_customer(s, actor, customer_id)
        service.remove_tag(session=s, customer_id=customer_id, name=name, actor=actor)
        return service.get_customer_or_raise(session=s, customer_id=customer_id)

    return _tags_response(request, actor, db.write(work), None)


@router.post("/customers/{customer_id}/interactions", response_class=HTMLResponse)
def add_interaction(
    request: Request,
    customer_id: PathId,
    actor: CurrentActor,
    db: Db,
    channel: Annotated[str, Form(max_length=20)] = "",
    direction: Annotated[str, Form(max_length=10)] = "inbound",
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    error = None
    interaction_in: InteractionCreate | None = None
    if channel not in INTERACTION_CHANNELS:
        error = form_error("channel", _("choose one of the channels offered"))
    elif not note.strip():
        error = form_error("note", _("write what was said or done"))
    else:
        try:
            interaction_in = InteractionCreate(
                channel=channel, direction=direction, note=note.strip(), staff=actor.name
            )
        except ValidationError as exc:
            error = _first_error(exc)

    def work(s: Session) -> list[InteractionRead]:
        visible_customer(s, actor, customer_id)
        if interaction_in is not None:
            service.record_interaction(
                session=s, customer_id=customer_id, interaction_in=interaction_in
            )
        return service.list_interactions(
            session=s, customer_id=customer_id, limit=INTERACTIONS_SHOWN
        )

    interactions = db.write(work) if interaction_in is not None else db.read(work)
    return TEMPLATES.TemplateResponse(
        request,
        "customers/_interactions.html",
        {
            "actor": actor,
            "customer": {"id": customer_id},
            "interactions": interactions,
            "channels": INTERACTION_CHANNELS,
            "interaction_error": error,
            "note": note if error else "",
        },
        status_code=422 if error else 200,
    )


@router.post("/customers/{customer_id}/reveal", response_class=HTMLResponse)
def reveal(
    request: Request,
    customer_id: PathId,
    actor: CurrentActor,
    db: Db,
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """The profile unmasked, for a reason that goes into the audit log with who and when."""
    try:
        reveal_in = RevealRequest(reason=reason.strip())
    except ValidationError:
        db.read(lambda s: visible_customer(s, actor, customer_id))
        return TEMPLATES.TemplateResponse(
            request,
            "customers/_reveal.html",
            {
                "actor": actor,
                "customer": {"id": customer_id},
                "revealed": None,
                "reveal_error": form_error("reason", _("give a reason of 2 to 500 characters")),
                "titles": IDENTITY_TITLES,
            },
            status_code=422,
        )

    def work(s: Session) -> CustomerRead:
        visible_customer(s, actor, customer_id)
        return service.reveal_customer(
            session=s,
            customer_id=customer_id,
            reason=reveal_in.reason,
            actor=actor,
            store_ids=actor.store_ids,
        )

    revealed = db.write(work)
    response = TEMPLATES.TemplateResponse(
        request,
        "customers/_reveal.html",
        {
            "actor": actor,
            "customer": {"id": customer_id},
            "revealed": revealed,
            "reveal_error": None,
            "titles": IDENTITY_TITLES,
        },
    )
    response.headers["Cache-Control"] = "no-store"  # unmasked data stays out of caches
    return response


# ------------------------------------------------------------------------------ merge suggestions

SUGGESTION_STATUSES = {
    "pending": N_("Waiting for review"),
    "accepted": N_("Merged"),
    "dismissed": N_("Not the same person"),
}
SUGGESTIONS_PAGE = 20


def _suggestions_page(
    request: Request,
    actor: Actor,
    db: Database,
    *,
    status: str = "pending",
    cursor: str | None = None,
    error: tuple[int, str] | None = None,
    done: str | None = None,
    code: int = 200,
) -> Response:
    page = db.read(
        lambda s: service.list_merge_suggestions(
            session=s, status=status, limit=SUGGESTIONS_PAGE, cursor=cursor
        )
    )
    context: dict[str, Any] = {
        "actor": actor,
        "page": page,
        "status": status,
        "statuses": SUGGESTION_STATUSES,
        "titles": IDENTITY_TITLES,
        "genders": GENDER_TITLES,
        "error_id": error[0] if error else None,
        "error": error[1] if error else None,
        "done": done,
        "next_url": (
            f"/merge-suggestions?status={status}&cursor={page.next_cursor}"
            if page.next_cursor
            else None
        ),
    }
    return TEMPLATES.TemplateResponse(
        request, "customers/suggestions.html", context, status_code=code
    )


@router.get("/merge-suggestions", response_class=HTMLResponse)
def merge_suggestions_page(
    request: Request,
    actor: CurrentActor,
    db: Db,
    status: Annotated[str, Query(pattern="^(pending|accepted|dismissed)$")] = "pending",
    cursor: Annotated[str | None, Query(max_length=32)] = None,
    done: Annotated[str | None, Query(pattern="^(merged|dismissed)$")] = None,
) -> Response:
    """Profiles a till's record says are one person, side by side and masked: merge them or
    say they are two people."""
    return _suggestions_page(request, actor, db, status=status, cursor=cursor, done=done)


def _decide(
    request: Request,
    actor: Actor,
    db: Database,
    suggestion_id: int,
    reason: str,
    accept: bool,
) -> Response:
    try:
        decision = SuggestionDecision(reason=reason.strip())
    except ValidationError:
        message = form_error("reason", _("give a reason of 2 to 200 characters"))
        return _suggestions_page(request, actor, db, error=(suggestion_id, message), code=422)
    try:
        if accept:
            db.write(
                lambda s: service.accept_merge_suggestion(
                    session=s, suggestion_id=suggestion_id, reason=decision.reason, actor=actor
                )
            )
        else:
            db.write(
                lambda s: service.dismiss_merge_suggestion(
                    session=s, suggestion_id=suggestion_id, reason=decision.reason, actor=actor
                )
            )
    except (CannotMerge, SuggestionDecided) as exc:
        message = (
            _("One of the two was merged into another profile since: dismiss this suggestion.")
            if isinstance(exc, CannotMerge)
            else _("This suggestion was decided already.")
        )
        return _suggestions_page(request, actor, db, error=(suggestion_id, message), code=409)
    done = "merged" if accept else "dismissed"
    return RedirectResponse(f"/merge-suggestions?done={done}", status_code=303)


@router.post("/merge-suggestions/{suggestion_id}/accept", response_class=HTMLResponse)
def accept_suggestion(
    request: Request,
    suggestion_id: PathId,
    actor: CurrentActor,
    db: Db,
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Merge the two profiles (the newer into the older); audited, undone like any merge."""
    return _decide(request, actor, db, suggestion_id, reason, accept=True)


@router.post("/merge-suggestions/{suggestion_id}/dismiss", response_class=HTMLResponse)
def dismiss_suggestion(
    request: Request,
    suggestion_id: PathId,
    actor: CurrentActor,
    db: Db,
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Two people: never suggested, nor merged automatically, again (audited)."""
    return _decide(request, actor, db, suggestion_id, reason, accept=False)


@router.post("/customers/{customer_id}/fields", response_class=HTMLResponse)
async def set_fields(
    request: Request, customer_id: PathId, actor: CurrentActor, db: Db
) -> Response:
    """The custom fields' boxes (``field.<code>``) saved; personal ones are changed through
    the API, so a masked value shown here is never written back."""
    raw = await request.form()
    values = {
        key.removeprefix("field."): str(value)
        for key, value in raw.multi_items()
        if key.startswith("field.") and isinstance(value, str)
    }

    def work(s: Session) -> dict[str, Any]:
        visible_customer(s, actor, customer_id)
        editable = {f.code for f in fields.list_fields(session=s, personal=False)}
        fields.set_field_values(
            session=s,
            customer_id=customer_id,
            values={k: v for k, v in values.items() if k in editable},
            actor=actor,
        )
        return _fields_context(s, customer_id)

    context: dict[str, Any] = {"actor": actor, "customer": {"id": customer_id}}
    try:
        context.update(await run_in_threadpool(db.write, work))
        context.update(saved=True, field_errors={})
        status = 200
    except InvalidInput as exc:
        code = str(exc.facts.get("field", "")).removeprefix("fields.")
        context.update(await run_in_threadpool(db.read, lambda s: _fields_context(s, customer_id)))
        context["field_errors"] = {code: message_for(exc)}
        status = 422
    return TEMPLATES.TemplateResponse(
        request, "customers/_fields.html", context, status_code=status
    )
