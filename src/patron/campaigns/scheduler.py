"""Sending campaigns whose time has come: ``patron campaigns send-due`` from cron, or a thread
of ``patron serve`` (the embedded default) that does the same every ``campaign_poll_s``
seconds. Of several server processes only the one holding the leader lock sends
(core/leader.py); and a second send of a campaign finds it sent and writes nothing, so even
two senders could not double a message (docs/campaigns.md)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from patron.campaigns import service
from patron.campaigns.schemas import SendOutcome
from patron.core.actor import Actor, system_actor
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.errors import Conflict
from patron.core.leader import leader_lock
from patron.core.periodic import PeriodicThread
from patron.core.settings import Settings, get_settings

log = logging.getLogger(__name__)

LOCK = "campaigns-due"


def send_due(db: Database, *, actor: Actor, now: datetime | None = None) -> list[SendOutcome]:
    """Send every scheduled campaign due at ``now``, one transaction each, highest priority
    first. A campaign paused or sent meanwhile (by "Send now") is passed over."""
    now = now or utcnow()
    outcomes: list[SendOutcome] = []
    for campaign_id in db.read(lambda s: service.due_campaign_ids(session=s, now=now)):

        def send(session: Session, campaign_id: int = campaign_id) -> SendOutcome:
            return service.send_campaign(
                session=session, campaign_id=campaign_id, actor=actor, now=now
            )

        try:
            outcome = db.write(send)
        except Conflict as exc:  # its state changed between the look and the send
            log.info("campaign %s not sent: %s", campaign_id, exc)
            continue
        if not outcome.already_sent:
            outcomes.append(outcome)
    return outcomes


def send_due_as_leader(
    db: Database, *, actor: Actor, now: datetime | None = None
) -> list[SendOutcome] | None:
    """:func:`send_due` under the leader lock: None when another process (a server's
    scheduler, cron on another machine) is sending now."""
    with leader_lock(db, LOCK) as leader:
        return send_due(db, actor=actor, now=now) if leader else None


class CampaignScheduler(PeriodicThread):
    """A thread sending due campaigns while this process holds the leader lock."""

    def __init__(self, db: Database, *, settings: Settings | None = None) -> None:
        self.db = db
        self.settings = settings or get_settings()
        self.actor = system_actor("scheduler")
        super().__init__(
            "patron-campaigns",
            "sending due campaigns",
            self._pass,
            lambda: self.settings.campaign_poll_s,
        )

    def run_once(self, now: datetime | None = None) -> list[SendOutcome] | None:
        """One pass: the outcomes sent, or None when another process is the leader."""
        return send_due_as_leader(self.db, actor=self.actor, now=now)

    def _pass(self) -> None:
        for outcome in self.run_once() or []:
            log.info(
                "campaign %s sent: %d messages", outcome.campaign_id, sum(outcome.messages.values())
            )


def start_scheduler(db: Database) -> CampaignScheduler | None:
    """Start sending due campaigns in this server process when PATRON_CAMPAIGN_SCHEDULER is
    on (the default). Under tests only when the test sets it itself."""
    settings = get_settings()
    if not settings.campaign_scheduler or not isinstance(db, Database):
        return None
    if settings.env == "test" and "campaign_scheduler" not in settings.model_fields_set:
        return None
    scheduler = CampaignScheduler(db, settings=settings)
    scheduler.start()
    return scheduler
