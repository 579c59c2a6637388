"""Shared builders for the support tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from patron.core.actor import Actor
from patron.core.db import Database
from patron.staff.roles import Role, permissions_of
from patron.support import sla
from patron.support.calendars import library_years
from patron.support.tickets import service as tickets
from patron.support.tickets.models import TicketStatus
from patron.support.tickets.schemas import (
    EntryIn,
    SlaPolicyIn,
    SlaPolicyRead,
    TicketCreate,
    TicketRead,
    TransitionIn,
)
from patron.support.workingtime import PublicHolidays
from tests.helpers import ACTOR


def china(*, through: int | None = None) -> PublicHolidays:
    """China's public holidays as the installed chinesecalendar has them (up to ``through``)."""
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    years = {y: d for y, d in library_years().items() if through is None or y <= through}
    for days in years.values():
        for on, kind, name in days:
            (holidays if kind == "holiday" else workdays)[on] = name
    return PublicHolidays(holidays=holidays, workdays=workdays, years=frozenset(years))


# --- tickets -------------------------------------------------------------------------------

SH = ZoneInfo("Asia/Shanghai")


def shanghai(*args: int) -> datetime:
    """A wall-clock time in Shanghai, as UTC."""
    return datetime(*args, tzinfo=SH).astimezone(UTC)  # type: ignore[misc]


def store_actor(db: Database, store_code: str, role: Role = Role.CASHIER) -> Actor:
    """A store-bound actor of ``store_code`` (as a signed-in cashier would be)."""
    from patron.catalog import service as catalog

    store = db.read(lambda s: catalog.get_store_by_code(session=s, code=store_code))
    assert store is not None
    return Actor(
        kind="staff",
        id=None,
        name=f"{role.value}@{store_code}",
        role=role.value,
        permissions=frozenset(str(p) for p in permissions_of(role)),
        store_ids=frozenset({store.id}),
    )


def open_ticket(db: Database, actor: Actor | None = None, **fields: Any) -> TicketRead:
    body: dict[str, Any] = {
        "ticket_type": "complaint",
        "subject": "苹果坏了",
        "customer": {"phone": "13900000001"},
        **fields,
    }
    ticket_in = TicketCreate.model_validate(body)
    return db.write(
        lambda s: tickets.open_ticket(session=s, ticket_in=ticket_in, actor=actor or ACTOR)
    )


def move(db: Database, ticket_id: int, status: str, at: datetime | None = None) -> TicketRead:
    change = TransitionIn(status=TicketStatus(status))
    return db.write(
        lambda s: tickets.transition(
            session=s, ticket_id=ticket_id, transition_in=change, actor=ACTOR, now=at
        )
    )


def reply(db: Database, ticket_id: int, at: datetime | None = None, kind: str = "reply") -> None:
    entry = EntryIn.model_validate({"kind": kind, "body": "您好，我们已收到"})
    db.write(
        lambda s: tickets.add_entry(
            session=s, ticket_id=ticket_id, entry_in=entry, actor=ACTOR, now=at
        )
    )


def policy(db: Database, **fields: Any) -> SlaPolicyRead:
    body = {"name": "standard", "first_reply_minutes": 60, "resolve_minutes": 480, **fields}
    policy_in = SlaPolicyIn.model_validate(body)
    return db.write(lambda s: sla.save_policy(session=s, policy_in=policy_in, actor=ACTOR))


def seed_holidays(db: Database) -> None:
    from patron.support.calendars import sync_public_holidays

    db.write(lambda s: sync_public_holidays(session=s, actor=ACTOR))
