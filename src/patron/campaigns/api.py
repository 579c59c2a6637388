"""Templates and campaigns over HTTP, and the public open pixel and click redirect that
measure what a campaign's messages did."""

from __future__ import annotations

import base64
import hmac
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from patron.campaigns import results, service, templates
from patron.campaigns.schemas import (
    CampaignIn,
    CampaignRead,
    Preview,
    ResultsRead,
    SendOutcome,
    TemplateIn,
    TemplateRead,
    TrialSendIn,
)
from patron.core.errors import NotFound
from patron.core.schemas import RecordId, Schema
from patron.engagement.tokens import read_message_token
from patron.web.deps import Db, PathId
from patron.web.security import CurrentActor

router = APIRouter(tags=["campaigns"])

# The smallest transparent GIF: what an e-mail's open pixel loads.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


class PreviewIn(Schema):
    customer_id: RecordId | None = None
    language: Literal["zh", "en"] = "zh"


class TrialSendOutcome(Schema):
    outcome: str


@router.get("/api/v1/campaign-templates", response_model=list[TemplateRead])
def list_templates(db: Db) -> list[TemplateRead]:
    return db.read(lambda s: templates.list_templates(session=s))


@router.post("/api/v1/campaign-templates", response_model=TemplateRead, status_code=201)
def create_template(template_in: TemplateIn, actor: CurrentActor, db: Db) -> TemplateRead:
    return db.write(
        lambda s: templates.create_template(session=s, template_in=template_in, actor=actor)
    )


@router.get("/api/v1/campaign-templates/{template_id}", response_model=TemplateRead)
def get_template(template_id: PathId, db: Db) -> TemplateRead:
    return db.read(lambda s: templates.get_template_or_raise(session=s, template_id=template_id))


@router.put("/api/v1/campaign-templates/{template_id}", response_model=TemplateRead)
def update_template(
    template_id: PathId, template_in: TemplateIn, actor: CurrentActor, db: Db
) -> TemplateRead:
    return db.write(
        lambda s: templates.update_template(
            session=s, template_id=template_id, template_in=template_in, actor=actor
        )
    )


@router.post("/api/v1/campaign-templates/{template_id}/preview", response_model=Preview)
def preview_template(
    template_id: PathId, preview_in: PreviewIn, actor: CurrentActor, db: Db
) -> Preview:
    return db.read(
        lambda s: templates.preview_template(
            session=s,
            template_id=template_id,
            customer_id=preview_in.customer_id,
            language=preview_in.language,
            store_ids=actor.store_ids,
        )
    )


@router.post("/api/v1/campaign-templates/{template_id}/test-send", response_model=TrialSendOutcome)
def send_test_message(
    template_id: PathId, send_in: TrialSendIn, actor: CurrentActor, db: Db
) -> TrialSendOutcome:
    outcome = db.write(
        lambda s: templates.send_test_message(
            session=s, template_id=template_id, send_in=send_in, actor=actor
        )
    )
    return TrialSendOutcome(outcome=outcome)


@router.get("/api/v1/campaigns", response_model=list[CampaignRead])
def list_campaigns(db: Db) -> list[CampaignRead]:
    return db.read(lambda s: service.list_campaigns(session=s))


@router.post("/api/v1/campaigns", response_model=CampaignRead, status_code=201)
def create_campaign(campaign_in: CampaignIn, actor: CurrentActor, db: Db) -> CampaignRead:
    return db.write(
        lambda s: service.create_campaign(session=s, campaign_in=campaign_in, actor=actor)
    )


@router.get("/api/v1/campaigns/{campaign_id}", response_model=CampaignRead)
def get_campaign(campaign_id: PathId, db: Db) -> CampaignRead:
    return db.read(lambda s: service.get_campaign_or_raise(session=s, campaign_id=campaign_id))


@router.post("/api/v1/campaigns/{campaign_id}/submit", response_model=CampaignRead)
def submit_campaign(campaign_id: PathId, actor: CurrentActor, db: Db) -> CampaignRead:
    return db.write(
        lambda s: service.submit_campaign(session=s, campaign_id=campaign_id, actor=actor)
    )


@router.post("/api/v1/campaigns/{campaign_id}/approve", response_model=CampaignRead)
def approve_campaign(campaign_id: PathId, actor: CurrentActor, db: Db) -> CampaignRead:
    return db.write(
        lambda s: service.approve_campaign(session=s, campaign_id=campaign_id, actor=actor)
    )


@router.post("/api/v1/campaigns/{campaign_id}/pause", response_model=CampaignRead)
def pause_campaign(campaign_id: PathId, actor: CurrentActor, db: Db) -> CampaignRead:
    return db.write(
        lambda s: service.pause_campaign(session=s, campaign_id=campaign_id, actor=actor)
    )


@router.post("/api/v1/campaigns/{campaign_id}/resume", response_model=CampaignRead)
def resume_campaign(campaign_id: PathId, actor: CurrentActor, db: Db) -> CampaignRead:
    return db.write(
        lambda s: service.resume_campaign(session=s, campaign_id=campaign_id, actor=actor)
    )


@router.post("/api/v1/campaigns/{campaign_id}/send", response_model=SendOutcome)
def send_campaign(campaign_id: PathId, actor: CurrentActor, db: Db) -> SendOutcome:
    """Send a scheduled, due campaign now; a campaign already sent is not sent again."""
    return db.write(
        lambda s: service.send_campaign(session=s, campaign_id=campaign_id, actor=actor)
    )


@router.get("/api/v1/campaigns/{campaign_id}/occurrences", response_model=list[CampaignRead])
def list_occurrences(campaign_id: PathId, db: Db) -> list[CampaignRead]:
    """A recurring campaign's occurrences sent so far (each a campaign with its results)."""

    def read(s: Session) -> list[CampaignRead]:
        service.get_campaign_or_raise(session=s, campaign_id=campaign_id)
        return service.list_occurrences(session=s, series_id=campaign_id)

    return db.read(read)


@router.get("/api/v1/campaigns/{campaign_id}/results", response_model=ResultsRead)
def campaign_results(campaign_id: PathId, actor: CurrentActor, db: Db) -> ResultsRead:
    return db.read(
        lambda s: results.campaign_results(
            session=s, campaign_id=campaign_id, store_ids=actor.store_ids
        )
    )


# ------------------------------------------------------------------------------ tracking

Token = Annotated[str, Path(min_length=3, max_length=64)]


@router.get("/o/{token}.gif", include_in_schema=False)
def open_pixel(token: Token, db: Db) -> Response:
    message_id = read_message_token(token)
    if message_id is not None:
        db.write(lambda s: results.record_event(session=s, message_id=message_id, kind="open"))
    return Response(PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})


@router.get("/c/{token}", include_in_schema=False)
def click(
    token: Token,
    db: Db,
    u: Annotated[str, Query(min_length=8, max_length=2000)],
    s: Annotated[str, Query(min_length=16, max_length=16)],
) -> Response:
    """A link of a campaign's message: recorded, then followed. Only links the campaign
    wrote are followed (their signature), so this is no open redirect."""
    if not u.startswith(("https://", "http://")) or not hmac.compare_digest(
        s, templates.click_signature(u)
    ):
        raise NotFound("no such link", message_code="not_found")
    message_id = read_message_token(token)
    if message_id is not None:
        db.write(
            lambda session: results.record_event(
                session=session, message_id=message_id, kind="click", url=u
            )
        )
    return RedirectResponse(u, status_code=302)
