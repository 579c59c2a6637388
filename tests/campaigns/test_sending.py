"""A campaign sent end to end: real e-mails to the local SMTP server and SMS to the Aliyun
stand-in, the holdout left out, consent, caps and quiet hours obeyed, coupons issued to
exactly the recipients, and a second send that sends nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from patron.campaigns import service as campaigns
from patron.campaigns.holdout import held_out
from patron.core.db import Database
from patron.core.settings import Settings
from patron.engagement import service as outbox
from patron.engagement.dispatch import Dispatcher
from patron.loyalty.coupons import list_customer_coupons
from tests.campaigns.helpers import (
    EMAIL,
    SMS,
    approved,
    make_audience,
    make_campaign,
    make_coupon_template,
    make_template,
)
from tests.consent.helpers import record
from tests.engagement.builders import MORNING
from tests.engagement.stand_ins import StandIns
from tests.helpers import ACTOR, add_store, reachable_customer, sign_up


def _dispatch(db: Database, settings: Settings, at: object) -> None:
    dispatcher = Dispatcher(db, settings=settings, clock=lambda: at)  # type: ignore[arg-type,return-value]
    try:
        dispatcher.dispatch_due()
    finally:
        dispatcher.close_thread()


@pytest.fixture
def shop(db: Database) -> dict[str, list[int]]:
    """30 tagged members at SH01: 12 agreed to e-mail, 12 to SMS only, 6 to nothing; and one
    untagged member who agreed to everything."""
    add_store(db, "SH01", "上海南京路店")
    people = [
        reachable_customer(db, store="SH01", name=f"会员{n}", tags=["campaign"]) for n in range(30)
    ]
    outsider = reachable_customer(db, store="SH01", name="路人")
    record(db, [*people[:12], outsider], "email")
    record(db, [*people[12:24], outsider], "sms")
    return {"email": people[:12], "sms": people[12:24], "none": people[24:], "all": people}


def test_a_campaign_reaches_exactly_the_treated_who_consented_with_their_coupons(
    db: Database, shop: dict[str, list[int]], configure: Callable[..., Settings], servers: StandIns
) -> None:
    settings = configure()
    audience = make_audience(db)
    email, sms = make_template(db, EMAIL), make_template(db, SMS)
    campaign = make_campaign(
        db,
        name="会员日",
        audience_id=audience,
        templates={"email": email.id, "sms": sms.id},
        offer="coupon",
        coupon_template_code=make_coupon_template(db),
        holdout_percent=30,
    )
    assert campaign.status == "draft"
    assert approved(db, campaign.id).status == "scheduled"

    outcome = db.write(
        lambda s: campaigns.send_campaign(
            session=s, campaign_id=campaign.id, actor=ACTOR, now=MORNING
        )
    )
    _dispatch(db, settings, MORNING + timedelta(minutes=1))

    members = db.read(lambda s: campaigns.campaign_members(session=s, campaign_id=campaign.id))
    assert sorted(m[0] for m in members) == sorted(shop["all"])  # the outsider is not drawn
    mask = held_out([m[0] for m in members], seed=campaign.seed, holdout_bp=3000)
    assert [m[1] for m in members] == mask.tolist()  # reproducible from the stored seed
    holdout = {m[0] for m in members if m[1]}
    assert 0 < len(holdout) < 30 and outcome.held_out == len(holdout)
    expected_email = set(shop["email"]) - holdout
    expected_sms = set(shop["sms"]) - holdout
    assert {m[0] for m in members if m[2] == "email"} == expected_email
    assert {m[0] for m in members if m[2] == "sms"} == expected_sms
    assert outcome.messages == {"email": len(expected_email), "sms": len(expected_sms)}
    assert outcome.unreachable == len(set(shop["none"]) - holdout)

    # real deliveries: one e-mail or SMS per recipient, none to the holdout or the silent
    assert sum(servers.smtp.per_recipient().values()) == len(expected_email)
    assert sum(servers.aliyun.per_recipient().values()) == len(expected_sms)
    mail = servers.smtp.delivered[0].message
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    code = next(m[3] for m in members if m[2] == "email" and m[3] and m[3] in text)
    assert "到上海南京路店全场 8 折" in text
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "/o/" in html and "/c/" in html and code in html

    # coupons: exactly the recipients, each one, and the codes their messages carry
    recipients = expected_email | expected_sms
    holders = {
        cid
        for cid in shop["all"]
        if db.read(lambda s, c=cid: list_customer_coupons(session=s, customer_id=c, now=MORNING))
    }
    assert holders == recipients and outcome.coupons == len(recipients)

    again = db.write(
        lambda s: campaigns.send_campaign(
            session=s, campaign_id=campaign.id, actor=ACTOR, now=MORNING
        )
    )
    assert again.already_sent
    counts = db.read(lambda s: outbox.count_by_status(session=s, source_kind="campaign"))
    assert counts == {"sent": len(recipients)}


def test_a_campaign_sent_in_the_evening_defers_sms_to_the_morning_and_respects_caps(
    db: Database, configure: Callable[..., Settings], servers: StandIns
) -> None:
    settings = configure()
    add_store(db, "SH01", "上海南京路店")
    people = [reachable_customer(db, store="SH01", tags=["campaign"]) for _ in range(4)]
    record(db, people, "sms")
    evening = MORNING.replace(hour=14)  # 22:00 in Shanghai: quiet hours for marketing SMS
    audience = make_audience(db)
    sms = make_template(db, SMS)
    first = make_campaign(
        db, name="一", audience_id=audience, templates={"sms": sms.id}, holdout_percent=0
    )
    second = make_campaign(
        db, name="二", audience_id=audience, templates={"sms": sms.id}, holdout_percent=0
    )
    for c in (first, second):
        approved(db, c.id)
        db.write(
            lambda s, c=c: campaigns.send_campaign(
                session=s, campaign_id=c.id, actor=ACTOR, now=evening
            )
        )

    _dispatch(db, settings, evening + timedelta(minutes=1))
    assert servers.aliyun.per_recipient() == {}  # nothing at night

    next_morning = evening + timedelta(hours=10, minutes=5)  # 08:05 the next day
    _dispatch(db, settings, next_morning)
    # one SMS a day each: the second campaign's messages meet the cap and are skipped
    assert sorted(servers.aliyun.per_recipient().values()) == [1, 1, 1, 1]
    counts = db.read(lambda s: outbox.count_by_status(session=s, source_kind="campaign"))
    assert counts == {"sent": 4, "skipped": 4}


def test_a_campaign_waits_for_approval_and_its_time(db: Database) -> None:
    sign_up(db, phone="13800000001", tags=["campaign"])
    audience = make_audience(db)
    sms = make_template(db, SMS)
    campaign = make_campaign(
        db,
        name="稍后",
        audience_id=audience,
        templates={"sms": sms.id},
        send_at=(MORNING + timedelta(days=1)).isoformat(),
    )
    from patron.core.errors import Conflict

    with pytest.raises(Conflict):
        db.write(
            lambda s: campaigns.send_campaign(
                session=s, campaign_id=campaign.id, actor=ACTOR, now=MORNING
            )
        )
    approved(db, campaign.id)
    assert db.read(lambda s: campaigns.due_campaign_ids(session=s, now=MORNING)) == []
    assert db.read(
        lambda s: campaigns.due_campaign_ids(session=s, now=MORNING + timedelta(days=2))
    ) == [campaign.id]
    db.write(lambda s: campaigns.pause_campaign(session=s, campaign_id=campaign.id, actor=ACTOR))
    assert (
        db.read(lambda s: campaigns.due_campaign_ids(session=s, now=MORNING + timedelta(days=2)))
        == []
    )
