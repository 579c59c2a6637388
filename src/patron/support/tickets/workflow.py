"""The ticket workflow as plain data: which status may follow which (docs/support.md).

new → assigned → in progress → waiting for the customer or a supplier → resolved → closed;
a resolved or closed ticket may be reopened (back to in progress). Anything else is refused.
"""

from __future__ import annotations

from patron.support.exceptions import TransitionRefused
from patron.support.tickets.models import TicketStatus

S = TicketStatus

NEXT: dict[TicketStatus, frozenset[TicketStatus]] = {
    S.NEW: frozenset({S.ASSIGNED, S.IN_PROGRESS, S.RESOLVED}),
    S.ASSIGNED: frozenset(
        {S.ASSIGNED, S.IN_PROGRESS, S.WAITING_CUSTOMER, S.WAITING_SUPPLIER, S.RESOLVED}
    ),
    S.IN_PROGRESS: frozenset({S.ASSIGNED, S.WAITING_CUSTOMER, S.WAITING_SUPPLIER, S.RESOLVED}),
    S.WAITING_CUSTOMER: frozenset({S.IN_PROGRESS, S.WAITING_SUPPLIER, S.RESOLVED}),
    S.WAITING_SUPPLIER: frozenset({S.IN_PROGRESS, S.WAITING_CUSTOMER, S.RESOLVED}),
    S.RESOLVED: frozenset({S.CLOSED, S.IN_PROGRESS}),
    S.CLOSED: frozenset({S.IN_PROGRESS}),
}

WAITING = frozenset({S.WAITING_CUSTOMER, S.WAITING_SUPPLIER})
OPEN = frozenset({S.NEW, S.ASSIGNED, S.IN_PROGRESS, S.WAITING_CUSTOMER, S.WAITING_SUPPLIER})
DONE = frozenset({S.RESOLVED, S.CLOSED})


def check_transition(current: str, wanted: str) -> None:
    """Refuse ``current`` → ``wanted`` unless the workflow allows it."""
    try:
        now, then = TicketStatus(current), TicketStatus(wanted)
    except ValueError:
        raise TransitionRefused(
            f"unknown status {wanted!r}", current=current, wanted=wanted
        ) from None
    if then not in NEXT[now]:
        raise TransitionRefused(
            f"a ticket {current} cannot become {wanted}", current=current, wanted=wanted
        )


def is_reopen(current: str, wanted: str) -> bool:
    return current in DONE and wanted == S.IN_PROGRESS
