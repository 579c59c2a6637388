"""The birthday journey end to end with a frozen clock: the right members on the right day
and hour in Asia/Shanghai (29 February on 28 February in other years), a coupon each and a
message naming it, consent respected, and nobody written to twice however often the
scheduler runs."""

from __future__ import annotations

from patron.core.db import Database
from patron.journeys import journey_stats
from patron.journeys.triggers import birthday_matches
from tests.consent.helpers import record
from tests.journeys.helpers import entries, local, messaged, shop, switch_on, tick


def test_29_february_is_kept_on_28_february_in_other_years() -> None:
    from datetime import date

    leap = date(1996, 2, 29)
    assert birthday_matches(leap, date(2027, 2, 28))
    assert not birthday_matches(leap, date(2028, 2, 28))
    assert birthday_matches(leap, date(2028, 2, 29))
    assert not birthday_matches(date(1990, 2, 28), date(2028, 2, 29))


def test_birthday_members_get_a_coupon_and_one_message_at_ten_in_shanghai(db: Database) -> None:
    people = shop(db, 小王="1990-03-15", 小李="1996-02-29", 小张="1988-03-16")
    ids = switch_on(db, "birthday")
    journey = ids["birthday"]

    # 09:59 on 15 March in Shanghai (01:59 UTC): not yet the hour.
    assert tick(db, local(2027, 3, 15, 9, 59)).entered == 0
    outcome = tick(db, local(2027, 3, 15, 10, 0))
    assert outcome.entered == 1
    walked = entries(db, journey)
    sent = messaged(db, journey)
    assert sent == [(people["小王"], "sms")]
    assert walked[0].outcomes["s1"].startswith("coupon:")
    assert walked[0].outcomes["s2"] == "sent:sms"
    assert walked[0].status == "done"

    # The scheduler again, the same hour and the next: nothing new.
    tick(db, local(2027, 3, 15, 10, 0))
    tick(db, local(2027, 3, 15, 11, 0))
    assert messaged(db, journey) == sent
    assert len(entries(db, journey)) == 1


def test_a_29_february_birthday_enters_on_28_february_of_a_common_year(db: Database) -> None:
    people = shop(db, 小李="1996-02-29", 小赵="1990-03-01")
    journey = switch_on(db, "birthday")["birthday"]
    tick(db, local(2027, 2, 28, 10, 30))
    assert [e.customer_id for e in entries(db, journey)] == [people["小李"]]
    tick(db, local(2027, 3, 1, 10, 30))
    assert {e.customer_id for e in entries(db, journey)} == {people["小李"], people["小赵"]}


def test_without_consent_a_birthday_member_gets_the_coupon_but_no_message(db: Database) -> None:
    people = shop(db, 小王="1990-03-15")
    record(db, [people["小王"]], "sms", granted=False)
    journey = switch_on(db, "birthday")["birthday"]
    tick(db, local(2027, 3, 15, 10, 0))
    walked = entries(db, journey)
    assert messaged(db, journey) == []
    assert walked[0].outcomes["s2"] == "unreachable"
    stats = db.read(lambda s: journey_stats(session=s, journey_id=journey))
    assert stats.steps[1].outcomes == {"unreachable": 1}


def test_a_birthday_changed_after_the_first_look_is_found_on_the_day(db: Database) -> None:
    from patron.customers import service as customers
    from patron.customers.schemas import CustomerUpdate
    from tests.helpers import ACTOR

    people = shop(db, 小王="1990-07-01")
    journey = switch_on(db, "birthday")["birthday"]
    tick(db, local(2027, 3, 15, 10, 0))  # the birthday index is read in full
    assert entries(db, journey) == []
    change = CustomerUpdate.model_validate({"birthday": "1990-03-16"})
    db.write(
        lambda s: customers.update_customer(
            session=s, customer_id=people["小王"], customer_in=change, actor=ACTOR
        )
    )
    tick(db, local(2027, 3, 16, 10, 0))  # only what changed is read again
    assert [e.customer_id for e in entries(db, journey)] == [people["小王"]]
