"""The one place where errors become HTTP responses.

Validation errors are 422 and name the field (``loc`` as FastAPI gives it, plus a dotted
``field``); the value sent back is never echoed, so no personal data lands in a response
or a log line. Unexpected errors are a bare 500 with a request id, never a stack trace.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from patron.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PatronError,
    TooManyRequests,
    Unauthenticated,
)

log = logging.getLogger("patron.web")


_NAMED = re.compile(r"^(?P<field>[a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*): (?P<msg>.+)$", re.DOTALL)


def _field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts)


def validation_items(errors: Sequence[Any], prefix: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Pydantic errors as {loc, field, msg, type}, with the offending input left out."""
    items = []
    for error in errors:
        loc = [*prefix, *error.get("loc", ())]
        msg = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        # Model-level validators report at the model; one whose message starts with
        # "some_field: " (a rule_error naming its field) is put at that field.
        ruled = bool((error.get("ctx") or {}).get("field"))
        named = _NAMED.match(msg) if error.get("type") == "value_error" or ruled else None
        if named:
            loc = [*loc, *named["field"].split(".")]
            msg = named["msg"]
        items.append(
            {
                "loc": loc,
                "field": _field(loc),
                "msg": msg,
                "type": error.get("type", "value_error"),
            }
        )
    return items


def _summary(items: list[dict[str, Any]]) -> str:
    if not items:
        return "invalid request"
    first = items[0]
    return f"{first['field']}: {first['msg']}" if first["field"] else first["msg"]


def _json(
    status: int, code: str, message: str, extra: dict[str, Any] | None = None
) -> JSONResponse:
    # Facts go first so that one named "error" or "message" (or "code") cannot replace those.
    return JSONResponse(
        status_code=status, content={**(extra or {}), "error": code, "message": message}
    )


def _plain_facts(exc: PatronError) -> dict[str, Any]:
    """The facts an error carries that can go into a JSON answer as they are."""
    return {k: v for k, v in exc.facts.items() if isinstance(v, (int, str))}


def _wants_page(request: Request) -> bool:
    """A console page in a browser (sent to sign in) rather than an API call (told 401)."""
    return not request.url.path.startswith("/api/") and (
        "text/html" in request.headers.get("accept", "")
        or request.headers.get("hx-request") == "true"
    )


def _error_page(
    request: Request, status: int, message: str, request_id: str | None = None
) -> Response:
    """The console's HTML error page, in the page's language and layout; never a trace."""
    from patron.web.i18n import gettext as _
    from patron.web.templating import TEMPLATES

    titles = {
        400: _("Cannot read that"),
        403: _("Not allowed"),
        404: _("Not found"),
        405: _("Not allowed"),
        500: _("Something went wrong"),
    }
    return TEMPLATES.TemplateResponse(
        request,
        "error.html",
        {
            "actor": getattr(request.state, "actor", None)
            or getattr(request.state, "known_actor", None),
            "status": status,
            "title": titles.get(status, _("Error")),
            "message": message,
            "request_id": request_id,
        },
        status_code=status,
    )


def _page_message(exc: PatronError) -> str:
    """What a console page says about a refusal or a missing record (translated)."""
    from patron.web.messages import message_text

    if isinstance(exc, NotFound):
        # "customer_not_found" is also what a store-bound role sees for another store's
        # customer; any other missing record is "nothing here"
        code = "customer_not_found" if exc.code == "customer_not_found" else "not_found"
        return message_text(code) or exc.message
    return message_text("forbidden") or exc.message


async def _recognise(request: Request) -> None:
    """At an address no route answers, no sign-in check ran: look the visitor up by their
    session, so the error page still shows them their menu. A stranger gets the bare page."""
    from patron.web.security import SESSION_COOKIE, authenticate

    if getattr(request.state, "known_actor", None) is not None:
        return
    if not request.cookies.get(SESSION_COOKIE):
        return
    try:
        request.state.known_actor = await authenticate(request, request.app.state.db)
    except PatronError:
        return  # an expired or unknown session: the bare page


async def _request_invalid(request: Request, exc: RequestValidationError) -> Response:
    items = validation_items(exc.errors())
    if _wants_page(request):
        from patron.web.i18n import gettext as _

        if any(tuple(error.get("loc") or ())[:1] == ("path",) for error in exc.errors()):
            # /customers/abc: no such page, as for any other address that leads nowhere
            return _error_page(request, 404, _("There is nothing here."))
        from patron.web.forms import label

        fields = sorted({label(i["field"]) for i in items if i["field"]})
        message = _("The address or the form holds a value this page cannot read.")
        return _error_page(request, 400, f"{message} ({', '.join(fields)})" if fields else message)
    return JSONResponse(
        status_code=422,
        content={
            "error": "invalid",
            "message": _summary(items),
            "detail": items,
        },
    )


async def _model_invalid(_: Request, exc: ValidationError) -> JSONResponse:
    items = validation_items(exc.errors())
    return JSONResponse(
        status_code=422,
        content={"error": "invalid", "message": "invalid data", "detail": items},
    )


async def _invalid(_: Request, exc: InvalidInput) -> JSONResponse:
    loc = ["body", *exc.field.split(".")]
    detail = [
        {
            "loc": loc,
            "field": exc.field,
            "msg": exc.message.split(": ", 1)[-1],
            "type": exc.code,
        }
    ]
    return _json(422, exc.code, exc.message, {"detail": detail})


async def _unauthenticated(request: Request, exc: Unauthenticated) -> Response:
    if _wants_page(request):
        from urllib.parse import quote

        target = quote(request.url.path, safe="/")
        return RedirectResponse(f"/sign-in?next={target}", status_code=303)
    response = _json(401, exc.code, exc.message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="patron"'
    return response


async def _forbidden(request: Request, exc: Forbidden) -> Response:
    if _wants_page(request):
        return _error_page(request, 403, _page_message(exc))
    return _json(403, exc.code, exc.message, _plain_facts(exc))


async def _too_many(_: Request, exc: TooManyRequests) -> JSONResponse:
    response = _json(429, exc.code, exc.message, {"retry_after": exc.retry_after})
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def _not_found(request: Request, exc: NotFound) -> Response:
    if _wants_page(request):
        return _error_page(request, 404, _page_message(exc))
    return _json(404, exc.code, exc.message)


async def _http(request: Request, exc: StarletteHTTPException) -> Response:
    # No route at that address (404) or not with that method (405).
    if _wants_page(request) and exc.status_code in (404, 405):
        from patron.web.i18n import gettext as _

        await _recognise(request)
        return _error_page(request, exc.status_code, _("There is nothing here."))
    return await http_exception_handler(request, exc)


async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
    return _json(409, exc.code, exc.message, _plain_facts(exc))


async def _other(_: Request, exc: PatronError) -> JSONResponse:
    return _json(400, exc.code, exc.message)


async def _unexpected(request: Request, exc: Exception) -> Response:
    request_id = uuid.uuid4().hex[:12]
    log.exception("unhandled error %s on %s %s", request_id, request.method, request.url.path)
    if _wants_page(request):
        from patron.web.i18n import gettext as _

        return _error_page(
            request, 500, _("Quote the reference below to your administrator."), request_id
        )
    return _json(500, "internal", f"internal error; quote {request_id} to your administrator")


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to its response: the most specific kinds first, anything else a 500."""
    app.exception_handler(RequestValidationError)(_request_invalid)
    app.exception_handler(ValidationError)(_model_invalid)
    app.exception_handler(InvalidInput)(_invalid)
    app.exception_handler(Unauthenticated)(_unauthenticated)
    app.exception_handler(Forbidden)(_forbidden)
    app.exception_handler(TooManyRequests)(_too_many)
    app.exception_handler(NotFound)(_not_found)
    app.exception_handler(StarletteHTTPException)(_http)
    app.exception_handler(Conflict)(_conflict)
    app.exception_handler(PatronError)(_other)
    app.exception_handler(Exception)(_unexpected)
