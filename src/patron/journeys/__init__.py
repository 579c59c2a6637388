"""Journeys: a trigger (an event, a segment's entries, a date, a schedule, a festival, a
member day) lets customers in; steps (waits, branches, messages, coupons, points, tags,
staff tasks) walk them through, each once; a purchase ends them at the goal; a holdout
measures the uplift (docs/journeys.md). What other domains, the jobs and the command line
call is exported here."""

from patron.events import EventRecord  # what feed_events takes: the event stream's records
from patron.journeys import embedded as _embedded  # noqa: F401  (registers the queue job)
from patron.journeys.engine import feed_events
from patron.journeys.merges import move_customer_records, restore_customer_records
from patron.journeys.scheduler import run_journeys
from patron.journeys.schemas import JourneyIn, JourneyRead, JourneyStats, RunOutcome
from patron.journeys.service import (
    create_journey,
    get_journey_by_code,
    get_journey_or_raise,
    journey_counts,
    journey_stats,
    list_journeys,
    set_enabled,
    update_journey,
)

__all__ = [
    "EventRecord",
    "JourneyIn",
    "JourneyRead",
    "JourneyStats",
    "RunOutcome",
    "create_journey",
    "feed_events",
    "get_journey_by_code",
    "get_journey_or_raise",
    "journey_counts",
    "journey_stats",
    "list_journeys",
    "move_customer_records",
    "restore_customer_records",
    "run_journeys",
    "set_enabled",
    "update_journey",
]
