"""SLA clocks on the store's working time: nights, weekends, the Spring Festival and its
adjusted working days; pauses while waiting; warnings, breaches and escalation, once each;
the SLA report."""

from __future__ import annotations

from datetime import timedelta

from patron.core.db import Database
from patron.staff.roles import Role
from patron.support import sla
from patron.support.tickets import service as tickets
from patron.support.tickets.schemas import AssignIn
from tests.helpers import ACTOR, add_store
from tests.support.helpers import move, open_ticket, policy, reply, seed_holidays, shanghai
from tests.web.helpers.console import make_staff

# Office hours, Monday to Friday 09:00-18:00 (no calendar set up: the fallback).


def test_a_ticket_opened_at_night_is_due_the_next_morning(db: Database) -> None:
    seed_holidays(db)
    policy(db, first_reply_minutes=60, resolve_minutes=480)
    ticket = open_ticket(db, opened_at=shanghai(2026, 3, 4, 20, 0))  # a Wednesday night
    assert ticket.first_reply_due_at == shanghai(2026, 3, 5, 10, 0)
    assert ticket.resolve_due_at == shanghai(2026, 3, 5, 17, 0)


def test_a_friday_evening_ticket_is_due_on_monday(db: Database) -> None:
    seed_holidays(db)
    policy(db, first_reply_minutes=60, resolve_minutes=480)
    ticket = open_ticket(db, opened_at=shanghai(2026, 3, 6, 17, 30))
    assert ticket.first_reply_due_at == shanghai(2026, 3, 9, 9, 30)
    assert ticket.resolve_due_at == shanghai(2026, 3, 9, 16, 30)


def test_the_spring_festival_stops_the_clock_and_its_saturdays_worked_run_it(db: Database) -> None:
    seed_holidays(db)
    policy(db, first_reply_minutes=60, resolve_minutes=480)
    # Friday 13 February 2026, 17:30: Saturday the 14th is worked in lieu (调休上班).
    friday = open_ticket(db, opened_at=shanghai(2026, 2, 13, 17, 30))
    assert friday.first_reply_due_at == shanghai(2026, 2, 14, 9, 30)
    assert friday.resolve_due_at == shanghai(2026, 2, 14, 16, 30)
    # Saturday the 14th, 17:00: the holiday runs 15-23 February; Tuesday the 24th goes on.
    saturday = open_ticket(db, opened_at=shanghai(2026, 2, 14, 17, 0))
    assert saturday.first_reply_due_at == shanghai(2026, 2, 14, 18, 0)
    assert saturday.resolve_due_at == shanghai(2026, 2, 24, 16, 0)
    # Opened during the holiday: the clock starts on the first working morning.
    holiday = open_ticket(db, opened_at=shanghai(2026, 2, 17, 11, 0))
    assert holiday.first_reply_due_at == shanghai(2026, 2, 24, 10, 0)


def test_the_most_specific_policy_wins(db: Database) -> None:
    policy(db, name="any", first_reply_minutes=120, resolve_minutes=960)
    policy(db, name="complaints", ticket_type="complaint", first_reply_minutes=90,
           resolve_minutes=600)  # fmt: skip
    vip = policy(db, name="vip complaints", ticket_type="complaint", tier_code="vip",
                 first_reply_minutes=60, resolve_minutes=480)  # fmt: skip
    found = db.read(lambda s: sla.policy_for(s, "complaint", "normal", "vip"))
    assert found is not None and found.id == vip.id
    found = db.read(lambda s: sla.policy_for(s, "complaint", "normal", None))
    assert found is not None and found.name == "complaints"
    found = db.read(lambda s: sla.policy_for(s, "repair", "high", "vip"))
    assert found is not None and found.name == "any"


def test_waiting_for_the_customer_stops_the_resolution_clock(db: Database) -> None:
    seed_holidays(db)
    policy(db, first_reply_minutes=60, resolve_minutes=480)
    ticket = open_ticket(db, opened_at=shanghai(2026, 3, 3, 9, 0))  # a Tuesday
    assert ticket.resolve_due_at == shanghai(2026, 3, 3, 17, 0)
    reply(db, ticket.id, at=shanghai(2026, 3, 3, 9, 30))
    waiting = move(db, ticket.id, "waiting_customer", at=shanghai(2026, 3, 3, 10, 0))
    assert waiting.resolve_due_at is None
    # Waiting until the next morning at 10:00: one working day of pause (8 hours' worth).
    back = move(db, ticket.id, "in_progress", at=shanghai(2026, 3, 4, 10, 0))
    assert back.resolve_due_at == shanghai(2026, 3, 4, 17, 0)


def test_the_sweep_warns_breaches_and_escalates_once(db: Database) -> None:
    seed_holidays(db)
    add_store(db, "SH01", "人民广场店")
    make_staff(db, "zhang", Role.STORE_MANAGER, ["SH01"])
    make_staff(db, "boss", Role.CHAIN_MANAGER)
    policy(db, first_reply_minutes=60, resolve_minutes=480, warn_percent=50,
           chain_after_minutes=120)  # fmt: skip
    ticket = open_ticket(db, store_code="SH01", opened_at=shanghai(2026, 3, 3, 9, 0))

    def sweep(hour: int, minute: int = 0) -> sla.SweepResult:
        return db.write(lambda s: sla.sweep(session=s, now=shanghai(2026, 3, 3, hour, minute)))

    assert sweep(9, 20) == sla.SweepResult()
    assert sweep(9, 40) == sla.SweepResult(warnings=1)
    assert sweep(9, 45) == sla.SweepResult()
    assert sweep(10, 5) == sla.SweepResult(breaches=1, escalated_store=1)
    assert sweep(10, 30) == sla.SweepResult()
    assert sweep(12, 1) == sla.SweepResult(escalated_chain=1)
    assert sweep(12, 30) == sla.SweepResult()
    events = db.read(lambda s: sla.events_of(session=s, ticket_id=ticket.id))
    assert [(c, k) for c, k, _ in events] == [
        ("first_reply", "warning"),
        ("first_reply", "breach"),
        ("first_reply", "escalated_store"),
        ("first_reply", "escalated_chain"),
    ]
    detail = db.read(lambda s: tickets.get_ticket(session=s, ticket_id=ticket.id, actor=ACTOR))
    assert detail.escalation_level == 2
    notes = [e.body for e in detail.entries if e.author == "sla"]
    assert any("Zhang" in n for n in notes) and any("Boss" in n for n in notes)


def test_the_report_gives_met_share_and_medians_by_store_type_and_agent(db: Database) -> None:
    seed_holidays(db)
    add_store(db, "SH01", "人民广场店")
    agent = make_staff(db, "agent", Role.SERVICE_AGENT)
    policy(db, first_reply_minutes=60, resolve_minutes=480)
    opened = shanghai(2026, 3, 3, 9, 0)
    kept = open_ticket(db, store_code="SH01", opened_at=opened)
    late = open_ticket(db, store_code="SH01", opened_at=opened, ticket_type="return",
                       customer={"phone": "13900000002"})  # fmt: skip
    for ticket, replied, resolved in (
        (kept, opened + timedelta(minutes=30), opened + timedelta(hours=4)),
        (late, opened + timedelta(minutes=90), opened + timedelta(hours=6)),
    ):
        db.write(
            lambda s, t=ticket: tickets.assign(
                session=s, ticket_id=t.id, assign_in=AssignIn(staff_id=agent), actor=ACTOR,
                now=opened,
            )
        )  # fmt: skip
        reply(db, ticket.id, at=replied)
        move(db, ticket.id, "resolved", at=resolved)
    report = db.read(
        lambda s: sla.sla_report(
            session=s, since=opened - timedelta(days=1), until=opened + timedelta(days=1),
            now=opened + timedelta(days=1),
        )
    )  # fmt: skip
    assert report.overall.tickets == 2 and report.overall.met_percent == 50.0
    assert report.overall.median_reply_minutes == 60
    assert report.overall.median_resolve_minutes == 300
    assert [(g.key, g.met_percent) for g in report.by_type] == [("complaint", 100.0),
                                                                ("return", 0.0)]  # fmt: skip
    assert [g.key for g in report.by_store] == ["SH01"]
    assert [(g.key, g.tickets) for g in report.by_agent] == [("Agent", 2)]
