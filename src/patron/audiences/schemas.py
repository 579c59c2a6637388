"""An audience's definition: AND/OR groups of conditions, stored as JSON and compiled to one
query on the analytics store (``compile.py``); and the audience's API shapes.

Every condition names its ``kind``; the kinds and what they read are listed in
docs/audiences.md. Codes of segments, stages and churn bands are those of the analytics
definitions (a test keeps the two lists equal).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Self, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from patron.core.errors import rule_error

SEGMENT_CODES = (
    "important_value",
    "important_develop",
    "important_keep",
    "important_retain",
    "general_value",
    "general_develop",
    "general_keep",
    "general_retain",
)
STAGE_CODES = ("prospect", "new", "active", "loyal", "won_back", "at_risk", "lapsed")
CHURN_BANDS = ("low", "medium", "high", "lapsed")
AGE_BANDS = ("under_18", "18_24", "25_34", "35_44", "45_54", "55_64", "65_plus")
GENDERS = ("female", "male", "other")
MAX_DEPTH = 4
MAX_CONDITIONS = 60

NumberOp = Literal["eq", "ne", "gt", "gte", "lt", "lte", "between"]
SetOp = Literal["in", "not_in"]
DateOp = Literal["before", "after", "within_last_days", "more_than_days_ago"]


class _Condition(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Numeric(_Condition):
    """``value`` (and ``value_to`` for between, inclusive)."""

    op: NumberOp = "gte"
    value: int = 0
    value_to: int | None = None

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.op == "between":
            if self.value_to is None:
                raise rule_error("audience_value_to_required", "value_to", "is needed for between")
            if self.value_to < self.value:
                raise rule_error("audience_range_reversed", "value_to", "must not be below value")
        return self


class _Dated(_Condition):
    """``before``/``after`` a ``date``; ``within_last_days``/``more_than_days_ago`` ``days``."""

    op: DateOp = "within_last_days"
    date: dt.date | None = None
    days: int | None = Field(default=None, ge=0, le=36500)

    @model_validator(mode="after")
    def _needs(self) -> Self:
        if self.op in ("before", "after") and self.date is None:
            raise rule_error("audience_date_required", "date", "is needed for this comparison")
        if self.op in ("within_last_days", "more_than_days_ago") and self.days is None:
            raise rule_error("audience_days_required", "days", "is needed for this comparison")
        return self


def _need_values(values: list[str] | list[int], allowed: tuple[str, ...] | None = None) -> None:
    if not values:
        raise rule_error("audience_values_required", "values", "name at least one value")
    if allowed is not None:
        for i, value in enumerate(values):
            if value not in allowed:
                raise rule_error(
                    "audience_value_unknown",
                    f"values.{i}",
                    f"{value!r} is not one of {', '.join(allowed)}",
                    value=str(value),
                )


class ProfileCondition(_Condition):
    """A demographic of the profile: gender, age band (from the birthday), city, home store
    (its id), sign-up channel. ``not_in`` keeps customers of whom it is not known."""

    kind: Literal["profile"] = "profile"
    attribute: Literal["gender", "age_band", "city", "home_store", "signup_channel"]
    op: Literal["in", "not_in", "is_set", "is_not_set"] = "in"
    values: list[str] = Field(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.op in ("in", "not_in"):
            allowed = {"gender": GENDERS, "age_band": AGE_BANDS}.get(self.attribute)
            _need_values(self.values, allowed)
            if self.attribute == "home_store":
                for i, value in enumerate(self.values):
                    if not value.isdigit():
                        raise rule_error(
                            "audience_store_id", f"values.{i}", "must be a store id", value=value
                        )
        return self


class SignedUpCondition(_Dated):
    kind: Literal["signed_up"] = "signed_up"


class CustomFieldCondition(_Condition):
    """A custom field's value, by the field's code. Text: eq, ne, contains; number: the
    numeric comparisons; date: before, after; choice: in, not_in; any: is_set, is_not_set."""

    kind: Literal["custom_field"] = "custom_field"
    field: str = Field(min_length=1, max_length=60)
    op: Literal[
        "eq",
        "ne",
        "contains",
        "gt",
        "gte",
        "lt",
        "lte",
        "between",
        "before",
        "after",
        "in",
        "not_in",
        "is_set",
        "is_not_set",
    ] = "eq"
    value: str | None = Field(default=None, max_length=200)
    value_to: str | None = Field(default=None, max_length=200)
    values: list[str] = Field(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.op in ("in", "not_in"):
            _need_values(self.values)
        elif self.op not in ("is_set", "is_not_set") and self.value in (None, ""):
            raise rule_error("audience_value_required", "value", "is needed for this comparison")
        if self.op == "between" and self.value_to in (None, ""):
            raise rule_error("audience_value_to_required", "value_to", "is needed for between")
        return self


class TagCondition(_Condition):
    kind: Literal["tag"] = "tag"
    op: Literal["has_any", "has_all", "has_none"] = "has_any"
    tags: list[str] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.tags:
            raise rule_error("audience_values_required", "tags", "name at least one tag")
        return self


class SegmentCondition(_Condition):
    """The RFM value segment of the latest analytics run."""

    kind: Literal["segment"] = "segment"
    op: SetOp = "in"
    values: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Self:
        _need_values(self.values, SEGMENT_CODES)
        return self


class StageCondition(_Condition):
    """The lifecycle stage of the latest analytics run."""

    kind: Literal["stage"] = "stage"
    op: SetOp = "in"
    values: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Self:
        _need_values(self.values, STAGE_CODES)
        return self


class ChurnBandCondition(_Condition):
    kind: Literal["churn_band"] = "churn_band"
    op: SetOp = "in"
    values: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Self:
        _need_values(self.values, CHURN_BANDS)
        return self


class ClvCondition(_Numeric):
    """Lifetime value in fen, as the latest analytics run estimated it."""

    kind: Literal["clv"] = "clv"


class TierCondition(_Condition):
    kind: Literal["tier"] = "tier"
    op: SetOp = "in"
    values: list[str] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _check(self) -> Self:
        _need_values(self.values)
        return self


class PointsCondition(_Numeric):
    """The points on the member's ledger (what the balance is reconciled against)."""

    kind: Literal["points"] = "points"


class PurchasesCondition(_Numeric):
    """How many orders, or how much net (after refunds) in fen, in a period (the last
    ``within_last_days`` days, or ``since``..``until`` inclusive, business days in the shop's
    zone; neither: all time), optionally only lines of a top-level ``category`` or a ``sku``,
    and only orders at ``store_id``. Customers without a matching order count as 0."""

    kind: Literal["purchases"] = "purchases"
    measure: Literal["count", "net_fen"] = "count"
    within_last_days: int | None = Field(default=None, ge=1, le=36500)
    since: dt.date | None = None
    until: dt.date | None = None
    category: str | None = Field(default=None, max_length=120)
    sku: str | None = Field(default=None, max_length=64)
    store_id: int | None = None

    @model_validator(mode="after")
    def _period(self) -> Self:
        if self.within_last_days is not None and (self.since or self.until):
            raise rule_error(
                "audience_period_twice", "within_last_days", "give days or dates, not both"
            )
        if self.since and self.until and self.until < self.since:
            raise rule_error("audience_range_reversed", "until", "must not be before since")
        return self


class ConsentCondition(_Condition):
    """What the customer agreed to on a channel, by the consent rule of every send
    (docs/consent.md): ``allowed`` for marketing is a grant on record; for service, no
    withdrawal; a service withdrawal of the channel stops marketing too."""

    kind: Literal["consent"] = "consent"
    op: Literal["allowed", "not_allowed"] = "allowed"
    channel: Literal["sms", "email", "wechat", "phone"] = "sms"
    purpose: Literal["marketing", "service"] = "marketing"


class FirstPurchaseCondition(_Dated):
    kind: Literal["first_purchase"] = "first_purchase"


class LastPurchaseCondition(_Dated):
    kind: Literal["last_purchase"] = "last_purchase"


Condition = Annotated[
    Union[  # the forward reference to Group needs Union's form
        ProfileCondition,
        SignedUpCondition,
        CustomFieldCondition,
        TagCondition,
        SegmentCondition,
        StageCondition,
        ChurnBandCondition,
        ClvCondition,
        TierCondition,
        PointsCondition,
        PurchasesCondition,
        ConsentCondition,
        FirstPurchaseCondition,
        LastPurchaseCondition,
        "Group",
    ],
    Field(discriminator="kind"),
]

CONDITION_KINDS = (
    "profile",
    "signed_up",
    "custom_field",
    "tag",
    "segment",
    "stage",
    "churn_band",
    "clv",
    "tier",
    "points",
    "purchases",
    "consent",
    "first_purchase",
    "last_purchase",
)


class Group(_Condition):
    """Conditions joined by AND (``match="all"``) or OR (``"any"``); groups nest."""

    kind: Literal["group"] = "group"
    match: Literal["all", "any"] = "all"
    conditions: list[Condition] = Field(default_factory=list)


Group.model_rebuild()


class Definition(Group):
    """The root group. With no condition at all it matches every customer."""

    @model_validator(mode="after")
    def _shape(self) -> Self:
        count = 0

        def walk(group: Group, depth: int, path: str) -> None:
            nonlocal count
            if depth > MAX_DEPTH:
                raise rule_error("audience_too_deep", path, f"groups nest at most {MAX_DEPTH} deep")
            for i, item in enumerate(group.conditions):
                where = f"{path}.{i}" if path else f"conditions.{i}"
                if isinstance(item, Group):
                    if not item.conditions:
                        raise rule_error("audience_empty_group", where, "a group needs a condition")
                    walk(item, depth + 1, f"{where}.conditions")
                else:
                    count += 1
            if count > MAX_CONDITIONS:
                raise rule_error(
                    "audience_too_many", "conditions", f"at most {MAX_CONDITIONS} conditions"
                )

        walk(self, 1, "")
        return self


# ----------------------------------------------------------------------------- API shapes


class AudienceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=2000)
    definition: Definition = Field(default_factory=Definition)


class AudienceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=2000)
    definition: Definition | None = None


class AudienceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    definition: Definition
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


class AudienceCount(BaseModel):
    count: int
    # When the analytics store was last brought up to date: what the count reflects.
    facts_as_of: dt.datetime | None = None
    scoped_to_stores: list[int] | None = None
