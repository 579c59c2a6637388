"""Campaigns: an audience, a template per channel, an optional offer, a schedule, a holdout
and a priority; draft → awaiting approval → scheduled → sent (paused on the way), and the
send itself (docs/campaigns.md).

The send draws the audience as of the moment it runs, assigns every member to the holdout or
the treated group by the stored seed, leaves out those no channel may reach (consent), issues
the offer and writes one outbox message per recipient, the members and the campaign's new
state, all in the caller's transaction: the messages exist exactly when the decision does,
and a second send finds the campaign sent and does nothing. Caps, quiet hours and consent
are asked again when each message goes (``patron.engagement``). Services take ``session``
keyword-only and never commit.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import numpy as np
from croniter import croniter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patron import audiences, consent, loyalty
from patron.audit.service import record_audit
from patron.campaigns import templates as campaign_templates
from patron.campaigns.holdout import held_out
from patron.campaigns.models import Campaign, CampaignMember, CampaignStatus, OfferKind
from patron.campaigns.schemas import CampaignIn, CampaignRead, SendOutcome
from patron.core import bulk
from patron.core.actor import Actor
from patron.core.clock import utcnow
from patron.core.errors import Conflict, InvalidInput, NotFound
from patron.core.settings import get_settings
from patron.engagement import service as outbox
from patron.engagement.schemas import MessagesIn

SOURCE_KIND = "campaign"


def _read(row: Campaign) -> CampaignRead:
    return CampaignRead.model_validate(row)


def _row(session: Session, campaign_id: int, *, lock: bool = False) -> Campaign:
    query = select(Campaign).where(Campaign.id == campaign_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound(
            f"no campaign {campaign_id}", message_code="campaign_not_found", campaign_id=campaign_id
        )
    return row


def get_campaign_or_raise(*, session: Session, campaign_id: int) -> CampaignRead:
    return _read(_row(session, campaign_id))


def list_campaigns(*, session: Session) -> list[CampaignRead]:
    rows = session.scalars(
        select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())
    )
    return [_read(r) for r in rows]


def _check(session: Session, campaign_in: CampaignIn) -> None:
    audiences.get_audience_or_raise(session=session, audience_id=campaign_in.audience_id)
    for channel, template_id in campaign_in.templates.items():
        template = campaign_templates.get_template_or_raise(
            session=session, template_id=template_id
        )
        if template.channel != channel:
            raise InvalidInput(
                f"templates.{channel}",
                f"template {template.name!r} is for {template.channel}",
                message_code="template_wrong_channel",
                channel=template.channel,
            )


def create_campaign(*, session: Session, campaign_in: CampaignIn, actor: Actor) -> CampaignRead:
    """A draft; the holdout's seed is drawn now and stored, so the groups can be drawn again."""
    _check(session, campaign_in)
    row = Campaign(
        name=campaign_in.name,
        status=CampaignStatus.DRAFT,
        audience_id=campaign_in.audience_id,
        templates=dict(campaign_in.templates),
        language=campaign_in.language,
        offer=campaign_in.offer,
        coupon_template_code=campaign_in.coupon_template_code,
        offer_points=campaign_in.offer_points,
        send_at=campaign_in.send_at,
        holdout_bp=round(campaign_in.holdout_percent * 100),
        seed=secrets.randbits(62),
        priority=campaign_in.priority,
        conversion_days=campaign_in.conversion_days,
        cost_per_message_fen=campaign_in.cost_per_message_fen,
        focus_sku=campaign_in.focus_sku,
        created_by=actor.name[:120],
    )
    if campaign_in.recurrence is not None:
        row.recurrence = campaign_in.recurrence
        row.zone = campaign_in.zone or get_settings().timezone
        row.send_at = next_occurrence(row, after=(campaign_in.send_at or utcnow()) - _SECOND)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(
            f"a campaign named {campaign_in.name!r} exists",
            message_code="campaign_name_taken",
            field="name",
        ) from None
    _audit(session, actor, "campaign.create", row)
    return _read(row)


def _audit(session: Session, actor: Actor, action: str, row: Campaign, **details: Any) -> None:
    record_audit(
        session=session,
        actor=actor,
        action=action,
        target_kind="campaign",
        target_id=row.id,
        details={"name": row.name, "status": row.status, **details},
    )


def _move(
    session: Session,
    campaign_id: int,
    actor: Actor,
    *,
    allowed: Sequence[str],
    to: str,
    action: str,
) -> Campaign:
    row = _row(session, campaign_id, lock=True)
    if row.status not in allowed:
        raise Conflict(
            f"campaign {campaign_id} is {row.status}",
            message_code="campaign_wrong_state",
            status=row.status,
        )
    row.status = to
    row.updated_at = utcnow()
    session.flush()
    _audit(session, actor, action, row)
    return row


def submit_campaign(*, session: Session, campaign_id: int, actor: Actor) -> CampaignRead:
    """Ask for approval; where none is required (PATRON_CAMPAIGN_APPROVAL=false), scheduled."""
    to = (
        CampaignStatus.AWAITING_APPROVAL
        if get_settings().campaign_approval
        else CampaignStatus.SCHEDULED
    )
    return _read(
        _move(
            session,
            campaign_id,
            actor,
            allowed=[CampaignStatus.DRAFT],
            to=to,
            action="campaign.submit",
        )
    )


def approve_campaign(*, session: Session, campaign_id: int, actor: Actor) -> CampaignRead:
    row = _move(
        session,
        campaign_id,
        actor,
        allowed=[CampaignStatus.AWAITING_APPROVAL],
        to=CampaignStatus.SCHEDULED,
        action="campaign.approve",
    )
    row.approved_by = actor.name[:120]
    row.approved_at = utcnow()
    session.flush()
    return _read(row)


def pause_campaign(*, session: Session, campaign_id: int, actor: Actor) -> CampaignRead:
    """Stop a campaign before its send, or after it: then its messages not yet handed to a
    provider are held in the outbox until it is resumed (docs/campaigns.md)."""
    row = _move(
        session,
        campaign_id,
        actor,
        allowed=[CampaignStatus.SCHEDULED, CampaignStatus.AWAITING_APPROVAL, CampaignStatus.SENT],
        to=CampaignStatus.PAUSED,
        action="campaign.pause",
    )
    if row.sent_at is not None:
        outbox.hold_messages(session=session, source_kind=SOURCE_KIND, source_id=str(row.id))
    return _read(row)


def resume_campaign(
    *, session: Session, campaign_id: int, actor: Actor, now: datetime | None = None
) -> CampaignRead:
    """Back to where a pause can lead: sent again, its held messages released, when it was
    paused after its send; otherwise scheduled, after a new approval if required."""
    now = now or utcnow()
    row = _row(session, campaign_id)
    if row.sent_at is not None:
        to = CampaignStatus.SENT
    elif row.approved_at is not None or not get_settings().campaign_approval:
        to = CampaignStatus.SCHEDULED
    else:
        to = CampaignStatus.AWAITING_APPROVAL
    row = _move(
        session,
        campaign_id,
        actor,
        allowed=[CampaignStatus.PAUSED],
        to=to,
        action="campaign.resume",
    )
    if row.sent_at is not None:
        outbox.release_messages(session=session, source_kind=SOURCE_KIND, source_id=str(row.id))
    elif row.recurrence and row.send_at is not None and row.send_at < now:
        # occurrences that fell while paused are not sent afterwards
        row.send_at = next_occurrence(row, after=now)
        session.flush()
    return _read(row)


# ------------------------------------------------------------------------------ sending


def _variables(
    session: Session, row: Campaign, recipients: Sequence[int], codes: dict[int, str]
) -> dict[int, dict[str, str | int]]:
    """Per recipient, the values the templates name besides the profile's."""
    used: set[str] = set()
    for template_id in row.templates.values():
        t = campaign_templates.get_template_or_raise(session=session, template_id=template_id)
        for source in (t.subject_zh, t.text_zh, t.subject_en, t.text_en):
            if source:
                used |= campaign_templates.variables_of(source, "text")
    standings: dict[int, tuple[str, int]] = {}
    if used & {"tier", "points"}:
        wanted = set(recipients)
        standings = {
            cid: (tier, points)
            for cid, tier, points in loyalty.member_standings(session=session)
            if cid in wanted
        }
    found: dict[int, dict[str, str | int]] = {}
    if not used & {"coupon_code", "tier", "points"}:
        return found  # (the profile fills the rest when each message goes)
    for cid in recipients:
        values: dict[str, str | int] = {}
        if "coupon_code" in used:
            values["coupon_code"] = codes.get(cid, "")
        if "tier" in used or "points" in used:
            tier, points = standings.get(cid, ("", 0))
            values["tier"], values["points"] = tier, points
        found[cid] = values
    return found


def _choose_channels(session: Session, channels: Sequence[str], treated: np.ndarray) -> np.ndarray:
    """Each treated customer's channel, as its place in ``channels`` (-1: none): the first
    of the campaign's, in its order, that their consent allows (one message per customer per
    campaign)."""
    chosen = np.full(len(treated), -1, dtype=np.int64)
    for place, channel in enumerate(channels):
        left = np.flatnonzero(chosen < 0)
        if not len(left):
            break
        ok = consent.reachable_for_marketing(
            session=session, customer_ids=treated[left].tolist(), channel=channel
        )
        allowed = np.fromiter(ok, dtype=np.int64, count=len(ok))
        chosen[left[np.isin(treated[left], allowed)]] = place
    return chosen


def _give_offer(
    session: Session, row: Campaign, recipients: list[int], actor: Actor, now: datetime
) -> tuple[list[int], dict[int, str], int]:
    """Issue the offer to the recipients through loyalty: (those who got it, their coupon
    codes, points given). A member at the coupon's per-member limit gets no message."""
    codes: dict[int, str] = {}
    if row.offer == OfferKind.COUPON and row.coupon_template_code:
        loyalty.issue_coupons(
            session=session,
            template_code=row.coupon_template_code,
            customer_ids=recipients,
            actor=actor,
            audience=f"campaign {row.id} {row.name}"[:200],
            now=now,
            codes_out=codes,
        )
        return [cid for cid in recipients if cid in codes], codes, 0
    given = 0
    if row.offer == OfferKind.POINTS and row.offer_points:
        adjustment = loyalty.AdjustmentIn(
            points=row.offer_points, reason=f"campaign {row.id}", staff=actor.name[:120]
        )
        for cid in recipients:
            loyalty.adjust_points(
                session=session, customer_id=cid, adjustment_in=adjustment, actor=actor, now=now
            )
            given += row.offer_points
    return recipients, codes, given


def send_campaign(
    *, session: Session, campaign_id: int, actor: Actor, now: datetime | None = None
) -> SendOutcome:
    """Send a scheduled campaign that is due (see the module's docstring). Sending a campaign
    already sent returns ``already_sent`` and writes nothing."""
    now = now or utcnow()
    row = _row(session, campaign_id, lock=True)
    if row.status == CampaignStatus.SENT:
        return SendOutcome(campaign_id=row.id, already_sent=True)
    if row.status != CampaignStatus.SCHEDULED:
        raise Conflict(
            f"campaign {campaign_id} is {row.status}",
            message_code="campaign_wrong_state",
            status=row.status,
        )
    if row.send_at is not None and row.send_at > now:
        raise Conflict(
            f"campaign {campaign_id} is due at {row.send_at.isoformat()}",
            message_code="campaign_not_due",
        )
    if row.recurrence:
        return _send_occurrence(session, row, actor, now)
    members = np.asarray(
        audiences.member_ids(session=session, audience_id=row.audience_id, now=now),
        dtype=np.int64,
    )
    holdout_mask = held_out(members, seed=row.seed, holdout_bp=row.holdout_bp)
    treated = members[~holdout_mask]
    channels = list(row.templates)
    chosen = _choose_channels(session, channels, treated)
    reached = chosen >= 0
    recipients, codes, points = _give_offer(session, row, treated[reached].tolist(), actor, now)
    variables = _variables(session, row, recipients, codes)
    # Each member's channel (its place in ``channels`` + 1; 0: none): held out, reachable on
    # no channel, or given no offer (a member at the coupon's limit) get no message.
    place = np.zeros(len(members), dtype=np.int64)
    place[np.flatnonzero(~holdout_mask)[reached]] = chosen[reached] + 1
    if len(recipients) < int(reached.sum()):
        place[~np.isin(members, np.asarray(recipients, dtype=np.int64))] = 0
    member_ids = members.tolist()
    bulk.insert_tuples(
        session,
        "campaign_member",
        ("campaign_id", "customer_id", "holdout", "channels", "coupon_code"),
        zip(
            itertools.repeat(row.id),
            member_ids,
            holdout_mask.tolist(),
            np.asarray(["", *channels], dtype=object)[place].tolist(),
            [codes.get(cid) for cid in member_ids] if codes else itertools.repeat(None),
            strict=False,
        ),
    )
    messages: dict[str, int] = {}
    for number, (channel, template_id) in enumerate(row.templates.items(), start=1):
        if not (place == number).any():
            continue
        template = campaign_templates.get_template_or_raise(
            session=session, template_id=template_id
        )
        content_id = outbox.create_content(
            session=session, content_in=campaign_templates.content_for(template, row.language)
        )
        messages_in = MessagesIn.model_validate(
            {
                "source_kind": SOURCE_KIND,
                "source_id": str(row.id),
                "channel": channel,
                "purpose": "marketing",
                "content_id": content_id,
                "recipients": [],
                "priority": row.priority,
                "send_at": now,
            }
        )
        if variables:
            # Plain tuples, written set-based: no object or dictionary per recipient.
            mine = members[place == number].tolist()
            result = outbox.enqueue_rows(
                session=session,
                messages_in=messages_in,
                rows=[(cid, variables.get(cid) or None) for cid in mine],
            )
        else:
            # The members just written on this channel, straight from their table.
            result = outbox.enqueue_selected(
                session=session,
                messages_in=messages_in,
                customer_ids=select(CampaignMember.customer_id).where(
                    CampaignMember.campaign_id == row.id, CampaignMember.channels == channel
                ),
            )
        messages[channel] = result.created
    row.status = CampaignStatus.SENT
    row.sent_at = now
    row.treated = len(treated)
    row.held_out = int(holdout_mask.sum())
    row.messages = sum(messages.values())
    row.updated_at = now
    session.flush()
    outcome = SendOutcome(
        campaign_id=row.id,
        audience=len(members),
        held_out=row.held_out,
        treated=row.treated,
        messages=messages,
        unreachable=len(treated) - int(reached.sum()),
        coupons=len(codes),
        points_given=points,
    )
    _audit(session, actor, "campaign.send", row, **outcome.model_dump(exclude={"campaign_id"}))
    return outcome


# ------------------------------------------------------------------------------ recurring

_SECOND = timedelta(seconds=1)
_COPIED = (
    "audience_id",
    "templates",
    "language",
    "offer",
    "coupon_template_code",
    "offer_points",
    "holdout_bp",
    "priority",
    "conversion_days",
    "cost_per_message_fen",
    "focus_sku",
    "created_by",
    "approved_by",
    "approved_at",
)


def next_occurrence(row: Campaign, *, after: datetime) -> datetime:
    """A recurring campaign's first occurrence strictly after ``after``, read in its zone
    (Mondays at 10:00 are 10:00 in Shanghai), as a UTC instant."""
    zone = ZoneInfo(row.zone or get_settings().timezone)
    local = after.astimezone(zone)
    found = croniter(row.recurrence, local).get_next(datetime)
    return cast(datetime, found).astimezone(UTC)


def _send_occurrence(
    session: Session, series: Campaign, actor: Actor, now: datetime
) -> SendOutcome:
    """Send a recurring campaign's due occurrence as a campaign of its own (its own holdout
    draw, audience as of now, results), and move the series on to its next occurrence. An
    occurrence found later than the messages' maximum lateness is passed over, never sent
    late; the unique (series, occurrence) makes a second send of it impossible."""
    occurrence = series.send_at or now
    series.send_at = next_occurrence(series, after=max(now, occurrence))
    series.updated_at = now
    session.flush()
    lateness = timedelta(hours=get_settings().message_max_lateness_hours)
    if now - occurrence > lateness:
        _audit(
            session, actor, "campaign.occurrence_missed", series, occurrence=occurrence.isoformat()
        )
        return SendOutcome(campaign_id=series.id, series_id=series.id, missed_occurrence=occurrence)
    local = occurrence.astimezone(ZoneInfo(series.zone or get_settings().timezone))
    child = Campaign(
        **{name: getattr(series, name) for name in _COPIED},
        name=f"{series.name[:96]} · {local:%Y-%m-%d %H:%M}",
        status=CampaignStatus.SCHEDULED,
        send_at=occurrence,
        seed=secrets.randbits(62),
        series_id=series.id,
        occurrence_at=occurrence,
    )
    try:
        with session.begin_nested():
            session.add(child)
            session.flush()
    except IntegrityError:
        raise Conflict(
            f"campaign {series.id}'s occurrence at {occurrence.isoformat()} exists",
            message_code="campaign_wrong_state",
            status=CampaignStatus.SENT,
        ) from None
    _audit(session, actor, "campaign.occurrence", child, series_id=series.id)
    outcome = send_campaign(session=session, campaign_id=child.id, actor=actor, now=now)
    outcome.series_id = series.id
    return outcome


def list_occurrences(*, session: Session, series_id: int) -> list[CampaignRead]:
    """A recurring campaign's occurrences sent so far, the latest first."""
    rows = session.scalars(
        select(Campaign)
        .where(Campaign.series_id == series_id)
        .order_by(Campaign.occurrence_at.desc(), Campaign.id.desc())
    )
    return [_read(r) for r in rows]


def due_campaign_ids(*, session: Session, now: datetime) -> list[int]:
    """Scheduled campaigns whose time has come (or that wait for no time)."""
    rows = session.scalars(
        select(Campaign.id)
        .where(Campaign.status == CampaignStatus.SCHEDULED)
        .where((Campaign.send_at.is_(None)) | (Campaign.send_at <= now))
        .order_by(Campaign.priority.desc(), Campaign.id)
    )
    return list(rows)


def campaign_members(
    *, session: Session, campaign_id: int
) -> list[tuple[int, bool, str, str | None]]:
    """(customer id, held out, channel written on or "", coupon code) of each member drawn."""
    rows = session.execute(
        select(
            CampaignMember.customer_id,
            CampaignMember.holdout,
            CampaignMember.channels,
            CampaignMember.coupon_code,
        )
        .where(CampaignMember.campaign_id == campaign_id)
        .order_by(CampaignMember.customer_id)
    )
    return [(int(c), bool(h), ch, code) for c, h, ch, code in rows]
