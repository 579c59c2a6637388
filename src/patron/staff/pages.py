"""Console pages for signing in and out and changing one's password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from patron.core.db import Database
from patron.core.errors import InvalidInput, TooManyRequests
from patron.core.settings import get_settings
from patron.staff import service
from patron.web.deps import get_db
from patron.web.security import SESSION_COOKIE, CurrentActor, client_ip, limiter
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)
Db = Annotated[Database, Depends(get_db)]


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
        return page(f"尝试次数过多，请 {exc.retry_after} 秒后再试 · Too many attempts", 429)
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
        assert result.error is not None
        if result.error.code == "account_locked":
            return page("登录失败次数过多，账户已暂时锁定 · Account locked for a while", 401)
        return page("用户名或密码错误 · Wrong username or password", 401)
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
            {"actor": actor, "error": exc.message, "done": False},
            status_code=422,
        )
    return TEMPLATES.TemplateResponse(
        request, "password.html", {"actor": actor, "error": None, "done": True}
    )
