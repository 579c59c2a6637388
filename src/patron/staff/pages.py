"""Console pages: signing in and out, one's password, and staff and roles (staff.manage)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from patron.catalog import service as catalog
from patron.core.actor import Actor
from patron.core.db import Database
from patron.core.errors import Conflict, InvalidInput, TooManyRequests
from patron.core.settings import get_settings
from patron.staff import service
from patron.staff.roles import ROLE_PERMISSIONS, Permission, Role
from patron.staff.schemas import StaffCreate, StaffUpdate
from patron.web.deps import Db, PathId
from patron.web.forms import error_line, first_error, form_error
from patron.web.i18n import _
from patron.web.messages import message_for
from patron.web.security import SESSION_COOKIE, CurrentActor, client_ip, limiter
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)


def _local(next_url: str | None) -> str:
    """Only a path on this site: a sign-in link must not send anyone elsewhere."""
    if next_url and next_url.startswith("/") and not next_url.startswith(("//", "/\\")):
        return next_url
    return "/"


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, next: str | None = None) -> Response:
    return TEMPLATES.TemplateResponse(
        request,
        "sign_in.html",
        {"actor": None, "error": None, "next": _local(next), "username": ""},
    )


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    db: Db,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str | None, Form(max_length=500)] = None,
) -> Response:
    settings = get_settings()
    ip = client_ip(request)

    def page(error: str, status: int) -> Response:
        return TEMPLATES.TemplateResponse(
            request,
            "sign_in.html",
            {"actor": None, "error": error, "next": _local(next), "username": username},
            status_code=status,
        )

    try:
        limiter.check(f"sign-in:{ip}", settings.sign_in_rate_per_minute)
    except TooManyRequests as exc:
        return page(
            _("Too many attempts; try again in %(seconds)s seconds", seconds=exc.retry_after), 429
        )
    result = db.write(
        lambda s: service.sign_in(
            session=s,
            username=username,
            password=password,
            ip=ip,
            user_agent=request.headers.get("user-agent"),
        )
    )
    if result.signed_in is None:
        # One answer for every failure (a wrong password, an unknown name, a locked or
        # disabled account), so the page tells nobody which user names exist.
        return page(
            _(
                "Wrong username or password. After %(n)s failures in a row an account is "
                "locked for %(minutes)s minutes.",
                n=settings.sign_in_max_failures,
                minutes=settings.sign_in_lock_minutes,
            ),
            401,
        )
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        result.signed_in.token,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )
    return response


@router.post("/sign-out")
def sign_out(request: Request, actor: CurrentActor, db: Db) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    db.write(lambda s: service.sign_out(session=s, token=token, actor=actor))
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request, actor: CurrentActor) -> Response:
    return TEMPLATES.TemplateResponse(
        request, "password.html", {"actor": actor, "error": None, "done": False}
    )


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    actor: CurrentActor,
    db: Db,
    current_password: Annotated[str, Form(max_length=256)],
    new_password: Annotated[str, Form(max_length=256)],
) -> Response:
    try:
        db.write(
            lambda s: service.change_password(
                session=s,
                actor=actor,
                current_password=current_password,
                new_password=new_password,
            )
        )
    except InvalidInput as exc:
        return TEMPLATES.TemplateResponse(
            request,
            "password.html",
            {"actor": actor, "error": error_line(exc), "done": False},
            status_code=422,
        )
    return TEMPLATES.TemplateResponse(
        request, "password.html", {"actor": actor, "error": None, "done": True}
    )


# ------------------------------------------------------------------------- staff and roles


def _codes(text: str) -> list[str]:
    """Store codes typed as "SH01, SH02" (commas, spaces or 、 between them)."""
    return [c for c in re.split(r"[\s,，、;]+", text.strip()) if c]


def _staff_page(
    request: Request,
    actor: Actor,
    db: Database,
    *,
    error: str | None = None,
    error_for: int | None = None,
    form: dict[str, str] | None = None,
    done: str | None = None,
    status: int = 200,
) -> Response:
    def read(s: Any) -> tuple[Any, Any]:
        return service.list_staff(session=s), catalog.list_stores(session=s)

    staff, stores = db.read(read)
    context: dict[str, Any] = {
        "actor": actor,
        "staff": staff,
        "stores": stores,
        "roles": list(Role),
        "permissions": list(Permission),
        "role_permissions": ROLE_PERMISSIONS,
        "error": error,
        "error_for": error_for,
        "form": form or {},
        "done": done,
    }
    return TEMPLATES.TemplateResponse(request, "staff.html", context, status_code=status)


@router.get("/staff", response_class=HTMLResponse)
def staff_page(request: Request, actor: CurrentActor, db: Db, done: str | None = None) -> Response:
    return _staff_page(request, actor, db, done=done if done in ("created", "updated") else None)


@router.post("/staff", response_class=HTMLResponse)
def create_staff(
    request: Request,
    actor: CurrentActor,
    db: Db,
    username: Annotated[str, Form(max_length=100)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    store_codes: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """A new member of staff (audited as staff.create)."""
    form = {
        "username": username,
        "display_name": display_name,
        "role": role,
        "store_codes": store_codes,
    }
    try:
        staff_in = StaffCreate.model_validate(
            {
                "username": username.strip(),
                "display_name": display_name.strip(),
                "password": password,
                "role": role,
                "store_codes": _codes(store_codes),
            }
        )
        db.write(lambda s: service.create_staff(session=s, staff_in=staff_in, actor=actor))
    except ValidationError as exc:
        return _staff_page(request, actor, db, error=first_error(exc), form=form, status=422)
    except InvalidInput as exc:
        error = error_line(exc)
        return _staff_page(request, actor, db, error=error, form=form, status=422)
    except Conflict as exc:
        error = form_error("username", message_for(exc))
        return _staff_page(request, actor, db, error=error, form=form, status=409)
    return RedirectResponse("/staff?done=created", status_code=303)


@router.post("/staff/{staff_id}", response_class=HTMLResponse)
def update_staff(
    request: Request,
    staff_id: PathId,
    actor: CurrentActor,
    db: Db,
    role: Annotated[str, Form(max_length=32)] = "",
    store_codes: Annotated[str, Form(max_length=2000)] = "",
    is_active: Annotated[str | None, Form(max_length=8)] = None,
) -> Response:
    """Change a member of staff's role and stores, or (un)block them (audited as staff.update).

    A changed role or store list, or a deactivation, ends their sessions.
    """
    try:
        staff_in = StaffUpdate.model_validate(
            {"role": role, "store_codes": _codes(store_codes), "is_active": is_active == "on"}
        )
        if actor.id == staff_id and not staff_in.is_active:
            raise InvalidInput(
                "is_active",
                "you cannot deactivate yourself",
                message_code="cannot_deactivate_self",
            )
        db.write(
            lambda s: service.update_staff(
                session=s, staff_id=staff_id, staff_in=staff_in, actor=actor
            )
        )
    except ValidationError as exc:
        return _staff_page(
            request, actor, db, error=first_error(exc), error_for=staff_id, status=422
        )
    except InvalidInput as exc:
        error = error_line(exc)
        return _staff_page(request, actor, db, error=error, error_for=staff_id, status=422)
    return RedirectResponse("/staff?done=updated", status_code=303)
