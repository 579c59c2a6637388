"""Filling a message's placeholders for one customer, in a sandbox (templates are written by
staff, not by developers): ``{{ customer.name }}``, ``{{ store.name }}``, ``{{ coupon_code }}``.
A placeholder with no value is an error (the message fails, rather than going out with a
hole in it); an empty value (a customer without a name) prints as nothing."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from patron.engagement.channels.base import Body, EmailBody, SmsBody, WechatBody


class RenderError(Exception):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def _finalize(value: Any) -> Any:
    return "" if value is None else value


_plain = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, finalize=_finalize)
_html = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True, finalize=_finalize)
_compiled: OrderedDict[tuple[bool, str], Any] = OrderedDict()
_lock = threading.Lock()
_CACHE_SIZE = 512


def _fill(source: str, context: dict[str, Any], field: str, *, html: bool = False) -> str:
    if "{" not in source:
        return source
    key = (html, source)
    with _lock:
        template = _compiled.get(key)
        if template is not None:
            _compiled.move_to_end(key)
    try:
        if template is None:
            template = (_html if html else _plain).from_string(source)
            with _lock:
                _compiled[key] = template
                while len(_compiled) > _CACHE_SIZE:
                    _compiled.popitem(last=False)
        return str(template.render(context))
    except TemplateError as exc:
        raise RenderError(field, str(exc)) from None


def render(channel: str, body: dict[str, Any], context: dict[str, Any]) -> Body:
    """The message ``body`` (a content's stored body) says to the customer of ``context``."""
    if channel == "email":
        html = body.get("html")
        return EmailBody(
            subject=_fill(body["subject"], context, "subject").replace("\n", " ").strip(),
            text=_fill(body["text"], context, "text"),
            html=_fill(html, context, "html", html=True) if html else None,
        )
    if channel == "sms":
        return SmsBody(
            text=_fill(body["text"], context, "text"),
            templates=dict(body.get("templates") or {}),
            params={
                k: _fill(v, context, f"params.{k}") for k, v in (body.get("params") or {}).items()
            },
        )
    if channel == "wechat":
        return WechatBody(
            template_id=body["template_id"],
            data={k: _fill(v, context, f"data.{k}") for k, v in body["data"].items()},
            url=_fill(body["url"], context, "url") if body.get("url") else None,
            page=_fill(body["page"], context, "page") if body.get("page") else None,
        )
    raise RenderError("channel", f"no such channel {channel!r}")
