"""Journeys' schemas: the triggers, the steps, a journey in and out, its figures and the
staff tasks (docs/journeys.md). Triggers and steps are tagged unions on ``kind``."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from patron.core.errors import rule_error
from patron.core.schemas import RecordId, Schema, ShortCode

Channel = Literal["email", "sms", "wechat"]

At = Annotated[time, Field(description="local time of day in the shop's zone")]
EventType = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.]*$")]
StepKey = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")]
FESTIVALS = ("spring_festival", "mid_autumn", "dragon_boat", "national_day", "new_year")

# ------------------------------------------------------------------------------ triggers


class EventTrigger(Schema):
    """A customer's event (an order, a tier change, a churn-risk alert, a cart event)."""

    kind: Literal["event"] = "event"
    event: EventType
    # Only events whose properties hold these values ({"direction": "up"}).
    where: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=64)]] = Field(
        default_factory=dict
    )


class SegmentTrigger(Schema):
    """Entering (or leaving) a saved audience, as seen each day at ``at``."""

    kind: Literal["segment"] = "segment"
    audience_id: RecordId
    on: Literal["entry", "exit"] = "entry"
    at: At = time(10, 0)


class BirthdayTrigger(Schema):
    """A member's birthday (29 February: 28 February in other years), ``days_before`` it."""

    kind: Literal["birthday"] = "birthday"
    days_before: Annotated[int, Field(ge=0, le=60)] = 0
    at: At = time(10, 0)


class LastPurchaseTrigger(Schema):
    """``days`` after a customer's last purchase (none since)."""

    kind: Literal["last_purchase"] = "last_purchase"
    days: Annotated[int, Field(ge=1, le=3650)]
    at: At = time(10, 0)


class ReplenishmentTrigger(Schema):
    """The day a consumable bought runs out: its shelf life, or the customer's own gap
    between purchases of it (at least two purchases), after the last purchase."""

    kind: Literal["replenishment"] = "replenishment"
    lookback_days: Annotated[int, Field(ge=7, le=730)] = 180
    at: At = time(10, 0)


class ScheduleTrigger(Schema):
    """Every week on ``weekdays`` (0 Monday … 6 Sunday; empty: every day), for an audience
    (None: every member)."""

    kind: Literal["schedule"] = "schedule"
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(default_factory=list)
    audience_id: RecordId | None = None
    at: At = time(10, 0)


class HolidayTrigger(Schema):
    """A Chinese festival or public holiday, from the ``holidays`` library's calendar."""

    kind: Literal["holiday"] = "holiday"
    festival: Literal["spring_festival", "mid_autumn", "dragon_boat", "national_day", "new_year"]
    days_before: Annotated[int, Field(ge=0, le=14)] = 0
    audience_id: RecordId | None = None
    at: At = time(10, 0)


class MemberDayTrigger(Schema):
    """The programme's member days (loyalty's terms)."""

    kind: Literal["member_day"] = "member_day"
    audience_id: RecordId | None = None
    at: At = time(9, 0)


Trigger = Annotated[
    EventTrigger
    | SegmentTrigger
    | BirthdayTrigger
    | LastPurchaseTrigger
    | ReplenishmentTrigger
    | ScheduleTrigger
    | HolidayTrigger
    | MemberDayTrigger,
    Field(discriminator="kind"),
]
DAILY_TRIGGERS = frozenset(
    {"segment", "birthday", "last_purchase", "replenishment", "schedule", "holiday", "member_day"}
)

# ------------------------------------------------------------------------------ steps


class _Step(Schema):
    key: StepKey | None = None  # stable across versions; given when left out


class WaitStep(_Step):
    """Wait a while, then (``until``) until the next time of day in the shop's zone."""

    kind: Literal["wait"] = "wait"
    days: Annotated[int, Field(ge=0, le=365)] = 0
    hours: Annotated[int, Field(ge=0, le=240)] = 0
    minutes: Annotated[int, Field(ge=0, le=1440)] = 0
    until: time | None = None

    @model_validator(mode="after")
    def _some_wait(self) -> WaitStep:
        if not (self.days or self.hours or self.minutes or self.until):
            raise rule_error("journey_wait_empty", "days", "a wait needs a duration or a time")
        return self


class WaitEventStep(_Step):
    """Wait for an event of the customer's, at most ``timeout_hours``; then go on at the
    step after, or (timed out) at ``timeout_goto`` (None: leave the journey)."""

    kind: Literal["wait_event"] = "wait_event"
    event: EventType
    timeout_hours: Annotated[int, Field(ge=1, le=24 * 90)]
    timeout_goto: StepKey | None = None


class BranchStep(_Step):
    """Members of the audience go on to the next step; the others to ``else_goto``
    (None: they leave the journey)."""

    kind: Literal["branch"] = "branch"
    audience_id: RecordId
    else_goto: StepKey | None = None


class SendStep(_Step):
    """A message: the first channel, in order, the customer's consent allows. Caps, quiet
    hours and consent are asked again when it goes (the outbox)."""

    kind: Literal["send"] = "send"
    templates: dict[Channel, RecordId] = Field(min_length=1)
    language: Literal["zh", "en"] = "zh"
    purpose: Literal["marketing", "transactional"] = "marketing"


class CouponStep(_Step):
    kind: Literal["coupon"] = "coupon"
    template_code: ShortCode


class PointsStep(_Step):
    kind: Literal["points"] = "points"
    points: Annotated[int, Field(ge=1, le=1_000_000)]


class TagStep(_Step):
    kind: Literal["tag"] = "tag"
    add: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    remove: Annotated[str, Field(min_length=1, max_length=64)] | None = None

    @model_validator(mode="after")
    def _some_tag(self) -> TagStep:
        if not (self.add or self.remove):
            raise rule_error("journey_tag_empty", "add", "name a tag to add or remove")
        return self


class TaskStep(_Step):
    """A task for the customer's home store's staff (call them)."""

    kind: Literal["task"] = "task"
    title: Annotated[str, Field(min_length=1, max_length=200)]
    note: Annotated[str, Field(max_length=2000)] | None = None


class WebhookStep(_Step):
    """Call a webhook: a signed ``journey.webhook`` event to one subscription (its address
    and secret), through the webhooks' retrying delivery; the entry goes on at once."""

    kind: Literal["webhook"] = "webhook"
    subscription_id: RecordId


class ExitStep(_Step):
    kind: Literal["exit"] = "exit"


Step = Annotated[
    WaitStep
    | WaitEventStep
    | BranchStep
    | SendStep
    | CouponStep
    | PointsStep
    | TagStep
    | TaskStep
    | WebhookStep
    | ExitStep,
    Field(discriminator="kind"),
]

# ------------------------------------------------------------------------------ journeys


class JourneyIn(Schema):
    name: Annotated[str, Field(min_length=1, max_length=120)]
    trigger: Trigger
    steps: list[Step] = Field(min_length=1, max_length=50)
    reentry: Literal["once", "after_exit"] = "after_exit"
    reentry_days: Annotated[int, Field(ge=0, le=3650)] = 0
    goal: Literal["purchase"] | None = "purchase"
    holdout_percent: Annotated[float, Field(ge=0, le=50)] = 0
    conversion_days: Annotated[int, Field(ge=1, le=180)] = 14

    @model_validator(mode="after")
    def _keys(self) -> JourneyIn:
        """Give each step a key (kept across versions) and check where branches go."""
        taken = {s.key for s in self.steps if s.key}
        n = 0
        for step in self.steps:
            if step.key is None:
                n += 1
                while f"s{n}" in taken:
                    n += 1
                step.key = f"s{n}"
                taken.add(step.key)
        keys = [s.key for s in self.steps]
        if len(set(keys)) != len(keys):
            raise rule_error("journey_step_key_twice", "steps", "two steps have the same key")
        for i, step in enumerate(self.steps):
            target = getattr(step, "else_goto", None) or getattr(step, "timeout_goto", None)
            # Forward only: a journey always ends, and each step runs once per entry.
            if target is not None and target not in keys[i + 1 :]:
                raise rule_error(
                    "journey_goto_unknown",
                    f"steps.{i}",
                    "must go to a later step of the journey",
                    target=target,
                )
        return self


class JourneyRead(Schema):
    id: int
    code: str | None
    name: str
    enabled: bool
    version: int
    trigger: dict[str, Any]
    steps: list[dict[str, Any]]
    reentry: str
    reentry_days: int
    goal: str | None
    holdout_bp: int
    conversion_days: int
    created_at: datetime
    updated_at: datetime


class StepFigures(Schema):
    key: str
    kind: str
    done: int  # entries this step ran for
    waiting: int  # entries due to run it (or waiting at it)
    outcomes: dict[str, int]


class JourneyStats(Schema):
    journey_id: int
    entered: int
    holdout: int
    active: int
    done: int
    exited: int
    converted: int
    holdout_converted: int
    steps: list[StepFigures]
    conversion_uplift: tuple[float, float, float] | None  # estimate, low, high (share points)
    verdict: str


class JourneyCounts(Schema):
    """A journey's line in the journeys list: its entries, those walking, those converted
    (not counting the holdout's)."""

    journey_id: int
    entered: int
    active: int
    converted: int


class TaskRead(Schema):
    id: int
    journey_id: int
    customer_id: int
    store_id: int | None
    title: str
    note: str | None
    status: str
    created_at: datetime
    done_at: datetime | None
    done_by: str | None


class RunOutcome(Schema):
    """One scheduler tick: who entered, which steps ran, who converted."""

    entered: int = 0
    held_out: int = 0
    steps_run: int = 0
    converted: int = 0
    events: int = 0


class EntryRead(Schema):
    """One customer's entry: where it is and what each step did for it."""

    id: int
    customer_id: int
    entry_key: str
    status: str
    step_key: str | None  # the step due (None: left the journey)
    next_run_at: datetime | None
    waiting_for: str | None
    entered_at: datetime
    converted_at: datetime | None
    outcomes: dict[str, str]  # step key → outcome (detail)
