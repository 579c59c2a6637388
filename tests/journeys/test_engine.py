"""The engine's promises: a scheduler killed mid-batch or run twice writes each message
once; an edit never strands customers mid-step (versions); a purchase ends an entry at its
goal and the holdout measures it; consent withdrawn mid-journey stops the message; two
profiles merged inside one journey walk on as one; a segment's entries enter."""

from __future__ import annotations

from datetime import timedelta

import pytest

from patron import audiences
from patron.core.db import Database
from patron.customers import service as customers
from patron.journeys import (
    EventRecord,
    JourneyIn,
    create_journey,
    feed_events,
    get_journey_or_raise,
    journey_counts,
    journey_stats,
    update_journey,
)
from patron.journeys.engine import run_due_batch
from patron.journeys.scheduler import _order_events
from tests.campaigns.helpers import make_audience, make_template
from tests.consent.helpers import record
from tests.helpers import ACTOR, post_order
from tests.journeys.helpers import entries, local, messaged, shop, tick

SMS = {"name": "旅程短信", "channel": "sms", "text_zh": "{{ name }}您好，回复TD退订"}
START = local(2027, 3, 15, 10, 0)


def _journey(db: Database, steps: list[dict[str, object]], **fields: object) -> int:
    template = make_template(db, SMS)
    resolved = [
        {**s, "templates": {"sms": template.id}} if s["kind"] == "send" else s for s in steps
    ]
    journey_in = JourneyIn.model_validate(
        {
            "name": "测试旅程",
            "trigger": {"kind": "event", "event": "order.created"},
            "steps": resolved,
            "goal": None,
            **fields,
        }
    )
    return db.write(
        lambda s: create_journey(session=s, journey_in=journey_in, actor=ACTOR, enabled=True)
    ).id


class Killed(Exception):
    pass


def test_a_scheduler_killed_mid_batch_leaves_nothing_and_the_next_run_sends_once(
    db: Database,
) -> None:
    people = shop(db, 小王="1990-05-01", 小李="1991-06-01")
    journey = _journey(db, [{"kind": "send"}])
    for n, cid in enumerate(people.values()):
        post_order(db, f"K{n}", customer={"id": cid}, at=START)

    def killed(session: object) -> None:
        run_due_batch(session=session, now=START)  # type: ignore[arg-type]
        raise Killed  # the process dies before the commit

    # Let them in (the orders' events), then die in the middle of the step's batch.
    db.write(lambda s: _order_events(s, START))
    with pytest.raises(Killed):
        db.write(killed)
    assert messaged(db, journey) == []
    tick(db, START)
    tick(db, START + timedelta(minutes=1))
    assert messaged(db, journey) == sorted((cid, "sms") for cid in people.values())


def test_editing_a_running_journey_keeps_those_inside_on_their_version(db: Database) -> None:
    people = shop(db, 小王="1990-05-01", 小李="1991-06-01")
    journey = _journey(db, [{"kind": "wait", "days": 1}, {"kind": "send"}])
    post_order(db, "V1", customer={"id": people["小王"]}, at=START)
    tick(db, START)
    read = db.read(lambda s: get_journey_or_raise(session=s, journey_id=journey))
    edited = JourneyIn.model_validate(
        {
            "name": read.name,
            "trigger": read.trigger,
            "steps": [{"kind": "tag", "add": "新版本", "key": "t1"}, read.steps[1]],
            "goal": None,
        }
    )
    db.write(
        lambda s: update_journey(session=s, journey_id=journey, journey_in=edited, actor=ACTOR)
    )
    post_order(db, "V2", customer={"id": people["小李"]}, at=START + timedelta(hours=1))
    tick(db, START + timedelta(hours=1))
    tick(db, START + timedelta(days=1, minutes=1))
    by_customer = {e.customer_id: e for e in entries(db, journey)}
    # 小王 entered on version 1: waited a day, then was sent; 小李 on version 2: tagged, sent.
    assert by_customer[people["小王"]].outcomes == {"s1": "waited", "s2": "sent:sms"}
    assert by_customer[people["小李"]].outcomes == {"t1": "tagged", "s2": "sent:sms"}
    tags = db.read(
        lambda s: customers.get_customer_or_raise(session=s, customer_id=people["小李"])
    ).tags
    assert "新版本" in tags


def test_a_purchase_ends_the_entry_at_its_goal_and_the_holdout_is_measured(
    db: Database,
) -> None:
    people = shop(db, **{f"会员{n}": "1990-05-01" for n in range(12)})
    journey = _journey(
        db,
        [{"kind": "wait", "days": 2}, {"kind": "send"}],
        trigger={"kind": "event", "event": "cart_add"},
        goal="purchase",
        holdout_percent=50,
    )
    records = [
        EventRecord(n, f"cart-{n}", "cart_add", cid, None, START, {})
        for n, cid in enumerate(people.values())
    ]
    db.write(lambda s: feed_events(session=s, records=records, now=START))
    tick(db, START)
    buyers = list(people.values())[:6]
    for n, cid in enumerate(buyers):
        post_order(db, f"G{n}", customer={"id": cid}, at=START + timedelta(days=1))
    tick(db, START + timedelta(days=1, hours=1))
    tick(db, START + timedelta(days=3))
    walked = {e.customer_id: e for e in entries(db, journey)}
    for cid in buyers:
        assert walked[cid].converted_at is not None
        assert walked[cid].status in ("converted", "holdout")
    sent = {cid for cid, _ in messaged(db, journey)}
    treated_non_buyers = {
        cid for cid, e in walked.items() if e.status != "holdout" and cid not in buyers
    }
    assert sent == treated_non_buyers
    stats = db.read(lambda s: journey_stats(session=s, journey_id=journey))
    assert stats.entered == 12
    assert stats.converted + stats.holdout_converted == 6
    assert stats.converted == sum(1 for c in buyers if walked[c].status == "converted")
    # the journeys list's one-query figures agree with the journey's own
    listed = db.read(lambda s: journey_counts(session=s, journey_ids=[journey]))[journey]
    assert (listed.entered, listed.active, listed.converted) == (
        stats.entered,
        stats.active,
        stats.converted,
    )


def test_consent_withdrawn_mid_journey_stops_the_message(db: Database) -> None:
    people = shop(db, 小王="1990-05-01", 小李="1991-06-01")
    journey = _journey(db, [{"kind": "wait", "hours": 3}, {"kind": "send"}])
    for n, cid in enumerate(people.values()):
        post_order(db, f"W{n}", customer={"id": cid}, at=START)
    tick(db, START)
    record(db, [people["小李"]], "sms", granted=False)
    tick(db, START + timedelta(hours=3))
    assert messaged(db, journey) == [(people["小王"], "sms")]
    outcomes = {e.customer_id: e.outcomes["s2"] for e in entries(db, journey)}
    assert outcomes[people["小李"]] == "unreachable"


def test_two_profiles_merged_inside_one_journey_walk_on_as_one(db: Database) -> None:
    people = shop(db, 小王="1990-05-01", 王小="1990-05-01")
    journey = _journey(
        db,
        [{"kind": "wait", "days": 1}, {"kind": "send"}],
        trigger={"kind": "birthday", "at": "10:00"},
    )
    tick(db, local(2027, 5, 1, 10, 0))
    assert len(entries(db, journey)) == 2
    db.write(
        lambda s: customers.merge_customers(
            session=s,
            survivor_id=people["小王"],
            merged_id=people["王小"],
            reason="同一人",
            actor=ACTOR,
        )
    )
    tick(db, local(2027, 5, 2, 10, 1))
    assert messaged(db, journey) == [(people["小王"], "sms")]
    statuses = sorted(e.status for e in entries(db, journey))
    assert statuses == ["done", "merged"]


def test_an_undone_merge_gives_each_profile_its_own_entries_back(db: Database) -> None:
    # 小王's entry and 王小's are one occurrence (the merge ends 王小's); 小李's moves to
    # 小张, who is not in the journey yet.
    people = shop(db, 小王="1990-05-01", 王小="1990-05-01", 小李="1990-05-01", 小张="1990-08-01")
    journey = _journey(
        db,
        [{"kind": "wait", "days": 1}, {"kind": "send"}],
        trigger={"kind": "birthday", "at": "10:00"},
    )
    tick(db, local(2027, 5, 1, 10, 0))
    before = {e.id: (e.customer_id, e.status) for e in entries(db, journey)}
    in_may = [people[n] for n in ("小王", "王小", "小李")]
    assert sorted(cid for cid, _ in before.values()) == sorted(in_may)

    def merge(survivor: str, merged: str) -> int:
        return db.write(
            lambda s: customers.merge_customers(
                session=s,
                survivor_id=people[survivor],
                merged_id=people[merged],
                reason="同一人",
                actor=ACTOR,
            )
        ).id

    merges = [merge("小王", "王小"), merge("小张", "小李")]
    during = {e.id: (e.customer_id, e.status) for e in entries(db, journey)}
    assert sorted(status for _, status in during.values()).count("merged") == 1
    assert people["小张"] in {cid for cid, _ in during.values()}
    for merge_id in reversed(merges):
        db.write(
            lambda s, m=merge_id: customers.unmerge_customers(session=s, actor=ACTOR, merge_id=m)
        )
    after = {e.id: (e.customer_id, e.status) for e in entries(db, journey)}
    assert after == before  # each entry with its own profile, the ended one running again
    tick(db, local(2027, 5, 2, 10, 1))
    assert sorted(messaged(db, journey)) == sorted((cid, "sms") for cid in in_may)


def test_a_segments_new_members_enter_and_those_already_in_it_do_not(db: Database) -> None:
    people = shop(db, 小王="1990-05-01", 小李="1991-06-01")

    def tag(cid: int) -> None:
        db.write(lambda s: customers.add_tag(session=s, customer_id=cid, name="vip"))

    tag(people["小王"])
    audience = make_audience(db, tag="vip", name="VIP")
    journey = _journey(
        db, [{"kind": "send"}], trigger={"kind": "segment", "audience_id": audience, "at": "10:00"}
    )
    tick(db, local(2027, 3, 15, 10, 0))  # the first look: who is in it already stays out
    assert entries(db, journey) == []
    tag(people["小李"])
    audiences.refresh_audience_store(db=db)
    tick(db, local(2027, 3, 16, 10, 0))
    assert messaged(db, journey) == [(people["小李"], "sms")]


def test_a_step_that_breaks_a_rule_ends_its_entries_instead_of_failing_every_run(
    db: Database,
) -> None:
    people = shop(db, 小王="1990-05-01")
    journey = _journey(db, [{"kind": "coupon", "template_code": "NO-SUCH"}, {"kind": "send"}])
    post_order(db, "F1", customer={"id": people["小王"]}, at=START)
    tick(db, START)
    (entry,) = entries(db, journey)
    assert entry.status == "exited"
    assert entry.outcomes["s1"].startswith("failed")
    assert messaged(db, journey) == []
