"""Who a daily trigger lets into a journey on a local day: birthdays (29 February on 28
February in other years), a number of days after the last purchase, a consumable running
out, a weekly schedule, Chinese festivals from the ``holidays`` library's calendar, the
programme's member days and a segment's entries and exits (docs/journeys.md).

Each function returns customer → what the entry carries for later steps (an SKU, say)."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from patron import audiences, loyalty
from patron.catalog import service as catalog
from patron.customers import facts as customer_facts
from patron.journeys.models import JourneyBirthday, JourneyCursor, JourneySegmentMember
from patron.journeys.schemas import (
    BirthdayTrigger,
    HolidayTrigger,
    LastPurchaseTrigger,
    MemberDayTrigger,
    ReplenishmentTrigger,
    ScheduleTrigger,
    SegmentTrigger,
)
from patron.orders import recency

Entrants = dict[int, dict[str, Any]]

# The names the ``holidays`` library gives each festival's days (English, its default).
_FESTIVAL_NAMES = {
    "spring_festival": "Spring Festival",
    "mid_autumn": "Mid-Autumn Festival",
    "dragon_boat": "Dragon Boat Festival",
    "national_day": "National Day",
    "new_year": "New Year's Day",
}


def birthday_matches(born: date, day: date) -> bool:
    """Whether ``day`` is the birthday of someone born on ``born``: 29 February is kept on
    28 February in years without it."""
    if (born.month, born.day) == (day.month, day.day):
        return True
    return (
        (born.month, born.day) == (2, 29)
        and (day.month, day.day) == (2, 28)
        and not calendar.isleap(day.year)
    )


@cache
def festival_day(festival: str, year: int) -> date | None:
    """The first day of ``festival`` in ``year`` (the lunar ones move every year)."""
    import holidays

    name = _FESTIVAL_NAMES[festival]
    days = [d for d, n in holidays.country_holidays("CN", years=year).items() if name in n]
    return min(days) if days else None


def local_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants a local day starts and ends at."""
    start = datetime.combine(day, time(), zone)
    return start, datetime.combine(day + timedelta(days=1), time(), zone)


def _everyone_or(session: Session, audience_id: int | None, now: datetime) -> Entrants:
    if audience_id is None:
        ids = customer_facts.active_ids(session=session)
    else:
        ids = audiences.member_ids(session=session, audience_id=audience_id, now=now)
    return {cid: {} for cid in ids}


def _month_days(day: date) -> list[int]:
    """The birthdays (month × 100 + day) that fall on ``day``."""
    found = [day.month * 100 + day.day]
    if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
        found.append(229)
    return found


def refresh_birthdays(session: Session) -> int:
    """Bring the birthday index up to date with the profiles changed since the last look
    (the first look reads them all); returns how many profiles were read."""
    table = cast(Table, JourneyBirthday.__table__)
    cursor = session.get(JourneyCursor, "birthdays", with_for_update=True)
    since = (
        datetime.fromtimestamp(cursor.position / 1e6, UTC)
        if cursor is not None and cursor.position
        else None
    )
    latest = since
    read = 0
    for rows in customer_facts.birthdays_changed_since(session=session, since=since):
        read += len(rows)
        ids = [cid for cid, _, _, _ in rows]
        session.execute(delete(table).where(table.c.customer_id.in_(ids)))
        kept = [
            {"customer_id": cid, "month_day": born.month * 100 + born.day}
            for cid, born, live, _ in rows
            if born is not None and live
        ]
        if kept:
            session.execute(insert(table), kept)
        newest = max(at for _, _, _, at in rows)
        latest = newest if latest is None or newest > latest else latest
    if latest is not None:
        position = int(latest.timestamp() * 1e6)
        if cursor is None:
            session.add(JourneyCursor(name="birthdays", position=position, updated_at=latest))
        else:
            cursor.position, cursor.updated_at = position, latest
    session.flush()
    return read


def birthday_entrants(session: Session, trigger: BirthdayTrigger, today: date) -> Entrants:
    day = today + timedelta(days=trigger.days_before)
    refresh_birthdays(session)
    table = cast(Table, JourneyBirthday.__table__)
    ids = session.scalars(
        select(table.c.customer_id).where(table.c.month_day.in_(_month_days(day)))
    )
    return {int(cid): {"birthday": day.isoformat()} for cid in ids}


def last_purchase_entrants(
    session: Session, trigger: LastPurchaseTrigger, today: date, zone: ZoneInfo
) -> Entrants:
    start, end = local_bounds(today - timedelta(days=trigger.days), zone)
    return {
        cid: {}
        for cid in recency.customers_last_buying_in(session=session, start_at=start, end_at=end)
    }


def replenishment_entrants(
    session: Session, trigger: ReplenishmentTrigger, today: date, zone: ZoneInfo
) -> Entrants:
    """Customers with a consumable due today: after their last purchase of it, their own
    average gap between purchases (two or more), else the product's shelf life."""
    since = local_bounds(today - timedelta(days=trigger.lookback_days), zone)[0]
    bought = recency.sku_purchases_since(session=session, since=since)
    shelf = catalog.shelf_lives(
        session=session, skus=sorted({p.sku for p in bought if p.purchases < 2})
    )
    due: dict[int, list[str]] = {}
    for p in bought:
        if p.purchases >= 2:
            span = (p.last_at - p.first_at).total_seconds() / 86_400
            days = round(span / (p.purchases - 1))
        else:
            days = shelf.get(p.sku, 0)
        if days <= 0:
            continue
        if p.last_at.astimezone(zone).date() + timedelta(days=days) == today:
            due.setdefault(p.customer_id, []).append(p.sku)
    return {cid: {"sku": sorted(skus)[0], "skus": sorted(skus)} for cid, skus in due.items()}


def schedule_entrants(
    session: Session, trigger: ScheduleTrigger, today: date, now: datetime
) -> Entrants:
    if trigger.weekdays and today.weekday() not in trigger.weekdays:
        return {}
    return _everyone_or(session, trigger.audience_id, now)


def holiday_entrants(
    session: Session, trigger: HolidayTrigger, today: date, now: datetime
) -> Entrants:
    day = today + timedelta(days=trigger.days_before)
    if festival_day(trigger.festival, day.year) != day:
        return {}
    found = _everyone_or(session, trigger.audience_id, now)
    return {cid: {"festival": trigger.festival} for cid in found}


def member_day_entrants(
    session: Session, trigger: MemberDayTrigger, today: date, now: datetime
) -> Entrants:
    programme = loyalty.get_programme(session)
    if today.weekday() not in programme.member_weekdays:
        return {}
    return _everyone_or(session, trigger.audience_id, now)


_SEGMENT = JourneySegmentMember.__table__


def segment_entrants(
    session: Session, journey_id: int, trigger: SegmentTrigger, now: datetime, *, first_look: bool
) -> Entrants:
    """Who entered (or left) the audience since the last look; the first look only records
    who is in it, so switching a journey on does not greet the whole segment."""
    table: Table = _SEGMENT  # type: ignore[assignment]
    now_in = set(audiences.member_ids(session=session, audience_id=trigger.audience_id, now=now))
    before = set(
        session.scalars(select(table.c.customer_id).where(table.c.journey_id == journey_id))
    )
    came, left = now_in - before, before - now_in
    if left:
        gone = sorted(left)
        for start in range(0, len(gone), 1_000):
            session.execute(
                delete(table).where(
                    table.c.journey_id == journey_id,
                    table.c.customer_id.in_(gone[start : start + 1_000]),
                )
            )
    rows = [{"journey_id": journey_id, "customer_id": cid} for cid in sorted(came)]
    for start in range(0, len(rows), 5_000):
        session.execute(insert(table), rows[start : start + 5_000])
    if first_look:
        return {}
    chosen = came if trigger.on == "entry" else left
    return {cid: {} for cid in chosen}
