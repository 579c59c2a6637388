"""Customer schemas: in and out of the API, the importer and the demo."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from patron.core.errors import rule_error
from patron.core.phone import normalise_email, normalise_phone
from patron.core.schemas import Page, RecordId, Schema, UtcInstant
from patron.core.settings import get_settings
from patron.customers.models import Gender, IdentityKind

Name = Annotated[str, Field(min_length=1, max_length=120)]
IdValue = Annotated[str, Field(min_length=1, max_length=128)]
ADDRESS_MAX_LENGTH = 255
Address = Annotated[
    str,
    Field(min_length=1, max_length=ADDRESS_MAX_LENGTH, examples=["上海市黄浦区南京东路 100 号"]),
]


class IdentitiesIn(Schema):
    """Whatever identifiers a channel knows about a person. At least one, when given."""

    phone: str | None = Field(default=None, max_length=40, examples=["13800138000"])
    email: str | None = Field(default=None, max_length=254)
    member_card: IdValue | None = None
    wechat_openid: IdValue | None = None
    wechat_appid: Annotated[str, Field(max_length=64)] = ""
    wechat_unionid: IdValue | None = None
    external_account: IdValue | None = None
    external_system: Annotated[str, Field(max_length=64)] = ""

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return normalise_phone(value, get_settings().phone_region)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return normalise_email(value)

    def identity_keys(self) -> list[tuple[str, str, str]]:
        """(kind, namespace, value) for every identifier present, highest priority first."""
        found: list[tuple[str, str, str]] = []
        if self.member_card:
            found.append((IdentityKind.MEMBER_CARD, "", self.member_card))
        if self.phone:
            found.append((IdentityKind.PHONE, "", self.phone))
        if self.wechat_unionid:
            found.append((IdentityKind.WECHAT_UNIONID, "", self.wechat_unionid))
        if self.wechat_openid:
            found.append((IdentityKind.WECHAT_OPENID, self.wechat_appid, self.wechat_openid))
        if self.external_account:
            found.append(
                (IdentityKind.EXTERNAL_ACCOUNT, self.external_system, self.external_account)
            )
        if self.email:
            found.append((IdentityKind.EMAIL, "", self.email))
        return found


class ProfileIn(Schema):
    name: Name | None = None
    gender: Gender | None = None
    birthday: date | None = None
    city: Annotated[str, Field(max_length=60)] | None = None
    address: Address | None = None
    home_store_code: Annotated[str, Field(max_length=32)] | None = None

    @field_validator("birthday")
    @classmethod
    def _plausible_birthday(cls, value: date | None) -> date | None:
        if value is not None and not date(1900, 1, 1) <= value <= date.today():  # noqa: DTZ011
            raise ValueError("birthday must be between 1900-01-01 and today")
        return value


class CustomerRef(IdentitiesIn):
    """Who an order or refund belongs to: a Patron customer id, identifiers, or both.

    Profile fields fill the gaps of a customer created or found through the identifiers;
    they never overwrite what the profile already holds.
    """

    id: RecordId | None = None
    name: Name | None = None
    gender: Gender | None = None
    birthday: date | None = None
    city: Annotated[str, Field(max_length=60)] | None = None
    address: Address | None = None

    def is_empty(self) -> bool:
        return self.id is None and not self.identity_keys()


class CustomerCreate(ProfileIn):
    """A sign-up. When an identifier already belongs to someone, that profile is updated."""

    identities: IdentitiesIn
    signup_channel: Annotated[str, Field(max_length=32)] | None = None
    signed_up_at: UtcInstant | None = None
    tags: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _needs_identity(self) -> CustomerCreate:
        if not self.identities.identity_keys():
            raise ValueError(
                "identities: give at least one of phone, email, member_card, "
                "wechat_openid, wechat_unionid, external_account"
            )
        return self


class CustomerUpdate(ProfileIn):
    """Fields to change; fields left out stay as they are, null clears."""


class IdentityRead(Schema):
    kind: IdentityKind
    namespace: str
    value: str
    created_at: datetime


class CustomerRead(Schema):
    id: int
    name: str | None
    gender: Gender | None
    birthday: date | None
    city: str | None
    home_store_code: str | None
    address: str | None = None
    signup_channel: str | None
    signed_up_at: datetime
    status: str
    merged_into_id: int | None
    identities: list[IdentityRead]
    tags: list[str]
    created_at: datetime
    updated_at: datetime


class CustomerWrite(Schema):
    """The answer to a sign-up: the profile, and whether it is new."""

    created: bool
    customer: CustomerRead


CustomerPage = Page[CustomerRead]


class CustomerFilter(Schema):
    # Names are encrypted at rest: search finds a whole name (case, width and spaces aside)
    # through its blind index. Searching for part of a name is gone, by design.
    q: str | None = Field(default=None, description="Full name, exactly (not part of a name)")
    city: str | None = None
    gender: Gender | None = None
    home_store_code: str | None = None
    tag: str | None = None
    signup_channel: str | None = None
    signed_up_from: UtcInstant | None = None
    signed_up_to: UtcInstant | None = None
    status: str | None = "active"


class InteractionCreate(Schema):
    channel: Annotated[
        str, Field(min_length=1, max_length=20, examples=["phone", "wechat", "store"])
    ]
    direction: Annotated[str, Field(pattern="^(inbound|outbound)$")] = "inbound"
    staff: Annotated[str, Field(max_length=120)] | None = None
    note: Annotated[str, Field(max_length=4000)] = ""
    occurred_at: UtcInstant | None = None


class InteractionRead(Schema):
    id: int
    customer_id: int
    channel: str
    direction: str
    staff: str | None
    note: str
    occurred_at: datetime


class MergeRead(Schema):
    id: int
    survivor_id: int
    merged_id: int
    reason: str
    moved: dict[str, list[int]]
    merged_at: datetime
    unmerged_at: datetime | None


class MergeRequest(Schema):
    other_id: RecordId = Field(description="The customer to fold into this one")
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class TagIn(Schema):
    name: Annotated[str, Field(min_length=1, max_length=60)]


class RevealRequest(Schema):
    reason: Annotated[str, Field(min_length=2, max_length=500)] = Field(
        description="Why this profile must be seen unmasked; kept in the audit log"
    )


class MergeSuggestionRead(Schema):
    """Two profiles a record says are one person, side by side (masked in every answer)."""

    id: int
    status: str
    first: CustomerRead
    second: CustomerRead
    first_orders: int
    second_orders: int
    reason: str
    store_code: str | None
    raised_by: str
    raised_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    merge_id: int | None


MergeSuggestionPage = Page[MergeSuggestionRead]


class SuggestionDecision(Schema):
    reason: Annotated[str, Field(min_length=2, max_length=200)] = Field(
        description="Why the two profiles are (or are not) one person; kept in the audit log"
    )


# ------------------------------------------------------------------------------ custom fields


class CustomFieldCreate(Schema):
    """A profile field an admin defines. ``code`` names it in the API, imports and audience
    rules; a personal field's values are encrypted and shown masked."""

    code: Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_]*$")]
    label: Annotated[str, Field(min_length=1, max_length=120)]
    kind: Literal["text", "number", "date", "choice"]
    choices: list[Annotated[str, Field(min_length=1, max_length=120)]] = Field(
        default_factory=list, max_length=200
    )
    personal: bool = False

    @model_validator(mode="after")
    def _choices(self) -> CustomFieldCreate:
        if self.kind == "choice" and not self.choices:
            raise rule_error("field_choices_required", "choices", "a choice field needs choices")
        if self.kind != "choice" and self.choices:
            raise rule_error("field_choices_unused", "choices", "only a choice field has choices")
        if len(set(self.choices)) != len(self.choices):
            raise rule_error("field_choices_repeated", "choices", "each choice once")
        return self


class CustomFieldRead(Schema):
    id: int
    code: str
    label: str
    kind: str
    choices: list[str]
    personal: bool


class CustomFieldValue(Schema):
    """A customer's value of one field, as shown: masked when personal and not revealed."""

    code: str
    label: str
    kind: str
    personal: bool
    value: str | None


class CustomFieldValuesIn(Schema):
    """Values to set, by field code; null (or "") clears one. Numbers and dates as text
    (``12.5``, ``2026-03-01``)."""

    values: dict[
        Annotated[str, Field(max_length=60)], Annotated[str, Field(max_length=500)] | None
    ] = Field(max_length=200)


class IdentityCorrectionIn(Schema):
    """Correct one identifier: ``value`` replaces ``old_value`` (needed only when the
    customer has more than one of ``kind``; with none, ``value`` is added)."""

    kind: Literal["phone", "email", "member_card"]
    value: Annotated[str, Field(min_length=1, max_length=200)]
    old_value: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class IdentityCorrectionRead(Schema):
    id: int
    customer_id: int
    kind: str
    old_value: str | None  # masked
    corrected_by: str
    corrected_at: datetime
    request_id: int | None
