"""Console page for the audit log: filter by actor, action, target and date; newest first."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from patron.audit import service
from patron.core.errors import InvalidInput
from patron.core.settings import get_settings
from patron.web.deps import Db
from patron.web.forms import error_line
from patron.web.i18n import N_, _, title_of
from patron.web.security import CurrentActor
from patron.web.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

PAGE = 50
_DAY_LABELS = {"since": N_("From"), "until": N_("To")}  # as the filter's boxes say
Text64 = Annotated[str, Query(max_length=64)]


def _day(value: str, field: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(field, _("is not a date like 2026-10-31")) from None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), get_settings().zone)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    actor: CurrentActor,
    db: Db,
    actor_name: Annotated[str, Query(max_length=120)] = "",
    action: Text64 = "",
    target_kind: Annotated[str, Query(max_length=32)] = "",
    target_id: Text64 = "",
    since: Annotated[str, Query(max_length=20)] = "",
    until: Annotated[str, Query(max_length=20)] = "",
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """``since`` and ``until`` are days in the shop's zone, both included."""
    filters = {
        "actor_name": actor_name.strip(),
        "action": action.strip(),
        "target_kind": target_kind.strip(),
        "target_id": target_id.strip(),
        "since": since.strip(),
        "until": until.strip(),
    }
    context: dict[str, Any] = {
        "actor": actor,
        "filters": filters,
        "error": None,
        "page": None,
        "action_title": lambda code: title_of(ACTION_TITLES, code),
        "actor_kind_title": lambda code: title_of(ACTOR_KIND_TITLES, code),
        "target_title": lambda code: title_of(TARGET_KIND_TITLES, code),
        "detail_text": detail_text,
    }
    try:
        first, last = _day(since, "since"), _day(until, "until")
        page = db.read(
            lambda s: service.list_audit(
                session=s,
                action=filters["action"] or None,
                actor_name=filters["actor_name"] or None,
                target_kind=filters["target_kind"] or None,
                target_id=filters["target_id"] or None,
                since=_start_of(first) if first else None,
                until=_start_of(last + timedelta(days=1)) if last else None,
                limit=PAGE,
                cursor=cursor,
            )
        )
    except InvalidInput as exc:
        context["error"] = error_line(exc, _DAY_LABELS)
        return TEMPLATES.TemplateResponse(request, "audit.html", context, status_code=422)
    context["page"] = page
    if page.next_cursor:
        query = {k: v for k, v in filters.items() if v}
        context["next_url"] = "/audit?" + urlencode({**query, "cursor": page.next_cursor})
    context["actions"] = [(code, title_of(ACTION_TITLES, code)) for code in ACTIONS]
    return TEMPLATES.TemplateResponse(request, "audit.html", context)


# Every action the code records, as the page names it (English msgids, translated when
# shown); the filter offers the same list. tests/audit/test_pages.py reads the actions (and
# target kinds) from the code and fails while one has no title here.
ACTION_TITLES: dict[str, str] = {
    "sign_in": N_("Signed in"),
    "sign_in_failed": N_("Sign-in failed"),
    "sign_out": N_("Signed out"),
    "password_change": N_("Changed password"),
    "staff.create": N_("Added a staff member"),
    "staff.update": N_("Changed a staff member"),
    "api_key.create": N_("Created an API key"),
    "api_key.revoke": N_("Revoked an API key"),
    "keys.rotated": N_("Rotated the encryption key"),
    "customer.reveal": N_("Revealed personal data"),
    "customer.merge": N_("Merged customers"),
    "customer.unmerge": N_("Undid a merge"),
    "customer.export": N_("Exported customers"),
    "customer.update": N_("Changed a customer's profile"),
    "customer.fill": N_("A sale or sign-up completed a profile"),
    "customer.tag_add": N_("Tagged a customer"),
    "customer.tag_remove": N_("Took a tag off a customer"),
    "merge_suggestion.raise": N_("Suggested a merge"),
    "merge_suggestion.dismiss": N_("Dismissed a merge suggestion"),
    "loyalty.adjust": N_("Adjusted points"),
    "loyalty.programme.update": N_("Changed the loyalty programme"),
    "coupon.bulk_issue": N_("Issued coupons"),
    "promotion.create": N_("Created a promotion"),
    "promotion.end": N_("Ended a promotion"),
    "lottery.create": N_("Created a lucky draw"),
    "reward.create": N_("Added a gift for points"),
    "reward.end": N_("Took a gift off the catalogue"),
    "reward.cancel": N_("Cancelled a gift redemption"),
    "offer.create": N_("Created a member offer"),
    "offer.end": N_("Ended a member offer"),
    "early_access.set": N_("Set early access"),
    "birthday_coupon.set": N_("Set a tier's birthday coupon"),
    "support.public_holidays.sync": N_("Brought in public holidays"),
    "support.public_holidays.set": N_("Changed a year's public holidays"),
    "support.calendar.create": N_("Created a business calendar"),
    "support.calendar.update": N_("Changed a business calendar"),
    "support.calendar.day.set": N_("Set a date of a business calendar"),
    "support.calendar.day.remove": N_("Removed a date of a business calendar"),
    "import.upload": N_("Uploaded a file to import"),
    "import.start": N_("Started an import"),
    "import.mapping_saved": N_("Saved an import's column mapping"),
    "import.report_downloaded": N_("Downloaded an import's rejects report"),
    "audience.create": N_("Created an audience"),
    "audience.update": N_("Changed an audience"),
    "audience.delete": N_("Deleted an audience"),
    "audience.export": N_("Exported an audience's members"),
    "custom_field.define": N_("Defined a custom field"),
    "ticket.open": N_("Opened a service ticket"),
    "ticket.status": N_("Moved a service ticket"),
    "ticket.assign": N_("Assigned a service ticket"),
    "ticket.reply": N_("Replied on a service ticket"),
    "ticket.note": N_("Noted on a service ticket"),
    "ticket.attach": N_("Added a photo to a service ticket"),
    "ticket.refund": N_("Refunded a return through a ticket"),
    "ticket.exchange": N_("Exchanged goods through a ticket"),
    "ticket.repair": N_("Updated a repair"),
    "ticket_category.create": N_("Added a ticket category"),
    "sla_policy.save": N_("Saved an SLA policy"),
    "survey.create": N_("Built a survey"),
    "survey.invite": N_("Sent a survey"),
    "consent.change": N_("Changed a customer's consent"),
    "template.create": N_("Wrote a message template"),
    "template.update": N_("Changed a message template"),
    "template.test_send": N_("Sent a template to themselves as a test"),
    "privacy.request.create": N_("Recorded a privacy request"),
    "privacy.request.start": N_("Started a privacy request"),
    "privacy.request.done": N_("Finished a privacy request"),
    "privacy.request.refuse": N_("Refused a privacy request"),
    "privacy.export": N_("Exported a person's data for an access request"),
    "customer.identity.correct": N_("Corrected a customer's identifier"),
    "privacy.erasure": N_("Erased a person's data (their data key destroyed)"),
    "privacy.hold.placed": N_("Placed a legal hold on a person's data"),
    "privacy.hold.lifted": N_("Lifted a legal hold"),
    "privacy.retention.set": N_("Set a retention policy"),
    "privacy.retention.run": N_("Ran the retention policies"),
    "privacy.register.create": N_("Added to the processing register"),
    "privacy.register.update": N_("Changed the processing register"),
    "privacy.register.delete": N_("Removed from the processing register"),
    "webhook.create": N_("Subscribed an endpoint to events"),
    "webhook.pause": N_("Paused a webhook subscription"),
    "webhook.resume": N_("Resumed a webhook subscription"),
    "webhook.rotate": N_("Rotated a webhook's secret"),
    "webhook.redeliver": N_("Sent a webhook delivery again"),
    "campaign.create": N_("Created a campaign"),
    "campaign.submit": N_("Submitted a campaign"),
    "campaign.approve": N_("Approved a campaign"),
    "campaign.pause": N_("Paused a campaign"),
    "campaign.resume": N_("Resumed a campaign"),
    "campaign.send": N_("Sent a campaign"),
    "campaign.occurrence": N_("Sent a recurring campaign's occurrence"),
    "campaign.occurrence_missed": N_("Missed a recurring campaign's occurrence (too late)"),
    "journey.create": N_("Created a journey"),
    "journey.update": N_("Changed a journey"),
    "journey.enable": N_("Switched a journey on"),
    "journey.disable": N_("Switched a journey off"),
}
ACTIONS = tuple(ACTION_TITLES)

ACTOR_KIND_TITLES: dict[str, str] = {
    "staff": N_("staff"),
    "api_key": N_("API key"),
    "system": N_("system"),
}

TARGET_KIND_TITLES: dict[str, str] = {
    "customer": N_("Customer"),
    "staff": N_("Staff member"),
    "api_key": N_("API key"),
    "keyring": N_("Encryption keys"),
    "analytics_run": N_("Analytics run"),
    "coupon_template": N_("Coupon template"),
    "loyalty_programme": N_("Loyalty programme"),
    "promotion": N_("Promotion"),
    "lottery": N_("Lucky draw"),
    "public_holiday_year": N_("Public holidays of a year"),
    "business_calendar": N_("Business calendar"),
    "import_upload": N_("Uploaded file"),
    "import_run": N_("Import"),
    "import_mapping": N_("Import column mapping"),
    "audience": N_("Audience"),
    "custom_field": N_("Custom field"),
    "retention_policy": N_("Retention policy"),
    "processing_activity": N_("Processing register line"),
    "webhook_subscription": N_("Webhook subscription"),
    "webhook_delivery": N_("Webhook delivery"),
    "campaign": N_("Campaign"),
    "journey": N_("Journey"),
    "template": N_("Message template"),
    "survey": N_("Survey"),
    "ticket": N_("Ticket"),
    "ticket_category": N_("Ticket category"),
    "sla_policy": N_("SLA policy"),
    "tier": N_("Tier"),
    "member_offer": N_("Member offer"),
    "reward": N_("Gift for points"),
    "reward_redemption": N_("Gift redemption"),
    "early_access.sku": N_("Early access to a product"),
    "early_access.category": N_("Early access to a category"),
    "early_access.offer": N_("Early access to a member offer"),
}


def detail_text(value: Any) -> str:
    """A detail's value as a person reads it: lists joined, yes/no, nothing for none."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list | tuple):
        return ", ".join(detail_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {detail_text(v)}" for k, v in value.items())
    return str(value)
