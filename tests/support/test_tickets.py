"""Tickets: opened for a customer found by phone, moved through the workflow (and refused
where it does not go), assigned, noted and replied to, seen only in one's own stores."""

from __future__ import annotations

import pytest

from patron.audit.service import list_audit
from patron.core.db import Database
from patron.core.errors import InvalidInput
from patron.customers import service as customers
from patron.staff.roles import Role
from patron.support.exceptions import TicketNotFound, TicketRefused, TransitionRefused
from patron.support.tickets import service as tickets
from patron.support.tickets.schemas import AssignIn, CategoryIn, TicketFilter
from tests.helpers import ACTOR, add_store, post_order, sign_up
from tests.support.helpers import move, open_ticket, reply, store_actor
from tests.web.helpers.console import make_staff


def test_a_return_ticket_finds_the_customer_by_phone_and_takes_the_orders_store(
    db: Database,
) -> None:
    add_store(db, "SH01", "人民广场店")
    customer = sign_up(db, name="李娜", phone="13900000001")
    order = post_order(db, "O-1", store_code="SH01", customer={"phone": "13900000001"})
    ticket = open_ticket(db, ticket_type="return", order_id=order.order.id, lines=[{"line_no": 1}])
    assert ticket.customer_id == customer and ticket.store_code == "SH01"
    assert ticket.status == "new" and ticket.lines[0].line_no == 1
    audit = db.read(lambda s: list_audit(session=s, action="ticket.open", limit=5))
    assert [e.target_id for e in audit.items] == [str(ticket.id)]


def test_a_line_the_order_does_not_have_is_refused_by_its_field(db: Database) -> None:
    add_store(db, "SH01", "人民广场店")
    order = post_order(db, "O-1", store_code="SH01", customer={"phone": "13900000001"})
    with pytest.raises(InvalidInput) as refused:
        open_ticket(db, ticket_type="return", order_id=order.order.id, lines=[{"line_no": 7}])
    assert refused.value.field == "lines.0.line_no"
    assert refused.value.message_code == "ticket_line_unknown"


def test_the_workflow_runs_from_new_to_closed_and_reopens(db: Database) -> None:
    add_store(db, "SH01", "人民广场店")
    agent = make_staff(db, "agent", Role.SERVICE_AGENT)
    ticket = open_ticket(db, store_code="SH01")
    assigned = db.write(
        lambda s: tickets.assign(
            session=s, ticket_id=ticket.id, assign_in=AssignIn(staff_id=agent), actor=ACTOR
        )
    )
    assert assigned.status == "assigned" and assigned.assignee == "Agent"
    reply(db, ticket.id)
    detail = db.read(lambda s: tickets.get_ticket(session=s, ticket_id=ticket.id, actor=ACTOR))
    assert detail.status == "in_progress" and detail.first_replied_at is not None
    for status in ("waiting_customer", "in_progress", "waiting_supplier", "resolved", "closed"):
        assert move(db, ticket.id, status).status == status
    reopened = move(db, ticket.id, "in_progress")
    assert reopened.resolved_at is None and reopened.closed_at is None
    detail = db.read(lambda s: tickets.get_ticket(session=s, ticket_id=ticket.id, actor=ACTOR))
    statuses = [e.to_status for e in detail.entries if e.kind == "status"]
    assert statuses == [
        "new", "assigned", "in_progress", "waiting_customer", "in_progress",
        "waiting_supplier", "resolved", "closed", "in_progress",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ((), "closed"),
        ((), "waiting_customer"),
        (("resolved", "closed"), "waiting_supplier"),
        (("resolved",), "resolved"),
    ],
)
def test_a_transition_the_workflow_does_not_have_is_refused_with_its_statuses(
    db: Database, path: tuple[str, ...], refused: str
) -> None:
    ticket = open_ticket(db)
    for status in path:
        move(db, ticket.id, status)
    with pytest.raises(TransitionRefused) as error:
        move(db, ticket.id, refused)
    assert error.value.facts == {"current": (path or ("new",))[-1], "wanted": refused}


def test_assigned_needs_someone_and_a_closed_ticket_takes_no_reply(db: Database) -> None:
    ticket = open_ticket(db)
    with pytest.raises(TicketRefused):
        move(db, ticket.id, "assigned")
    move(db, ticket.id, "resolved")
    move(db, ticket.id, "closed")
    with pytest.raises(TicketRefused):
        reply(db, ticket.id)


def test_a_cashier_sees_only_her_stores_tickets(db: Database) -> None:
    add_store(db, "SH01", "人民广场店")
    add_store(db, "BJ01", "王府井店")
    ours = open_ticket(db, store_code="SH01")
    theirs = open_ticket(db, store_code="BJ01", customer={"phone": "13900000002"})
    cashier = store_actor(db, "SH01")
    seen = db.read(lambda s: tickets.list_tickets(session=s, filters=TicketFilter(), actor=cashier))
    assert [t.id for t in seen] == [ours.id]
    with pytest.raises(TicketNotFound):
        db.read(lambda s: tickets.get_ticket(session=s, ticket_id=theirs.id, actor=cashier))
    mine = open_ticket(db, actor=cashier, customer={"phone": "13900000003"})
    assert mine.store_code == "SH01"
    with pytest.raises(InvalidInput) as refused:
        open_ticket(db, actor=cashier, store_code="BJ01")
    assert refused.value.field == "store_code"


def test_a_cashier_of_another_store_cannot_be_given_the_ticket(db: Database) -> None:
    add_store(db, "SH01", "人民广场店")
    add_store(db, "BJ01", "王府井店")
    other = make_staff(db, "wang", Role.CASHIER, ["BJ01"])
    ticket = open_ticket(db, store_code="SH01")
    with pytest.raises(InvalidInput) as refused:
        db.write(
            lambda s: tickets.assign(
                session=s, ticket_id=ticket.id, assign_in=AssignIn(staff_id=other), actor=ACTOR
            )
        )
    assert refused.value.field == "staff_id"
    queued = db.write(
        lambda s: tickets.assign(
            session=s, ticket_id=ticket.id, assign_in=AssignIn(store_code="BJ01"), actor=ACTOR
        )
    )
    assert queued.store_code == "BJ01" and queued.assignee_id is None and queued.status == "new"


def test_categories_form_a_tree_and_a_ticket_names_one(db: Database) -> None:
    def add(code: str, parent: str | None) -> None:
        category = CategoryIn(code=code, parent_code=parent, name_zh=code, name_en=code)
        db.write(lambda s: tickets.create_category(session=s, category_in=category, actor=ACTOR))

    add("quality", None)
    add("broken", "quality")
    paths = [c.path for c in db.read(lambda s: tickets.list_categories(session=s))]
    assert paths == ["quality", "quality/broken"]
    assert open_ticket(db, category_code="broken").category_code == "broken"
    with pytest.raises(InvalidInput) as refused:
        open_ticket(db, category_code="nope")
    assert refused.value.field == "category_code"


def test_a_note_stays_internal_and_does_not_count_as_a_reply(db: Database) -> None:
    ticket = open_ticket(db)
    reply(db, ticket.id, kind="note")
    detail = db.read(lambda s: tickets.get_ticket(session=s, ticket_id=ticket.id, actor=ACTOR))
    assert detail.first_replied_at is None and detail.status == "new"
    assert customers  # the customer module is what found the phone's owner
