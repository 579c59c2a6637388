"""Privacy's schemas: requests, the processing register, retention policies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from patron.core.errors import rule_error
from patron.core.schemas import RecordId, Schema

RequestKindIn = Literal["access", "correction", "erasure", "withdrawal"]
ChannelIn = Literal["in_store", "phone", "email", "online", "letter", "wechat"]
Text120 = Annotated[str, Field(min_length=1, max_length=120)]


class PrivacyRequestCreate(Schema):
    customer_id: RecordId
    kind: RequestKindIn
    requested_by: Text120
    channel: ChannelIn
    verification: Annotated[str, Field(min_length=2, max_length=255)]
    details: Annotated[str, Field(max_length=2000)] = ""
    received_at: datetime | None = None  # now when left out
    due_on: date | None = None  # the working-day rule when left out


class PrivacyRequestChange(Schema):
    """Move a request on: ``start`` (in progress), ``done`` or ``refuse`` (both need the
    outcome: what was done, or why refused)."""

    action: Literal["start", "done", "refuse"]
    outcome: Annotated[str, Field(max_length=2000)] = ""

    @model_validator(mode="after")
    def _closing_says_why(self) -> Self:
        if self.action in ("done", "refuse") and len(self.outcome.strip()) < 2:
            raise rule_error("outcome_required", "outcome", "say what was done, or why refused")
        return self


class PrivacyRequestRead(Schema):
    id: int
    customer_id: int
    kind: str
    status: str
    requested_by: str
    channel: str
    verification: str
    details: str
    received_at: datetime
    due_on: date
    handler: str | None
    outcome: str | None
    closed_at: datetime | None
    created_by: str
    overdue: bool = False


class ExportIn(Schema):
    reason: Annotated[str, Field(min_length=2, max_length=500)]
    request_id: RecordId | None = None


class ActivityIn(Schema):
    purpose: Annotated[str, Field(min_length=1, max_length=200)]
    data_kinds: Annotated[str, Field(min_length=1, max_length=2000)]
    recipients: Annotated[str, Field(max_length=2000)] = ""
    retention: Annotated[str, Field(min_length=1, max_length=200)]
    legal_basis: Annotated[str, Field(min_length=1, max_length=200)]
    position: int = Field(default=0, ge=0, le=10000)


class ActivityRead(Schema):
    id: int
    purpose: str
    data_kinds: str
    recipients: str
    retention: str
    legal_basis: str
    position: int
    updated_by: str
    updated_at: datetime


class PolicyIn(Schema):
    kind: Literal["inactive_customers", "interaction_notes"]
    keep_months: int = Field(ge=1, le=1200)
    active: bool = True


class PolicyRead(Schema):
    kind: str
    keep_months: int
    active: bool
    updated_by: str
    updated_at: datetime


class HoldIn(Schema):
    """A legal hold: why the person's data must be kept for now (a dispute, an authority)."""

    reason: Annotated[str, Field(min_length=2, max_length=500)]


class HoldRead(Schema):
    """A reason an erasure must wait: ``kind`` is ``legal`` (a hold placed by the privacy
    officer, with its id), or ``ticket`` (an after-sales ticket still open)."""

    kind: Literal["legal", "ticket"]
    id: int
    reason: str
    placed_by: str | None = None
    placed_at: datetime | None = None


class ErasureIn(Schema):
    outcome: Annotated[str, Field(max_length=2000)] = ""


class ErasureRead(Schema):
    request: PrivacyRequestRead
    customer_id: int
    profiles: int
    identities: int
    interactions: int
    field_values: int
    keys_destroyed: int
    events: int = 0  # behaviour events deleted from the stream
    # ... and from the event archive (None: the analytics store was busy; the nightly
    # archive run finishes it)
    archived_events: int | None = 0
    wrapping_key_rolled: bool
    note: str | None = None
