"""Campaigns' tables: message templates, campaigns, each assigned customer (treated or held
out, stored so the measurement reads the groups as drawn), and opens and clicks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from patron.core.clock import utcnow
from patron.core.models import Base, BigId, IdPk, UTCDateTime


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    AWAITING_APPROVAL = "awaiting_approval"
    SCHEDULED = "scheduled"  # approved; sends at ``send_at`` (or at once)
    PAUSED = "paused"
    SENT = "sent"  # the audience was drawn and every message is in the outbox


class OfferKind(StrEnum):
    NONE = "none"
    COUPON = "coupon"
    POINTS = "points"


class MessageTemplate(Base):
    """What a campaign says on one channel, in Chinese and English, with variables
    (``{{ name }}``, ``{{ tier }}``, ``{{ points }}``, ``{{ coupon_code }}``, ``{{ store }}``)."""

    __tablename__ = "message_template"

    id: Mapped[IdPk]
    name: Mapped[str] = mapped_column(String(120), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    subject_zh: Mapped[str | None] = mapped_column(String(200))
    text_zh: Mapped[str] = mapped_column(Text)
    subject_en: Mapped[str | None] = mapped_column(String(200))
    text_en: Mapped[str | None] = mapped_column(Text)
    # The providers' approved templates (SMS: {"aliyun": "SMS_…"}; WeChat: {"wechat": id}).
    provider_templates: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Campaign(Base):
    """A campaign; a recurring one (``recurrence``, cron form, in ``zone``) is a series whose
    ``send_at`` is its next occurrence: each occurrence is sent as a campaign of its own
    (``series_id``, ``occurrence_at``) with its own holdout draw and results."""

    __tablename__ = "campaign"
    __table_args__ = (
        Index("ux_campaign_series_id_occurrence_at", "series_id", "occurrence_at", unique=True),
    )

    id: Mapped[IdPk]
    name: Mapped[str] = mapped_column(String(120), unique=True)
    status: Mapped[str] = mapped_column(String(24), default=CampaignStatus.DRAFT)
    audience_id: Mapped[int] = mapped_column(BigId)
    # {channel: template id}, in the order the channels were chosen
    templates: Mapped[dict[str, int]] = mapped_column(JSON)
    language: Mapped[str] = mapped_column(String(8), default="zh")
    offer: Mapped[str] = mapped_column(String(16), default=OfferKind.NONE)
    coupon_template_code: Mapped[str | None] = mapped_column(String(64))
    offer_points: Mapped[int | None] = mapped_column(Integer)
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: on approval
    holdout_bp: Mapped[int] = mapped_column(Integer)  # basis points: 1000 holds 10 % out
    seed: Mapped[int] = mapped_column(BigInteger)  # the draw of the holdout, reproducible
    priority: Mapped[int] = mapped_column(Integer, default=0)
    conversion_days: Mapped[int] = mapped_column(Integer, default=14)
    cost_per_message_fen: Mapped[int] = mapped_column(Integer, default=0)
    # A bundle offer's consequent: the results also measure who bought this SKU (None: none)
    focus_sku: Mapped[str | None] = mapped_column(String(64))
    # Recurring: "0 10 * * 1" (Mondays 10:00) in ``zone``; None: sent once
    recurrence: Mapped[str | None] = mapped_column(String(120))
    zone: Mapped[str | None] = mapped_column(String(64))
    # An occurrence of a recurring campaign: the series and the occurrence's time
    series_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("campaign.id"))
    occurrence_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(120))
    approved_by: Mapped[str | None] = mapped_column(String(120))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What the send found: assigned to each group, and left out (no consent, no address …)
    treated: Mapped[int] = mapped_column(Integer, default=0)
    held_out: Mapped[int] = mapped_column(Integer, default=0)
    messages: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CampaignMember(Base):
    """One customer the send drew, in the group they were assigned to."""

    __tablename__ = "campaign_member"

    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaign.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"), primary_key=True)
    holdout: Mapped[bool] = mapped_column(Boolean)
    # Channels a message was written on ("email,sms"); empty: held out or reachable on none
    channels: Mapped[str] = mapped_column(String(64), default="")
    coupon_code: Mapped[str | None] = mapped_column(String(64))


class CampaignEvent(Base):
    """An open (the pixel) or a click (a signed redirect link) of a campaign's message."""

    __tablename__ = "campaign_event"
    __table_args__ = (Index("ix_campaign_event_campaign_id_kind", "campaign_id", "kind"),)

    id: Mapped[IdPk]
    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaign.id"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customer.id"))
    message_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
