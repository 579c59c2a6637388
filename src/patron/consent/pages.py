"""Consent on the console: the section of the customer 360 page (each channel × purpose, its
last change, the ledger's latest events) with a form to record a change (audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from patron.consent import service
from patron.consent.merges import MERGE_SOURCE
from patron.consent.models import ConsentChannel, ConsentPurpose, ConsentSource
from patron.consent.schemas import ConsentChange, ConsentIn
from patron.core.errors import InvalidInput
from patron.core.settings import get_settings
from patron.staff.roles import Permission as P
from patron.web.deps import Db, PathId
from patron.web.i18n import N_
from patron.web.sections import SectionContext, register_customer_section
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

CHANNEL_TITLES = {
    ConsentChannel.SMS: N_("SMS"),
    ConsentChannel.EMAIL: N_("E-mail"),
    ConsentChannel.WECHAT: N_("WeChat"),
    ConsentChannel.PHONE: N_("Phone calls"),
}
PURPOSE_TITLES = {
    ConsentPurpose.MARKETING: N_("Marketing"),
    ConsentPurpose.SERVICE: N_("Service messages"),
}
SOURCE_TITLES = {
    ConsentSource.TILL: N_("Till"),
    ConsentSource.MINI_PROGRAM: N_("Mini-program"),
    ConsentSource.WEB_FORM: N_("Web form"),
    ConsentSource.IMPORT: N_("Import"),
    ConsentSource.UNSUBSCRIBE: N_("Unsubscribe"),
    ConsentSource.CONSOLE: N_("Console"),
    MERGE_SOURCE: N_("Profile merge"),
}


def render_consent(ctx: SectionContext) -> str:
    consent = service.get_consent(session=ctx.session, customer_id=ctx.customer.id)
    context = {
        "consent": consent,
        "customer_id": ctx.customer.id,
        "actor": ctx.actor,
        "may_change": ctx.actor.can(P.CUSTOMERS_WRITE),
        "channels": CHANNEL_TITLES,
        "purposes": PURPOSE_TITLES,
        "sources": SOURCE_TITLES,
        "notice_version": get_settings().consent_notice_version,
    }
    return TEMPLATES.get_template("sections/consent.html").render(context)


def register_sections() -> None:
    register_customer_section("consent", N_("Consent"), render_consent, P.CUSTOMERS_READ, order=15)


register_sections()


@router.post("/customers/{customer_id}/consent")
def change_consent(
    customer_id: PathId,
    actor: CurrentActor,
    db: Db,
    channel: Annotated[str, Form(max_length=16)],
    purpose: Annotated[str, Form(max_length=16)],
    granted: Annotated[str, Form(max_length=8)],
    source: Annotated[str, Form(max_length=16)] = "console",
    notice_version: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    try:
        consent_in = ConsentIn(
            changes=[
                ConsentChange.model_validate(
                    {"channel": channel, "purpose": purpose, "granted": granted == "1"}
                )
            ],
            source=source,
            notice_version=notice_version.strip() or None,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"] if not isinstance(p, int))
        raise InvalidInput(field, "is not one of the choices", message_code="enum") from None
    db.write(
        lambda s: service.record_consent(
            session=s,
            customer_id=customer_id,
            consent_in=consent_in,
            actor=actor,
            store_ids=actor.store_ids,
        )
    )
    return RedirectResponse(f"/customers/{customer_id}#section-consent", status_code=303)
