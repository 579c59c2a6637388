"""Send-time checks that other domains add: consent and do-not-contact lists say, for a batch
of messages about to go, which may not go and why. A message a check names is skipped with
that reason; it is never retried or rescheduled.

A check is registered once, at import of the module that defines it::

    register_send_check("consent", consent_check)

and is called with the dispatcher's session and the batch's candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Candidate:
    message_id: int
    customer_id: int
    channel: str
    marketing: bool
    address: str


# (session, candidates) → {message id: reason code} for those that may not go
SendCheck = Callable[[Session, Sequence[Candidate]], Mapping[int, str]]

_checks: dict[str, SendCheck] = {}


def register_send_check(name: str, check: SendCheck) -> None:
    _checks[name] = check


def unregister_send_check(name: str) -> None:
    _checks.pop(name, None)


def refusals(session: Session, candidates: Sequence[Candidate]) -> dict[int, str]:
    """The first reason any registered check gives, per message."""
    found: dict[int, str] = {}
    for check in list(_checks.values()):
        for message_id, reason in check(session, candidates).items():
            found.setdefault(message_id, reason)
    return found
