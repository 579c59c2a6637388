"""Pausing a campaign after its send holds its messages not yet handed to a provider, on the
embedded dispatcher; resuming releases them, and each recipient still gets exactly one."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from patron.campaigns import service as campaigns
from patron.core.clock import utcnow
from patron.core.db import Database
from patron.core.settings import Settings
from patron.engagement import service as outbox
from patron.engagement.dispatch import Dispatcher
from patron.engagement.embedded import EmbeddedDispatch
from tests.campaigns.helpers import EMAIL, approved, make_audience, make_campaign, make_template
from tests.consent.helpers import record
from tests.engagement.stand_ins import StandIns
from tests.helpers import ACTOR, add_store, reachable_customer


@pytest.fixture
def sent_campaign(db: Database) -> tuple[int, list[int]]:
    """An e-mail campaign to 8 consenting members, no holdout, sent (its messages queued)."""
    add_store(db, "SH01", "上海南京路店")
    people = [
        reachable_customer(db, store="SH01", name=f"会员{n}", tags=["campaign"]) for n in range(8)
    ]
    record(db, people, "email")
    campaign = make_campaign(
        db,
        name="会员日",
        audience_id=make_audience(db),
        templates={"email": make_template(db, EMAIL).id},
        holdout_percent=0,
    )
    approved(db, campaign.id)
    db.write(lambda s: campaigns.send_campaign(session=s, campaign_id=campaign.id, actor=ACTOR))
    return campaign.id, people


def _statuses(db: Database, campaign_id: int) -> dict[str, int]:
    return db.read(
        lambda s: outbox.count_by_status(
            session=s, source_kind="campaign", source_id=str(campaign_id)
        )
    )


def _wait_for(check: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the dispatcher did not finish"
        time.sleep(0.1)


def test_a_paused_campaign_holds_its_queued_messages_until_resumed(
    db: Database,
    sent_campaign: tuple[int, list[int]],
    configure: Callable[..., Settings],
    servers: StandIns,
) -> None:
    settings = configure(dispatch="embedded", dispatch_poll_s="0.1")
    campaign_id, people = sent_campaign
    paused = db.write(
        lambda s: campaigns.pause_campaign(session=s, campaign_id=campaign_id, actor=ACTOR)
    )
    assert paused.status == "paused"
    assert _statuses(db, campaign_id) == {"held": len(people)}

    dispatcher = Dispatcher(db, settings=settings)
    try:
        assert dispatcher.dispatch_due().claimed == 0  # held messages are not due
    finally:
        dispatcher.close_thread()

    embedded = EmbeddedDispatch(db, settings=settings)
    embedded.start()
    try:
        resumed = db.write(
            lambda s: campaigns.resume_campaign(session=s, campaign_id=campaign_id, actor=ACTOR)
        )
        assert resumed.status == "sent"  # back to where the pause found it
        _wait_for(lambda: _statuses(db, campaign_id) == {"sent": len(people)})
    finally:
        embedded.stop()
    assert sorted(servers.smtp.per_recipient().values()) == [1] * len(people)


def test_a_message_claimed_but_not_handed_over_is_held_and_never_sent(
    db: Database,
    sent_campaign: tuple[int, list[int]],
    configure: Callable[..., Settings],
    servers: StandIns,
) -> None:
    settings = configure(dispatch="embedded", dispatch_poll_s="0.1")
    campaign_id, people = sent_campaign
    # A dispatcher claimed three messages and is about to hand the first one over.
    claim = db.write(lambda s: outbox.claim_due(session=s, now=utcnow(), limit=3, lease_s=120))
    assert len(claim.messages) == 3
    db.write(lambda s: campaigns.pause_campaign(session=s, campaign_id=campaign_id, actor=ACTOR))
    first = claim.messages[0].id
    handed = db.write(
        lambda s: outbox.mark_handed_over(
            session=s, message_id=first, token=claim.token, provider="smtp", now=utcnow()
        )
    )
    assert not handed  # the claim was taken back: the adapter sends nothing
    assert _statuses(db, campaign_id) == {"held": len(people)}

    db.write(lambda s: campaigns.resume_campaign(session=s, campaign_id=campaign_id, actor=ACTOR))
    embedded = EmbeddedDispatch(db, settings=settings)
    embedded.start()
    try:
        _wait_for(lambda: _statuses(db, campaign_id) == {"sent": len(people)})
    finally:
        embedded.stop()
    assert sorted(servers.smtp.per_recipient().values()) == [1] * len(people)


def test_messages_handed_over_before_the_pause_are_left_to_finish(
    db: Database, sent_campaign: tuple[int, list[int]], configure: Callable[..., Settings]
) -> None:
    configure()
    campaign_id, people = sent_campaign
    claim = db.write(lambda s: outbox.claim_due(session=s, now=utcnow(), limit=1, lease_s=120))
    only = claim.messages[0].id
    assert db.write(
        lambda s: outbox.mark_handed_over(
            session=s, message_id=only, token=claim.token, provider="smtp", now=utcnow()
        )
    )
    db.write(lambda s: campaigns.pause_campaign(session=s, campaign_id=campaign_id, actor=ACTOR))
    assert _statuses(db, campaign_id) == {"sending": 1, "held": len(people) - 1}
