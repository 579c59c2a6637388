"""Consent schemas: a change as it comes in, and the state and history going out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from patron.consent.models import ConsentChannel, ConsentPurpose, ConsentSource
from patron.core.schemas import Schema, UtcInstant


class ConsentChange(Schema):
    channel: ConsentChannel
    purpose: ConsentPurpose
    granted: bool


class ConsentIn(Schema):
    """Changes given at one moment, from one place, under one notice."""

    changes: Annotated[list[ConsentChange], Field(min_length=1, max_length=8)]
    source: ConsentSource = ConsentSource.CONSOLE
    notice_version: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    at: UtcInstant | None = None  # now when left out


class ConsentStateRead(Schema):
    channel: ConsentChannel
    purpose: ConsentPurpose
    # None: never recorded (marketing is then refused, service allowed)
    granted: bool | None
    allowed: bool  # whether a message of this purpose may go on this channel
    at: datetime | None = None
    source: str | None = None
    notice_version: str | None = None


class ConsentEventRead(Schema):
    id: int
    channel: ConsentChannel
    purpose: ConsentPurpose
    granted: bool
    at: datetime
    source: str
    notice_version: str | None
    recorded_by: str | None
    reference: str | None


class ConsentRead(Schema):
    customer_id: int
    states: list[ConsentStateRead]
    history: list[ConsentEventRead] = Field(default_factory=list)


class SmsReplyIn(Schema):
    """A reply to an SMS, as a provider's inbound callback reports it."""

    phone: Annotated[str, Field(min_length=3, max_length=32)]
    text: Annotated[str, Field(max_length=500)]
    at: UtcInstant | None = None


class SmsReplyResult(Schema):
    unsubscribed: bool
    customer_ids: list[int] = Field(default_factory=list)
