"""Consent over HTTP: a customer's consent (read and change, audited), the public one-click
unsubscribe of RFC 8058 (``/u/<token>``: a page on GET, the withdrawal on POST, so a mail
scanner fetching the link changes nothing) and the SMS providers' inbound callbacks that carry
"回复TD退订" replies."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from patron.consent import service
from patron.consent.schemas import ConsentIn, ConsentRead, SmsReplyIn, SmsReplyResult
from patron.core.clock import as_utc
from patron.core.errors import InvalidInput, NotFound
from patron.core.settings import get_settings
from patron.web.deps import Db, PathId
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(tags=["consent"])

Token = Annotated[str, Path(min_length=3, max_length=64)]


@router.get("/api/v1/customers/{customer_id}/consent", response_model=ConsentRead)
def get_consent(customer_id: PathId, actor: CurrentActor, db: Db) -> ConsentRead:
    return db.read(
        lambda s: service.get_consent(
            session=s, customer_id=customer_id, store_ids=actor.store_ids, check=True
        )
    )


@router.post("/api/v1/customers/{customer_id}/consent", response_model=ConsentRead)
def change_consent(
    customer_id: PathId, consent_in: ConsentIn, actor: CurrentActor, db: Db
) -> ConsentRead:
    return db.write(
        lambda s: service.record_consent(
            session=s,
            customer_id=customer_id,
            consent_in=consent_in,
            actor=actor,
            store_ids=actor.store_ids,
        )
    )


# ------------------------------------------------------------------------------ unsubscribe


def _unsubscribe_page(request: Request, state: str, status: int = 200) -> Response:
    token = request.path_params.get("token", "")
    return TEMPLATES.TemplateResponse(
        request, "consent/unsubscribe.html", {"state": state, "token": token}, status_code=status
    )


@router.get("/u/{token}", response_class=HTMLResponse, include_in_schema=False)
def unsubscribe_page(token: Token, request: Request, db: Db) -> Response:
    found = db.read(lambda s: service.message_of_token(session=s, token=token))
    if found is None:
        return _unsubscribe_page(request, "invalid", 404)
    return _unsubscribe_page(request, "ask")


@router.post("/u/{token}", response_class=HTMLResponse, include_in_schema=False)
def unsubscribe(token: Token, request: Request, db: Db) -> Response:
    """RFC 8058's one-click POST (body ``List-Unsubscribe=One-Click``), or the page's button."""
    changed = db.write(lambda s: service.unsubscribe(session=s, token=token))
    if changed is None:
        return _unsubscribe_page(request, "invalid", 404)
    return _unsubscribe_page(request, "done")


# ------------------------------------------------------------------------------ SMS replies


def _check_hook(secret: str) -> None:
    expected = get_settings().sms_inbound_token
    if expected is None or not hmac.compare_digest(
        secret.encode(), expected.get_secret_value().encode()
    ):
        raise NotFound("no such hook", message_code="not_found")


@router.post("/hooks/sms/{secret}/replies", response_model=SmsReplyResult)
def sms_reply(secret: Token, reply_in: SmsReplyIn, db: Db) -> SmsReplyResult:
    """A reply as any provider's relay posts it: ``{"phone": …, "text": …, "at": …}``."""
    _check_hook(secret)
    return db.write(lambda s: service.record_sms_reply(session=s, reply_in=reply_in))


def _aliyun_time(value: Any) -> datetime | None:
    """Aliyun's ``send_time``: "2026-12-06 10:00:00", Beijing time."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value), get_settings().zone)
    except ValueError:
        return None


@router.post("/hooks/sms/{secret}/aliyun")
def aliyun_sms_replies(
    secret: Token, db: Db, replies: Annotated[list[dict[str, Any]], Body(max_length=1000)]
) -> JSONResponse:
    """Aliyun's SmsUp push: a JSON array of ``{"phone_number", "content", "send_time",
    "sign_name", "dest_code", "sequence_id"}``; Aliyun wants ``{"code": 0}`` back, or it
    pushes the batch again (which records nothing twice)."""
    _check_hook(secret)
    parsed = []
    for n, item in enumerate(replies):
        phone, text = item.get("phone_number"), item.get("content")
        if not isinstance(phone, str) or not isinstance(text, str):
            raise InvalidInput(
                f"{n}.phone_number", "each reply needs phone_number and content", row=n
            )
        parsed.append(SmsReplyIn(phone=phone, text=text, at=_aliyun_time(item.get("send_time"))))

    def work(s: Any) -> None:
        for reply_in in parsed:
            try:
                service.record_sms_reply(session=s, reply_in=reply_in)
            except InvalidInput:
                continue  # a number we cannot read is nobody's: Aliyun must not retry it

    db.write(work)
    return JSONResponse({"code": 0, "msg": "接收成功"})
