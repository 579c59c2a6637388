"""Each shipped journey end to end on a small shop with a frozen clock (Asia/Shanghai): who
enters on which day and hour, what they are sent, and who is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from patron.catalog import service as catalog
from patron.catalog.schemas import ProductIn
from patron.core.db import Database
from patron.journeys import EventRecord, feed_events
from patron.journeys.tasks import list_tasks
from tests.helpers import post_order
from tests.journeys.helpers import entries, local, messaged, shop, switch_on, tick


def _event(
    kind: str, customer_id: int, at: datetime, n: int = 1, **properties: object
) -> EventRecord:
    return EventRecord(
        id=n,
        event_id=f"{kind}-{customer_id}-{n}",
        type=kind,
        customer_id=customer_id,
        store_id=None,
        occurred_at=at,
        properties=dict(properties),
    )


def _feed(db: Database, records: list[EventRecord], now: datetime) -> None:
    db.write(lambda s: feed_events(session=s, records=records, now=now))


def test_festival_greetings_follow_the_lunar_calendar_of_the_library(db: Database) -> None:
    people = shop(db, 小王="1990-05-01", 小李="1991-06-01")
    ids = switch_on(db, "spring_festival", "mid_autumn")
    tick(db, local(2027, 2, 5, 9, 30))  # New Year's Eve: not yet
    assert messaged(db, ids["spring_festival"]) == []
    tick(db, local(2027, 2, 6, 8, 59))  # the first day, before nine
    assert messaged(db, ids["spring_festival"]) == []
    tick(db, local(2027, 2, 6, 9, 0))
    expected = sorted((cid, "sms") for cid in people.values())
    assert messaged(db, ids["spring_festival"]) == expected
    assert messaged(db, ids["mid_autumn"]) == []
    tick(db, local(2027, 2, 7, 9, 0))  # the second day of the holiday: nobody again
    assert messaged(db, ids["spring_festival"]) == expected
    tick(db, local(2027, 9, 15, 9, 5))
    assert messaged(db, ids["mid_autumn"]) == expected


def test_member_day_reminder_on_the_programmes_member_day(db: Database) -> None:
    people = shop(db, 小王="1990-05-01")
    journey = switch_on(db, "member_day")["member_day"]
    tick(db, local(2027, 3, 16, 9, 0))  # a Tuesday
    assert messaged(db, journey) == []
    tick(db, local(2027, 3, 17, 9, 0))  # Wednesday: the built-in programme's member day
    assert messaged(db, journey) == [(people["小王"], "sms")]
    tick(db, local(2027, 3, 24, 9, 0))  # next week's: a new entry, a new message
    assert len(entries(db, journey)) == 2


def test_post_purchase_thank_you_two_hours_after_the_order(db: Database) -> None:
    people = shop(db, 小王="1990-05-01")
    journey = switch_on(db, "post_purchase")["post_purchase"]
    bought = local(2027, 3, 15, 14, 0)
    post_order(db, "T1", customer={"id": people["小王"]}, at=bought)
    first = tick(db, bought + timedelta(minutes=1))
    assert first.entered == 1  # the tick's figures count entries by event too
    assert messaged(db, journey) == []
    (entry,) = entries(db, journey)
    assert entry.step_key == "s2"
    tick(db, bought + timedelta(hours=2, minutes=1))
    assert messaged(db, journey) == [(people["小王"], "sms")]
    post_order(db, "T2", customer={"id": people["小王"]}, at=bought + timedelta(days=1))
    tick(db, bought + timedelta(days=1, hours=3))  # re-entry waits 30 days: no second thanks
    assert len(entries(db, journey)) == 1


def test_replenishment_by_shelf_life_and_by_the_customers_own_gap(db: Database) -> None:
    people = shop(db, 小王="1990-05-01", 小李="1991-06-01")
    db.write(
        lambda s: catalog.upsert_products(
            session=s,
            products_in=[ProductIn(sku="MILK", name="牛奶", shelf_life_days=7)],
        )
    )
    journey = switch_on(db, "replenishment")["replenishment"]
    milk = [{"sku": "MILK", "quantity": 1, "unit_price_fen": 1500}]
    rice = [{"sku": "RICE", "quantity": 1, "unit_price_fen": 5000}]
    post_order(db, "M1", customer={"id": people["小王"]}, lines=milk, at=local(2027, 3, 1, 12))
    # 小李 buys rice every 20 days: due 20 days after her last.
    post_order(db, "R1", customer={"id": people["小李"]}, lines=rice, at=local(2027, 2, 1, 12))
    post_order(db, "R2", customer={"id": people["小李"]}, lines=rice, at=local(2027, 2, 21, 12))
    tick(db, local(2027, 3, 7, 10, 0))
    assert messaged(db, journey) == []
    tick(db, local(2027, 3, 8, 10, 0))  # 7 days after the milk
    assert messaged(db, journey) == [(people["小王"], "sms")]
    tick(db, local(2027, 3, 13, 10, 0))  # 20 days after the rice
    assert messaged(db, journey) == sorted([(people["小王"], "sms"), (people["小李"], "sms")])
    assert {e.customer_id: e.outcomes for e in entries(db, journey)}[people["小李"]] == {
        "s1": "sent:sms"
    }


def test_abandoned_cart_reminds_after_two_hours_unless_bought(db: Database) -> None:
    people = shop(db, 小王="1990-05-01", 小李="1991-06-01")
    journey = switch_on(db, "abandoned_cart")["abandoned_cart"]
    at = local(2027, 3, 15, 20, 0)
    _feed(db, [_event("cart_add", people["小王"], at), _event("cart_add", people["小李"], at)], at)
    tick(db, at)
    post_order(db, "C1", customer={"id": people["小李"]}, at=at + timedelta(minutes=30))
    tick(db, at + timedelta(minutes=31))
    tick(db, at + timedelta(hours=2, minutes=1))
    assert messaged(db, journey) == [(people["小王"], "sms")]
    by_customer = {e.customer_id: e for e in entries(db, journey)}
    assert by_customer[people["小李"]].status == "converted"
    assert by_customer[people["小王"]].outcomes["s1"] == "timed_out"


def test_churn_risk_high_sets_a_call_task_in_the_home_store_and_sends_an_offer(
    db: Database,
) -> None:
    people = shop(db, 小王="1990-05-01")
    journey = switch_on(db, "churn_risk")["churn_risk"]
    at = local(2027, 3, 15, 3, 0)
    _feed(db, [_event("customer.churn_risk_high", people["小王"], at)], at)
    tick(db, at)
    tasks = db.read(lambda s: list_tasks(session=s, store_ids=None))
    assert [(t.customer_id, t.title) for t in tasks] == [
        (people["小王"], "流失预警：请致电回访该会员")
    ]
    assert tasks[0].store_id is not None
    (entry,) = entries(db, journey)
    assert entry.outcomes["s2"].startswith("coupon:")
    assert messaged(db, journey) == [(people["小王"], "sms")]


def test_points_expiring_and_tier_journeys_act_on_their_events(db: Database) -> None:
    people = shop(db, 小王="1990-05-01", 小李="1991-06-01")
    ids = switch_on(db, "points_expiring", "tier_upgrade", "tier_at_risk")
    at = local(2027, 3, 15, 11, 0)
    _feed(
        db,
        [
            _event("points.expiring", people["小王"], at, days=30),
            _event("tier.changed", people["小王"], at, direction="up"),
            _event("tier.changed", people["小李"], at, direction="down"),
            _event("tier.at_risk", people["小李"], at),
        ],
        at,
    )
    tick(db, at)
    assert messaged(db, ids["points_expiring"]) == [(people["小王"], "sms")]
    assert messaged(db, ids["tier_upgrade"]) == [(people["小王"], "sms")]
    assert messaged(db, ids["tier_at_risk"]) == [(people["小李"], "sms")]


def test_an_event_fed_twice_enters_once(db: Database) -> None:
    people = shop(db, 小王="1990-05-01")
    journey = switch_on(db, "points_expiring")["points_expiring"]
    at = datetime(2027, 3, 15, 3, tzinfo=UTC)
    event = _event("points.expiring", people["小王"], at)
    _feed(db, [event, event], at)
    _feed(db, [event], at + timedelta(minutes=5))
    tick(db, at + timedelta(minutes=5))
    assert len(entries(db, journey)) == 1
    assert messaged(db, journey) == [(people["小王"], "sms")]


def test_a_cart_event_posted_to_the_stream_reaches_the_abandoned_cart_journey(
    db: Database,
) -> None:
    """The scheduler reads behaviour events from the event stream (patron.events), not only
    what tests feed it: a cart left at 20:00 is reminded of after two hours, once."""
    from patron import events

    people = shop(db, 小王="1990-05-01")
    journey = switch_on(db, "abandoned_cart")["abandoned_cart"]
    at = local(2027, 3, 15, 20, 0)
    db.write(lambda s: events.publish(
        s, "cart_add", customer_id=people["小王"], properties={"sku": "MILK-1L"},
        event_id="web-cart-1", occurred_at=at))  # fmt: skip
    assert tick(db, at).events >= 1
    tick(db, at + timedelta(hours=2, minutes=1))
    tick(db, at + timedelta(hours=2, minutes=2))  # read twice: nothing twice
    assert messaged(db, journey) == [(people["小王"], "sms")]
    assert [e.customer_id for e in entries(db, journey)] == [people["小王"]]


def test_the_demo_switches_on_the_journeys_init_installed_off(db: Database) -> None:
    from patron.journeys.service import list_journeys
    from patron.journeys.shipped import (
        SHIPPED,
        install_shipped_journeys,
        switch_on_shipped_journeys,
    )
    from tests.helpers import ACTOR

    db.write(lambda s: install_shipped_journeys(session=s, actor=ACTOR))  # as `patron init`
    # installing again "switched on" adds nothing and switches nothing: they exist already
    assert db.write(lambda s: install_shipped_journeys(session=s, actor=ACTOR, enabled=True)) == []
    switched = db.write(lambda s: switch_on_shipped_journeys(session=s, actor=ACTOR))
    assert sorted(switched) == sorted(j.code for j in SHIPPED)
    assert all(j.enabled for j in db.read(lambda s: list_journeys(session=s)))
    assert db.write(lambda s: switch_on_shipped_journeys(session=s, actor=ACTOR)) == []
