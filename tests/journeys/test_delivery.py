"""Journeys' messages delivered for real (the Aliyun SMS stand-in): the outbox's caps and
quiet hours apply to them as to a campaign's. A member greeted for the Spring Festival at
nine and for her birthday at ten the same day gets one SMS: the second meets the daily cap
and is skipped; the journey does not try again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.campaigns import templates
from patron.campaigns.schemas import TemplateIn
from patron.core.db import Database
from patron.core.settings import Settings
from patron.engagement.dispatch import Dispatcher
from patron.engagement.models import OutboxMessage
from tests.engagement.stand_ins import StandIns
from tests.helpers import ACTOR
from tests.journeys.helpers import entries, local, shop, switch_on, tick


def _approved_by_aliyun(db: Database) -> None:
    """What a retailer does once Aliyun approved the shipped texts: name the template codes."""

    def work(s: Session) -> None:
        for t in templates.list_templates(session=s):
            if t.name.startswith("旅程："):
                fields = t.model_dump(include=set(TemplateIn.model_fields) - {"provider_templates"})
                template_in = TemplateIn.model_validate(
                    {**fields, "provider_templates": {"aliyun": f"SMS_{t.id:09d}"}}
                )
                templates.update_template(
                    session=s, template_id=t.id, template_in=template_in, actor=ACTOR
                )

    db.write(work)


def _dispatch(db: Database, settings: Settings, at: datetime) -> None:
    dispatcher = Dispatcher(db, settings=settings, clock=lambda: at)
    try:
        dispatcher.dispatch_due()
    finally:
        dispatcher.close_thread()


def test_two_journeys_on_one_day_send_one_sms_under_the_daily_cap(
    db: Database, configure: Callable[..., Settings], servers: StandIns
) -> None:
    settings = configure()
    people = shop(db, 小王="1990-02-06")
    ids = switch_on(db, "spring_festival", "birthday")
    _approved_by_aliyun(db)
    tick(db, local(2027, 2, 6, 9, 0))
    _dispatch(db, settings, local(2027, 2, 6, 9, 1))
    tick(db, local(2027, 2, 6, 10, 0))
    _dispatch(db, settings, local(2027, 2, 6, 10, 1))
    assert list(servers.aliyun.per_recipient().values()) == [1]
    statuses = db.read(
        lambda s: dict(
            s.execute(
                select(OutboxMessage.source_id, OutboxMessage.status).where(
                    OutboxMessage.customer_id == people["小王"]
                )
            ).all()
        )
    )
    assert sorted(statuses.values()) == ["sent", "skipped"]
    assert all(e.status == "done" for i in ids.values() for e in entries(db, i))
