"""Journeys' test data, built through the services: a small shop of members, the shipped
journeys installed (off) and some switched on, a scheduler tick at a frozen instant, and
who a journey wrote to."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from patron.core.db import Database
from patron.engagement.models import OutboxMessage
from patron.journeys import (
    JourneyIn,
    RunOutcome,
    get_journey_by_code,
    get_journey_or_raise,
    run_journeys,
    set_enabled,
    update_journey,
)
from patron.journeys.schemas import EntryRead
from patron.journeys.service import list_entries
from patron.journeys.shipped import install_shipped_journeys
from tests.consent.helpers import record
from tests.helpers import ACTOR, add_store, reachable_customer

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An instant given as Shanghai wall-clock time, in UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def shop(db: Database, **birthdays: str) -> dict[str, int]:
    """Members at SH01 who agreed to SMS marketing, by name, with the birthdays given."""
    add_store(db, "SH01", "上海南京路店")
    people = {
        name: reachable_customer(db, store="SH01", name=name, birthday=born)
        for name, born in birthdays.items()
    }
    record(db, people.values(), "sms")
    return people


def without_holdout(db: Database, journey_id: int, holdout_percent: float = 0) -> None:
    """Edit a journey's holdout (a new version), so a test knows who is treated."""
    journey = db.read(lambda s: get_journey_or_raise(session=s, journey_id=journey_id))
    journey_in = JourneyIn.model_validate(
        {
            "name": journey.name,
            "trigger": journey.trigger,
            "steps": journey.steps,
            "reentry": journey.reentry,
            "reentry_days": journey.reentry_days,
            "goal": journey.goal,
            "holdout_percent": holdout_percent,
            "conversion_days": journey.conversion_days,
        }
    )
    db.write(
        lambda s: update_journey(
            session=s, journey_id=journey_id, journey_in=journey_in, actor=ACTOR
        )
    )


def switch_on(db: Database, *codes: str, holdout: bool = False) -> dict[str, int]:
    """Install the shipped journeys (off) and switch ``codes`` on, without their holdout
    unless ``holdout``: code → journey id."""
    db.write(lambda s: install_shipped_journeys(session=s, actor=ACTOR))
    ids: dict[str, int] = {}
    for code in codes:
        journey = db.read(lambda s, c=code: get_journey_by_code(session=s, code=c))  # type: ignore[misc]
        assert journey is not None
        if not holdout:
            without_holdout(db, journey.id)
        db.write(
            lambda s, j=journey.id: set_enabled(session=s, journey_id=j, enabled=True, actor=ACTOR)  # type: ignore[misc]
        )
        ids[code] = journey.id
    return ids


def tick(db: Database, at: datetime) -> RunOutcome:
    return run_journeys(db=db, now=at)


def messaged(db: Database, journey_id: int) -> list[tuple[int, str]]:
    """(customer, channel) of every outbox message the journey wrote, in customer order."""
    rows = db.read(
        lambda s: s.execute(
            select(OutboxMessage.customer_id, OutboxMessage.channel).where(
                OutboxMessage.source_kind == "journey",
                OutboxMessage.source_id.like(f"{journey_id}.%"),
            )
        ).all()
    )
    return sorted((int(c), str(ch)) for c, ch in rows)


def entries(db: Database, journey_id: int) -> list[EntryRead]:
    return db.read(lambda s: list_entries(session=s, journey_id=journey_id))
