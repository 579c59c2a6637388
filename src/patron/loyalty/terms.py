"""The programme's terms as the API and the console read and write them: earning,
redemption, expiry, member days, exclusions, tiers and referral rewards, in whole units
(fen, basis points, days). :mod:`patron.loyalty.programme` keeps them, versioned."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from patron.core.errors import rule_error
from patron.core.schemas import FenAmount, Schema
from patron.loyalty.rules import Programme, TierBasis, TierRule

Points = Annotated[int, Field(ge=0, le=10**12)]
Reason = Annotated[str, Field(min_length=1, max_length=255)]
CouponCode = Annotated[str, Field(min_length=1, max_length=32)]


TierCode = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
Basis = Annotated[int, Field(ge=0, le=1_000_000)]  # basis points: 10,000 = ×1 or 100 %
SkuCode = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\S(.*\S)?$")]
CategoryPath = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^\S(.*\S)?$")]


class TierTerms(Schema):
    """One tier: what reaches it (spend or points earned in the tier window, by the
    programme's basis) and what it gives."""

    code: TierCode
    name: Annotated[str, Field(min_length=1, max_length=60)]
    rank: Annotated[int, Field(ge=0, le=99)]
    min_spend_fen: FenAmount = 0
    min_points_earned: Points = 0
    discount_bp: Annotated[int, Field(ge=0, le=10_000)] = 0
    points_multiplier_bp: Annotated[int, Field(ge=0, le=100_000)] = 10_000
    birthday_points: Annotated[int, Field(ge=0, le=1_000_000)] = 0

    @classmethod
    def of(cls, tier: TierRule) -> TierTerms:
        return cls.model_validate(dataclasses.asdict(tier))


_BUILT_IN = Programme()


class ProgrammeTerms(Schema):
    """A loyalty programme's terms (the defaults are the built-in programme's). Rates in
    basis points (10,000 = ×1 or 100 %), money in fen, weekdays Monday = 0. Changes apply
    from the moment they are saved: points already earned keep the dates they were given."""

    earn_points_per_yuan: Annotated[int, Field(ge=0, le=1_000)] = _BUILT_IN.earn_points_per_yuan
    return_window_days: Annotated[int, Field(ge=0, le=365)] = _BUILT_IN.return_window_days
    expiry_days: Annotated[int, Field(ge=1, le=3_660)] = _BUILT_IN.expiry_days
    redeem_points_per_yuan: Annotated[int, Field(ge=1, le=100_000)] = (
        _BUILT_IN.redeem_points_per_yuan
    )
    max_redeem_share_bp: Annotated[int, Field(ge=0, le=10_000)] = _BUILT_IN.max_redeem_share_bp
    sku_multipliers_bp: dict[SkuCode, Basis] = Field(default_factory=dict, max_length=1_000)
    category_multipliers_bp: dict[CategoryPath, Basis] = Field(
        default_factory=dict, max_length=1_000
    )
    excluded_skus: list[SkuCode] = Field(default_factory=list, max_length=1_000)
    excluded_categories: list[CategoryPath] = Field(
        default_factory=lambda: sorted(_BUILT_IN.excluded_categories), max_length=1_000
    )
    wallet_skus: list[SkuCode] = Field(
        default_factory=lambda: sorted(_BUILT_IN.wallet_skus), max_length=1_000
    )
    wallet_categories: list[CategoryPath] = Field(
        default_factory=lambda: sorted(_BUILT_IN.wallet_categories), max_length=1_000
    )
    discount_skus: list[SkuCode] = Field(
        default_factory=lambda: sorted(_BUILT_IN.discount_skus), max_length=1_000
    )
    member_weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default_factory=lambda: sorted(_BUILT_IN.member_weekdays), max_length=7
    )
    member_day_multiplier_bp: Annotated[int, Field(ge=10_000, le=1_000_000)] = (
        _BUILT_IN.member_day_multiplier_bp
    )
    max_points_per_order: Annotated[int, Field(ge=1, le=10**9)] | None = (
        _BUILT_IN.max_points_per_order
    )
    tiers: list[TierTerms] = Field(
        default_factory=lambda: [TierTerms.of(t) for t in _BUILT_IN.tiers],
        min_length=1,
        max_length=20,
    )
    tier_basis: TierBasis = _BUILT_IN.tier_basis
    tier_window_days: Annotated[int, Field(ge=1, le=3_660)] = _BUILT_IN.tier_window_days
    tier_grace_days: Annotated[int, Field(ge=0, le=3_660)] = _BUILT_IN.tier_grace_days
    referral_min_order_fen: FenAmount = _BUILT_IN.referral_min_order_fen
    referrer_reward_points: Annotated[int, Field(ge=0, le=1_000_000)] = (
        _BUILT_IN.referrer_reward_points
    )
    referee_reward_points: Annotated[int, Field(ge=0, le=1_000_000)] = (
        _BUILT_IN.referee_reward_points
    )

    @model_validator(mode="after")
    def _tiers_climb(self) -> ProgrammeTerms:
        codes = [t.code for t in self.tiers]
        for n, tier in enumerate(self.tiers):
            if codes.index(tier.code) != n:
                raise rule_error(
                    "tier_code_repeated", f"tiers.{n}.code", "two tiers have this code"
                )
        ranks = [t.rank for t in self.tiers]
        for n, tier in enumerate(self.tiers):
            if ranks.index(tier.rank) != n:
                raise rule_error(
                    "tier_rank_repeated", f"tiers.{n}.rank", "two tiers have this rank"
                )
        ordered = sorted(enumerate(self.tiers), key=lambda item: item[1].rank)
        first_at, first = ordered[0]
        if first.min_spend_fen or first.min_points_earned:
            raise rule_error(
                "base_tier_needs_nothing",
                f"tiers.{first_at}.min_spend_fen",
                "the lowest tier is every member's starting tier: it needs no spend and no points",
            )
        field = "min_spend_fen" if self.tier_basis == TierBasis.SPEND else "min_points_earned"
        for (_, lower), (n, higher) in itertools.pairwise(ordered):
            if getattr(higher, field) <= getattr(lower, field):
                raise rule_error(
                    "tier_not_above",
                    f"tiers.{n}.{field}",
                    "a higher tier needs more than the one below",
                )
        # Kept lowest first, whatever order they came in: the starting tier leads.
        self.tiers = [tier for _, tier in ordered]
        return self

    @classmethod
    def of(cls, programme: Programme) -> ProgrammeTerms:
        """The terms of a programme (the rules' form): sets as sorted lists, tiers lowest
        first."""
        values: dict[str, Any] = {}
        for name in ProgrammeTerms.model_fields:
            value = getattr(programme, name)
            if name in _SETS:
                value = sorted(value)
            elif name in _MAPS:
                value = dict(value)
            elif name == "tiers":
                value = [TierTerms.of(t) for t in sorted(value, key=lambda t: t.rank)]
            values[name] = value
        return cls.model_validate(values)

    def to_rules(self, zone: ZoneInfo) -> Programme:
        """The rules' programme with these terms, in the shop's time zone."""
        values: dict[str, Any] = {}
        for name in ProgrammeTerms.model_fields:  # a subclass's own fields are not terms
            value = getattr(self, name)
            if name in _SETS:
                value = frozenset(value)
            elif name in _MAPS:
                value = dict(value)
            elif name == "tiers":
                value = tuple(TierRule(**t.model_dump()) for t in value)
            values[name] = value
        return Programme(**values, zone=zone)


# The terms held as sets and as mappings by the rules (lists and objects in JSON).
_SETS = frozenset(
    {
        "excluded_skus",
        "excluded_categories",
        "wallet_skus",
        "wallet_categories",
        "discount_skus",
        "member_weekdays",
    }
)
_MAPS = frozenset({"sku_multipliers_bp", "category_multipliers_bp"})


class ProgrammeUpdate(ProgrammeTerms):
    """New terms for the whole programme, with the reason (kept with them and audited).
    ``expected_version``, if given, is the version these terms were edited from: a change
    saved by someone else meanwhile is then refused instead of silently overwritten."""

    reason: Reason
    expected_version: Annotated[int, Field(ge=0)] | None = None


class ProgrammeRead(ProgrammeTerms):
    """The terms in force; ``version`` 0 is the built-in defaults, never changed."""

    version: int
    changed_at: datetime | None
    changed_by: str | None
    reason: str | None


class ProgrammeVersionRead(Schema):
    """One saved change of the terms: who, when, why, and which terms it changed."""

    version: int
    changed_at: datetime
    changed_by: str
    reason: str
    changed: list[str]
