"""A JSON route that reads its own request, answering every body exactly as FastAPI would.

For the tills' busiest call (a single order post) FastAPI's request handling is a third of
the framework's CPU: it solves the route's dependencies one by one, parses the body with
``json``, validates it through a generic field, and checks the route's context on every
call. A route made with :func:`served_by` keeps FastAPI's declaration (its OpenAPI, its
permission rule, its body limit), but its request is handled by a plain coroutine that
does the same steps in the same order (docs/architecture.md, "Order intake over HTTP"):

1. read the body; one that is not JSON is 422 ``json_invalid`` before anything else;
2. ``authorize`` (the application-wide dependency: who calls, and may they);
3. validate the body against the route's model: 422 naming the fields, as FastAPI says it.

The body is parsed with ``json`` as FastAPI parses it, so what ``json`` accepts beyond
strict JSON (NaN, integers beyond 64 bits, UTF-16) and how it words a refusal stay
FastAPI's. tests/orders/test_post_bodies.py holds the two side by side.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from fastapi import HTTPException, Request, Response
from fastapi._body_limit import get_body_limit_error
from fastapi._compat.v2 import get_missing_field_error
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY

from patron.web.security import authorize

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
M = TypeVar("M")

MISSING: Any = object()  # no body at all: FastAPI reports the body as a missing field


def _json_content(content_type: str) -> bool:
    """FastAPI's test of a content type: ``application/json`` or ``application/…+json``."""
    if content_type == "application/json":
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


async def json_body(request: Request) -> Any:
    """The request's body as FastAPI hands it to a body parameter (strict content type):
    parsed JSON, the raw bytes when the content type is not JSON, or ``MISSING``."""
    try:
        raw = await request.body()
        if not raw:
            return MISSING
        content_type = request.headers.get("content-type")
        if not content_type or not _json_content(content_type):
            return raw
        # FastAPI's own parser (Starlette's ``Request.json``), not orjson: orjson reads an
        # integer beyond 64 bits as a float, which validation then words otherwise.
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", exc.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
            ],
            body=exc.doc,
        ) from exc
    except HTTPException:
        raise
    except Exception as exc:
        if MAX_BODY_SIZE_SCOPE_KEY in request.scope and (error := get_body_limit_error(exc)):
            raise error from exc
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc


def validated(adapter: TypeAdapter[M], body: Any) -> M:
    """``body`` as the route's model, or the 422 FastAPI gives for it (fields under "body")."""
    if body is MISSING:
        raise RequestValidationError([get_missing_field_error(("body",))], body=None)
    try:
        return adapter.validate_python(body, from_attributes=True)
    except ValidationError as exc:
        errors = [
            {**error, "loc": ("body", *error.get("loc", ()))}
            for error in exc.errors(include_url=False)
        ]
        raise RequestValidationError(errors, body=body) from None


def served_by(handler: Handler) -> type[APIRoute]:
    """A route class whose requests go to ``handler``, which must read its body with
    :func:`json_body`, then await :func:`authorize`, then validate with :func:`validated`.
    The route's declared endpoint still gives its OpenAPI; a route declaring anything the
    handler would not do (a dependency of its own, a loose content type) is refused."""

    class SelfServed(APIRoute):
        def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
            super().__init__(path, endpoint, **kwargs)
            own = {d.call for d in self.dependant.dependencies} - {authorize}
            if own or self.strict_content_type is False:
                raise TypeError(f"{path}: {handler.__name__} runs no dependency but authorize")

        def get_route_handler(self) -> Handler:
            return handler

    return SelfServed
