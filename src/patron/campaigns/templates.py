"""Message templates: what a campaign says on one channel, in Chinese and English, with the
variables ``name``, ``tier``, ``points``, ``coupon_code`` and ``store``; a preview with a real
customer's masked profile, the SMS length and segment count, and a test send to a member of
staff's own address (docs/campaigns.md)."""

from __future__ import annotations

import html
import math
import re
from typing import Any
from urllib.parse import quote

from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patron.audit.service import record_audit
from patron.campaigns.models import MessageTemplate
from patron.campaigns.schemas import Preview, SmsLength, TemplateIn, TemplateRead, TrialSendIn
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.crypto import blind_index
from patron.core.errors import Conflict, InvalidInput, NotFound
from patron.core.settings import Settings, get_settings
from patron.customers import service as customers
from patron.customers.masking import mask_name
from patron.engagement.channels import adapter_for
from patron.engagement.channels.base import Outgoing
from patron.engagement.render import RenderError, render
from patron.engagement.schemas import ContentIn, EmailContentIn, SmsContentIn, WechatContentIn

VARIABLES = ("name", "tier", "points", "coupon_code", "store")
# Chinese carriers count every character alike: 70 fit one SMS, a longer one goes in parts
# of 67 (the rest carries the joining header); the provider adds the signature 【…】.
SMS_SINGLE, SMS_PART = 70, 67
STOP_HINT = "退订"
_env = SandboxedEnvironment()
_PLACEHOLDER = re.compile(r"\{\{\s*(name|store)\s*(?=[|}])")
_LINK = re.compile(r"https?://[^\s<>\"'）)]+")


def variables_of(source: str, field: str) -> set[str]:
    try:
        return set(meta.find_undeclared_variables(_env.parse(source)))
    except TemplateSyntaxError as exc:
        raise InvalidInput(
            field, f"cannot be read: {exc.message}", message_code="template_syntax"
        ) from None


def _check(template_in: TemplateIn) -> None:
    texts = {
        "subject_zh": template_in.subject_zh,
        "text_zh": template_in.text_zh,
        "subject_en": template_in.subject_en,
        "text_en": template_in.text_en,
    }
    for field, source in texts.items():
        unknown = sorted(variables_of(source, field) - set(VARIABLES)) if source else []
        if unknown:
            raise InvalidInput(
                field,
                f"unknown variable {unknown[0]!r}; use {', '.join(VARIABLES)}",
                message_code="template_unknown_variable",
                variable=unknown[0],
                known=", ".join(VARIABLES),
            )
    if template_in.channel == "sms":
        for field in ("text_zh", "text_en"):
            source = texts[field]
            if source and STOP_HINT not in source and "STOP" not in source.upper():
                raise InvalidInput(
                    field,
                    "a marketing SMS tells how to stop them (回复TD退订)",
                    message_code="sms_needs_opt_out",
                )


def _read(row: MessageTemplate) -> TemplateRead:
    return TemplateRead.model_validate(row)


def create_template(*, session: Session, template_in: TemplateIn, actor: Actor) -> TemplateRead:
    _check(template_in)
    row = MessageTemplate(**template_in.model_dump(), created_by=actor.name[:120])
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(
            f"a template named {template_in.name!r} exists",
            message_code="template_name_taken",
            field="name",
        ) from None
    record_audit(
        session=session,
        actor=actor,
        action="template.create",
        target_kind="template",
        target_id=row.id,
        details={"name": row.name, "channel": row.channel},
    )
    return _read(row)


def update_template(
    *, session: Session, template_id: int, template_in: TemplateIn, actor: Actor
) -> TemplateRead:
    row = _row(session, template_id)
    _check(template_in)
    for key, value in template_in.model_dump().items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="template.update",
        target_kind="template",
        target_id=row.id,
        details={"name": row.name},
    )
    return _read(row)


def _row(session: Session, template_id: int) -> MessageTemplate:
    row = session.get(MessageTemplate, template_id)
    if row is None:
        raise NotFound(
            f"no template {template_id}", message_code="template_not_found", template_id=template_id
        )
    return row


def get_template_or_raise(*, session: Session, template_id: int) -> TemplateRead:
    return _read(_row(session, template_id))


def list_templates(*, session: Session) -> list[TemplateRead]:
    return [
        _read(r) for r in session.scalars(select(MessageTemplate).order_by(MessageTemplate.name))
    ]


# ------------------------------------------------------------------------------ content


def sms_length(text: str, sign_name: str | None = None) -> SmsLength:
    characters = len(text) + (len(sign_name) + 2 if sign_name else 0)
    segments = 1 if characters <= SMS_SINGLE else math.ceil(characters / SMS_PART)
    return SmsLength(characters=characters, segments=segments)


def _outbox_placeholders(source: str) -> str:
    """``{{ name }}`` → ``{{ customer.name }}``, ``{{ store }}`` → ``{{ store.name }}``: the
    outbox fills the profile's values at send time (never stored with the message)."""
    return _PLACEHOLDER.sub(
        lambda m: "{{ customer.name " if m.group(1) == "name" else "{{ store.name ", source
    )


def click_signature(url: str) -> str:
    return blind_index(f"campaign-click:{url}")[:16]


def _tracked_html(text: str, settings: Settings) -> str:
    """The e-mail's HTML: the text's paragraphs, every link through the signed click
    redirect, and the open pixel (both name the message by its token)."""
    base = settings.public_url.rstrip("/")

    def link(match: re.Match[str]) -> str:
        url = match.group(0)
        href = f"{base}/c/{{{{ message_token }}}}?u={quote(url, safe='')}&s={click_signature(url)}"
        return f'<a href="{href}">{html.escape(url)}</a>'

    paragraphs = []
    for block in text.split("\n\n"):
        # Escape the words, keep the placeholders: HTML values are escaped when rendered.
        escaped = html.escape(block, quote=False).replace("\n", "<br>")
        paragraphs.append(f"<p>{_LINK.sub(link, escaped)}</p>")
    pixel = f'<img src="{base}/o/{{{{ message_token }}}}.gif" width="1" height="1" alt="">'
    return "\n".join(paragraphs) + "\n" + pixel


def content_for(
    template: TemplateRead, language: str, settings: Settings | None = None
) -> ContentIn:
    """The outbox content of a template in ``language`` (Chinese when it has no English)."""
    settings = settings or get_settings()
    english = language == "en" and template.text_en
    text = _outbox_placeholders(template.text_en if english else template.text_zh)  # type: ignore[arg-type]
    subject = template.subject_en if english else template.subject_zh
    if template.channel == "email":
        return EmailContentIn(
            subject=_outbox_placeholders(subject or template.name),
            text=text,
            html=_tracked_html(text, settings),
        )
    used = sorted(variables_of(template.text_zh, "text_zh"))
    values = {v: _outbox_placeholders("{{ " + v + " }}") for v in used}
    if template.channel == "sms":
        return SmsContentIn(text=text, templates=dict(template.provider_templates), params=values)
    data = {f"thing{n}": value for n, value in enumerate(values.values(), start=1)}
    return WechatContentIn(
        template_id=template.provider_templates.get("wechat", template.name),
        data=data or {"thing1": text[:20]},
    )


def _sample_context(session: Session, customer_id: int | None) -> dict[str, Any]:
    """A real customer's values, masked: what staff may see while writing."""
    name, store = "王**", "—"
    if customer_id is not None:
        person = customers.get_customer_or_raise(session=session, customer_id=customer_id)
        name = mask_name(person.name or "")
        store = person.home_store_code or "—"
    return {
        "customer": {"id": customer_id, "name": name, "city": None},
        "store": {"code": store, "name": store},
        "tier": "—",
        "points": 0,
        "coupon_code": "CP-****",
        "message_token": "preview",
    }


def preview_template(
    *,
    session: Session,
    template_id: int,
    customer_id: int | None,
    language: str = "zh",
    store_ids: frozenset[int] | None = None,
) -> Preview:
    """The template filled for a real customer (masked; within ``store_ids`` when given)."""
    template = get_template_or_raise(session=session, template_id=template_id)
    if customer_id is not None and store_ids is not None:
        customers.check_customer_in_scope(
            session=session, customer_id=customer_id, store_ids=store_ids
        )
    context = _sample_context(session, customer_id)
    if customer_id is not None:
        from patron import loyalty

        balance = loyalty.get_balance(session=session, customer_id=customer_id)
        context["points"] = balance.available
    content = content_for(template, language)
    body = content.model_dump(exclude={"channel"})
    try:
        rendered = render(template.channel, body, context)
    except RenderError as exc:
        raise InvalidInput(exc.field, exc.problem, message_code="template_syntax") from None
    subject = getattr(rendered, "subject", None)
    text = getattr(rendered, "text", None) or " ".join(getattr(rendered, "data", {}).values())
    sms = (
        sms_length(text, get_settings().aliyun_sms_sign_name) if template.channel == "sms" else None
    )
    return Preview(customer_id=customer_id, language=language, subject=subject, text=text, sms=sms)


def send_test_message(
    *, session: Session, template_id: int, send_in: TrialSendIn, actor: Actor
) -> str:
    """Send the template, filled with sample values, to a staff member's own address (an
    e-mail address or a phone number), straight through the channel: no customer, no outbox.
    Returns the outcome's code; audited."""
    template = get_template_or_raise(session=session, template_id=template_id)
    preview = preview_template(
        session=session, template_id=template_id, customer_id=None, language=send_in.language
    )
    settings = get_settings()
    body = render(
        template.channel,
        content_for(template, send_in.language, settings).model_dump(exclude={"channel"}),
        _sample_context(session, None),
    )
    adapter = adapter_for(template.channel, settings)
    try:
        result = adapter.send(
            Outgoing(
                message_id=0,
                channel=template.channel,
                marketing=False,
                to=send_in.to,
                body=body,
                key=f"template-test-{template_id}-{int(utcnow().timestamp())}",
            ),
            lambda: True,
        )
    finally:
        adapter.close()
    record_audit(
        session=session,
        actor=actor,
        action="template.test_send",
        target_kind="template",
        target_id=template_id,
        details={
            "channel": template.channel,
            "outcome": str(result.outcome),
            "length": len(preview.text),
        },
    )
    return str(result.outcome)
