"""Console pages for audiences: the list (with each audience's count, a store-bound role's
stores only) and the builder, where conditions and AND/OR groups are added and removed with
HTMX and the count follows every edit. The builder's form and its state: ``builder.py``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from patron import loyalty
from patron.analytics.engine import SEGMENTS, STAGES
from patron.audiences import builder, service
from patron.audiences.exceptions import AudienceNameTaken
from patron.audiences.schemas import (
    AGE_BANDS,
    CHURN_BANDS,
    GENDERS,
    AudienceCreate,
    AudienceUpdate,
    Definition,
)
from patron.catalog import service as catalog
from patron.core.actor import Actor
from patron.core.db import Database
from patron.core.errors import InvalidInput, PatronError
from patron.customers import fields as custom_fields
from patron.staff.roles import Permission as P
from patron.web.deps import Db, PathId
from patron.web.forms import field_errors
from patron.web.i18n import N_, current_language, gettext
from patron.web.messages import message_for
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

KIND_TITLES = {
    "tag": N_("Tags"),
    "profile": N_("Profile"),
    "signed_up": N_("Signed up"),
    "custom_field": N_("Custom field"),
    "segment": N_("Value segment (RFM)"),
    "stage": N_("Lifecycle stage"),
    "churn_band": N_("Churn risk band"),
    "clv": N_("Lifetime value (yuan)"),
    "tier": N_("Member tier"),
    "points": N_("Points"),
    "purchases": N_("Purchases"),
    "consent": N_("Consent"),
    "first_purchase": N_("First purchase"),
    "last_purchase": N_("Last purchase"),
}
ATTRIBUTE_TITLES = {
    "gender": N_("Gender"),
    "age_band": N_("Age band"),
    "city": N_("City"),
    "home_store": N_("Home store"),
    "signup_channel": N_("Sign-up channel"),
}
OP_TITLES = {
    "in": N_("is one of"),
    "not_in": N_("is none of"),
    "is_set": N_("is known"),
    "is_not_set": N_("is not known"),
    "has_any": N_("has any of"),
    "has_all": N_("has all of"),
    "has_none": N_("has none of"),
    "eq": N_("="),
    "ne": N_("≠"),
    "gt": N_(">"),
    "gte": N_("≥"),
    "lt": N_("<"),
    "lte": N_("≤"),
    "between": N_("between"),
    "contains": N_("contains"),
    "before": N_("before"),
    "after": N_("after"),
    "within_last_days": N_("within the last … days"),
    "more_than_days_ago": N_("more than … days ago"),
    "allowed": N_("allows"),
    "not_allowed": N_("does not allow"),
}
CONSENT_CHANNEL_TITLES = {
    "sms": N_("SMS"),
    "email": N_("E-mail"),
    "wechat": N_("WeChat"),
    "phone": N_("Phone"),
}
CONSENT_PURPOSE_TITLES = {"marketing": N_("marketing"), "service": N_("service messages")}
GENDER_TITLES = {"female": N_("Female"), "male": N_("Male"), "other": N_("Other")}
AGE_TITLES = {
    "under_18": N_("under 18"),
    "18_24": N_("18–24"),
    "25_34": N_("25–34"),
    "35_44": N_("35–44"),
    "45_54": N_("45–54"),
    "55_64": N_("55–64"),
    "65_plus": N_("65 and over"),
}
BAND_TITLES = {
    "low": N_("Low"),
    "medium": N_("Medium"),
    "high": N_("High"),
    "lapsed": N_("Lapsed"),
}
MEASURE_TITLES = {"count": N_("number of orders"), "net_fen": N_("net amount (yuan)")}


def _names(names: dict[str, tuple[str, str]], english: bool) -> dict[str, str]:
    return {code: pair[1] if english else pair[0] for code, pair in names.items()}


def _choices(actor: Actor, db: Database) -> dict[str, Any]:
    """What the builder's selects offer: stores (the actor's), tiers, custom fields."""

    def read(session: Any) -> dict[str, Any]:
        stores = catalog.list_stores(session=session)
        if actor.store_ids is not None:
            stores = [s for s in stores if s.id in actor.store_ids]
        return {
            "stores": {str(s.id): f"{s.code} {s.name}" for s in stores},
            "tiers": {t.code: t.name for t in loyalty.get_programme(session).tiers},
            "fields": custom_fields.list_fields(session=session, personal=False),
        }

    return db.read(read)


def _builder_context(
    request: Request,
    actor: Actor,
    db: Database,
    state: builder.Node,
    *,
    audience_id: int | None = None,
    name: str = "",
    description: str = "",
    error: str | None = None,
) -> dict[str, Any]:
    english = current_language().code == "en"
    count, errors = _count(actor, db, state)
    return {
        "actor": actor,
        "state": state,
        "audience_id": audience_id,
        "name": name,
        "description": description,
        "error": error,
        "count": count,
        "errors": errors,
        "kinds": KIND_TITLES,
        "kind_boxes": builder.KIND_BOXES,
        "attributes": ATTRIBUTE_TITLES,
        "op_titles": OP_TITLES,
        "ops": builder.OPS_OF_KIND,
        "options": {
            "gender": {g: GENDER_TITLES[g] for g in GENDERS},
            "age_band": {a: AGE_TITLES[a] for a in AGE_BANDS},
            "segment": _names(SEGMENTS, english),
            "stage": _names(STAGES, english),
            "churn_band": {b: BAND_TITLES[b] for b in CHURN_BANDS},
        },
        "measures": MEASURE_TITLES,
        "consent_channels": CONSENT_CHANNEL_TITLES,
        "consent_purposes": CONSENT_PURPOSE_TITLES,
        **_choices(actor, db),
    }


def _count(actor: Actor, db: Database, state: builder.Node) -> tuple[Any, dict[str, str]]:
    """The live count of the tree, or the errors that keep it from counting (by box)."""
    try:
        definition = Definition.model_validate(builder.to_definition(state))
        counted = db.read(
            lambda s: service.count_definition(
                session=s, definition=definition, store_ids=actor.store_ids
            )
        )
    except ValidationError as exc:
        return None, _placed(field_errors(exc, keep_index=True))
    except InvalidInput as exc:
        return None, _placed({str(exc.facts.get("field", "")): message_for(exc)})
    except PatronError as exc:
        return None, {"form": message_for(exc)}
    return counted, {}


def _placed(errors: dict[str, str]) -> dict[str, str]:
    """Errors keyed by ``<node place>/<box>`` as the builder's boxes are named."""
    placed: dict[str, str] = {}
    for field, message in errors.items():
        path, box = builder.error_place(field)
        placed.setdefault(f"{path}/{box}", message)
    return placed


async def _form(request: Request) -> dict[str, list[str]]:
    raw = await request.form()
    form: dict[str, list[str]] = {}
    for key, value in raw.multi_items():
        if isinstance(value, str):
            form.setdefault(key, []).append(value)
    return form


def _first(form: dict[str, list[str]], key: str) -> str:
    return (form.get(key) or [""])[0].strip()


# ------------------------------------------------------------------------------ the list


@router.get("/audiences", response_class=HTMLResponse)
def audiences_page(
    request: Request, actor: CurrentActor, db: Db, saved: str | None = None
) -> Response:
    def read(session: Any) -> list[tuple[Any, int | None]]:
        rows = []
        for audience in service.list_audiences(session=session):
            try:
                counted: int | None = service.count_definition(
                    session=session, definition=audience.definition, store_ids=actor.store_ids
                ).count
            except PatronError:
                counted = None  # a field it names was deleted or made personal since
            rows.append((audience, counted))
        return rows

    context = {
        "actor": actor,
        "rows": db.read(read),
        "may_build": actor.can(P.AUDIENCES_MANAGE),
        "saved": saved[:120] if saved else None,
    }
    return TEMPLATES.TemplateResponse(request, "audiences/list.html", context)


# ------------------------------------------------------------------------------ the builder


@router.get("/audiences/new", response_class=HTMLResponse)
def new_audience(request: Request, actor: CurrentActor, db: Db) -> Response:
    state = builder.empty_state()
    state["children"].append(builder.new_condition())
    context = _builder_context(request, actor, db, state)
    return TEMPLATES.TemplateResponse(request, "audiences/builder.html", context)


@router.get("/audiences/{audience_id}/edit", response_class=HTMLResponse)
def edit_audience(request: Request, actor: CurrentActor, db: Db, audience_id: PathId) -> Response:
    audience = db.read(lambda s: service.get_audience_or_raise(session=s, audience_id=audience_id))
    context = _builder_context(
        request,
        actor,
        db,
        builder.from_definition(audience.definition),
        audience_id=audience.id,
        name=audience.name,
        description=audience.description,
    )
    return TEMPLATES.TemplateResponse(request, "audiences/builder.html", context)


@router.post("/audiences/builder", response_class=HTMLResponse)
async def rebuild(request: Request, actor: CurrentActor, db: Db) -> Response:
    """The builder again after an edit: a node added or removed, a kind changed."""
    form = await _form(request)
    state = builder.apply_action(builder.parse_state(form), _first(form, "action"))
    context = await run_in_threadpool(_builder_context, request, actor, db, state)
    return TEMPLATES.TemplateResponse(request, "audiences/_builder.html", context)


@router.post("/audiences/builder/count", response_class=HTMLResponse)
async def live_count(request: Request, actor: CurrentActor, db: Db) -> Response:
    """The count of the definition as it stands in the form (typed boxes)."""
    form = await _form(request)
    state = builder.parse_state(form)
    count, errors = await run_in_threadpool(_count, actor, db, state)
    context = {"count": count, "errors": errors}
    return TEMPLATES.TemplateResponse(request, "audiences/_count.html", context)


@router.post("/audiences/save", response_class=HTMLResponse)
async def save_audience(request: Request, actor: CurrentActor, db: Db) -> Response:
    form = await _form(request)
    state = builder.parse_state(form)
    name, description = _first(form, "name"), _first(form, "description")
    raw_id = _first(form, "audience_id")
    audience_id = int(raw_id) if raw_id.isdigit() else None

    def again(error: str) -> Response:
        context = _builder_context(
            request,
            actor,
            db,
            state,
            audience_id=audience_id,
            name=name,
            description=description,
            error=error,
        )
        return TEMPLATES.TemplateResponse(
            request, "audiences/builder.html", context, status_code=422
        )

    try:
        definition = Definition.model_validate(builder.to_definition(state))
        if audience_id is None:
            created = AudienceCreate(name=name, description=description, definition=definition)
            await run_in_threadpool(
                db.write,
                lambda s: service.create_audience(session=s, audience_in=created, actor=actor),
            )
        else:
            changed = AudienceUpdate(name=name, description=description, definition=definition)
            await run_in_threadpool(
                db.write,
                lambda s: service.update_audience(
                    session=s, audience_id=audience_id, audience_in=changed, actor=actor
                ),
            )
    except ValidationError as exc:
        errors = field_errors(exc, keep_index=True)
        if "name" in errors:
            return await run_in_threadpool(again, f"{gettext('Audience name')}: {errors['name']}")
        return await run_in_threadpool(again, next(iter(errors.values()), ""))
    except (AudienceNameTaken, InvalidInput) as exc:
        return await run_in_threadpool(again, message_for(exc))
    return RedirectResponse(f"/audiences?saved={name}", status_code=303)


@router.post("/audiences/{audience_id}/delete", response_class=HTMLResponse)
def delete_audience(actor: CurrentActor, db: Db, audience_id: PathId) -> Response:
    db.write(lambda s: service.delete_audience(session=s, audience_id=audience_id, actor=actor))
    return RedirectResponse("/audiences", status_code=303)
