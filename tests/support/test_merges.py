"""A customer merge takes their tickets along, and an undone merge brings them back."""

from __future__ import annotations

from patron.core.db import Database
from patron.customers import service as customers
from patron.support.tickets import service as tickets
from patron.support.tickets.schemas import TicketFilter
from tests.helpers import ACTOR, sign_up
from tests.support.helpers import open_ticket


def _theirs(db: Database, customer_id: int) -> list[int]:
    filters = TicketFilter(customer_id=customer_id)
    found = db.read(lambda s: tickets.list_tickets(session=s, filters=filters, actor=ACTOR))
    return [t.id for t in found]


def test_a_merge_moves_the_tickets_and_undoing_it_moves_them_back(db: Database) -> None:
    survivor = sign_up(db, phone="13900000001")
    merged = sign_up(db, phone="13900000002")
    ticket = open_ticket(db, customer={"phone": "13900000002"})
    merge = db.write(
        lambda s: customers.merge_customers(
            session=s, survivor_id=survivor, merged_id=merged, reason="same person", actor=ACTOR
        )
    )
    assert _theirs(db, survivor) == [ticket.id] and merge.moved["ticket"] == [ticket.id]
    db.write(lambda s: customers.unmerge_customers(session=s, merge_id=merge.id, actor=ACTOR))
    assert _theirs(db, merged) == [ticket.id] and _theirs(db, survivor) == []
