"""Console page for stores: the list, and a form to open one (stores.write)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from patron.catalog import service
from patron.catalog.exceptions import StoreCodeTaken
from patron.catalog.models import StoreKind
from patron.catalog.schemas import StoreCreate
from patron.core.actor import Actor
from patron.core.db import Database
from patron.staff.roles import Permission as P
from patron.web.deps import Db
from patron.web.forms import first_error, form_error
from patron.web.i18n import N_
from patron.web.messages import message_for
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES
from patron.web.titles import STORE_KIND_TITLES

router = APIRouter(include_in_schema=False)

KIND_TITLES = {StoreKind(code): title for code, title in STORE_KIND_TITLES.items()}


def _page(
    request: Request,
    actor: Actor,
    db: Database,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    created: str | None = None,
    status: int = 200,
) -> Response:
    stores = db.read(lambda s: service.list_stores(session=s))
    if actor.store_ids is not None:  # a store-bound role lists its own stores
        stores = [s for s in stores if s.id in actor.store_ids]
    context: dict[str, Any] = {
        "actor": actor,
        "stores": stores,
        "kinds": KIND_TITLES,
        "may_create": actor.can(P.STORES_WRITE),
        "error": error,
        "form": form or {"timezone": "Asia/Shanghai", "kind": "physical"},
        "created": created,
    }
    return TEMPLATES.TemplateResponse(request, "stores.html", context, status_code=status)


@router.get("/stores", response_class=HTMLResponse)
def stores_page(
    request: Request, actor: CurrentActor, db: Db, created: str | None = None
) -> Response:
    return _page(request, actor, db, created=created[:32] if created else None)


@router.post("/stores", response_class=HTMLResponse)
def create_store(
    request: Request,
    actor: CurrentActor,
    db: Db,
    code: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    city: Annotated[str, Form(max_length=100)] = "",
    kind: Annotated[str, Form(max_length=20)] = "physical",
    timezone: Annotated[str, Form(max_length=64)] = "Asia/Shanghai",
) -> Response:
    form = {"code": code, "name": name, "city": city, "kind": kind, "timezone": timezone}
    try:
        store_in = StoreCreate(
            code=code.strip(),
            name=name.strip(),
            city=city.strip() or None,
            kind=kind,  # validated into StoreKind
            timezone=timezone.strip(),
        )
    except ValidationError as exc:
        labels = {"name": N_("Store name")}
        return _page(request, actor, db, error=first_error(exc, labels), form=form, status=422)
    try:
        db.write(lambda s: service.create_store(session=s, store_in=store_in))
    except StoreCodeTaken as exc:
        return _page(
            request,
            actor,
            db,
            error=form_error("code", message_for(exc)),
            form=form,
            status=409,
        )
    return RedirectResponse(f"/stores?created={store_in.code}", status_code=303)
