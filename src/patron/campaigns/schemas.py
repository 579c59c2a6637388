"""Campaigns' schemas: templates, campaigns, a send's outcome and a campaign's results."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import Field, field_validator, model_validator

from patron.core.errors import rule_error
from patron.core.schemas import RecordId, Schema, ShortCode, UtcInstant

Channel = Literal["email", "sms", "wechat"]
Name = Annotated[str, Field(min_length=1, max_length=120)]


class TemplateIn(Schema):
    name: Name
    channel: Channel
    subject_zh: Annotated[str, Field(max_length=200)] | None = None
    text_zh: Annotated[str, Field(min_length=1, max_length=20_000)]
    subject_en: Annotated[str, Field(max_length=200)] | None = None
    text_en: Annotated[str, Field(max_length=20_000)] | None = None
    provider_templates: dict[
        Annotated[str, Field(max_length=32)], Annotated[str, Field(max_length=128)]
    ] = Field(default_factory=dict, examples=[{"aliyun": "SMS_465970123"}])

    @model_validator(mode="after")
    def _email_has_a_subject(self) -> TemplateIn:
        if self.channel == "email" and not self.subject_zh:
            raise rule_error("email_needs_subject", "subject_zh", "an e-mail needs a subject")
        if self.text_en and self.channel == "email" and not self.subject_en:
            raise rule_error("email_needs_subject", "subject_en", "an e-mail needs a subject")
        return self


class TemplateRead(Schema):
    id: int
    name: str
    channel: Channel
    subject_zh: str | None
    text_zh: str
    subject_en: str | None
    text_en: str | None
    provider_templates: dict[str, str]
    created_by: str
    created_at: datetime
    updated_at: datetime


class SmsLength(Schema):
    characters: int  # with the signature 【…】 the provider adds
    segments: int


class Preview(Schema):
    customer_id: int | None
    language: str
    subject: str | None
    text: str
    sms: SmsLength | None = None


class TrialSendIn(Schema):
    to: Annotated[str, Field(min_length=3, max_length=200)]
    language: Literal["zh", "en"] = "zh"


class CampaignIn(Schema):
    name: Name
    audience_id: RecordId
    # {channel: template id}: one template per channel the campaign speaks on
    templates: Annotated[dict[Channel, RecordId], Field(min_length=1, max_length=3)]
    language: Literal["zh", "en"] = "zh"
    offer: Literal["none", "coupon", "points"] = "none"
    coupon_template_code: ShortCode | None = None
    offer_points: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    send_at: UtcInstant | None = None  # None: as soon as it is approved
    holdout_percent: Annotated[float, Field(ge=0, le=50)] = 10.0
    priority: Annotated[int, Field(ge=-100, le=100)] = 0
    conversion_days: Annotated[int, Field(ge=1, le=90)] = 14
    cost_per_message_fen: Annotated[int, Field(ge=0, le=10_000)] = 0
    # Also measure the share who bought this SKU in the window (a bundle offer's consequent)
    focus_sku: ShortCode | None = None
    # Recurring, in cron form ("0 10 * * 1": Mondays at 10:00; "0 10 8 * *": the 8th of each
    # month), in ``zone`` (default: PATRON_TIMEZONE); each occurrence is a send of its own
    recurrence: Annotated[str, Field(min_length=9, max_length=120)] | None = None
    zone: Annotated[str, Field(max_length=64)] | None = None

    @field_validator("recurrence")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = " ".join(value.split())
        if len(value.split(" ")) != 5 or not croniter.is_valid(value):
            raise rule_error(  # (at the field itself: pydantic names it)
                "recurrence_invalid",
                "",
                "not a schedule: five fields, minute hour day month weekday",
            )
        return value

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise rule_error("zone_unknown", "", f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _offer_complete(self) -> CampaignIn:
        if self.offer == "coupon" and not self.coupon_template_code:
            raise rule_error(
                "offer_needs_coupon", "coupon_template_code", "a coupon offer names a template"
            )
        if self.offer == "points" and not self.offer_points:
            raise rule_error("offer_needs_points", "offer_points", "a points offer needs points")
        return self


class CampaignRead(Schema):
    id: int
    name: str
    status: str
    audience_id: int
    templates: dict[str, int]
    language: str
    offer: str
    coupon_template_code: str | None
    offer_points: int | None
    send_at: datetime | None
    holdout_bp: int
    seed: int
    priority: int
    conversion_days: int
    cost_per_message_fen: int
    focus_sku: str | None = None
    recurrence: str | None = None
    zone: str | None = None
    series_id: int | None = None
    occurrence_at: datetime | None = None
    created_by: str
    approved_by: str | None
    approved_at: datetime | None
    sent_at: datetime | None
    treated: int
    held_out: int
    messages: int
    created_at: datetime


class SendOutcome(Schema):
    campaign_id: int  # for a recurring campaign, the occurrence sent
    already_sent: bool = False
    series_id: int | None = None  # the recurring campaign this occurrence belongs to
    # A recurring campaign's occurrence found past its latest time: not sent, never late
    missed_occurrence: datetime | None = None
    audience: int = 0  # members when drawn
    held_out: int = 0
    treated: int = 0
    messages: dict[str, int] = Field(default_factory=dict)  # per channel
    unreachable: int = 0  # treated, but reachable on none of the campaign's channels
    coupons: int = 0
    points_given: int = 0


class IntervalRead(Schema):
    estimate: float
    low: float
    high: float


class GroupRead(Schema):
    customers: int
    converted: int
    rate: float
    net_sales_fen: int
    sales_per_customer_fen: float


class ResultsRead(Schema):
    campaign_id: int
    window_days: int
    window_ends_at: datetime | None
    delivery: dict[str, int]  # outbox statuses of the campaign's messages
    opened: int
    clicked: int
    unsubscribed: int
    treated: GroupRead | None = None
    holdout: GroupRead | None = None
    conversion_uplift: IntervalRead | None = None  # a share: 0.03 is 3 points
    sales_uplift_per_customer_fen: IntervalRead | None = None
    incremental_sales_fen: IntervalRead | None = None
    incremental_conversions: IntervalRead | None = None
    cost_fen: int = 0
    cost_per_incremental_sale_fen: float | None = None
    minimum_detectable_effect: float | None = None
    verdict: str = "too_small"
    scoped: bool = False  # limited to the reader's stores
    # For a campaign with a focus SKU: who bought it in the window, treated against holdout
    focus_sku: str | None = None
    focus_treated: GroupRead | None = None
    focus_holdout: GroupRead | None = None
    focus_uplift: IntervalRead | None = None
