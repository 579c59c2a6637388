"""Consent follows a merge: the survivor holds the most restrictive of the two profiles'
latest choices per channel and purpose, each change an event of its ledger; undoing the
merge gives it back what it had chosen."""

from __future__ import annotations

from patron.consent import get_consent
from patron.core.db import Database
from patron.customers import service as customers
from tests.consent.helpers import record
from tests.helpers import ACTOR, reachable_customer


def _states(db: Database, customer_id: int) -> dict[tuple[str, str], bool]:
    read = db.read(lambda s: get_consent(session=s, customer_id=customer_id))
    return {(s.channel, s.purpose): s.granted for s in read.states if s.granted is not None}


def _merge(db: Database, survivor: int, merged: int) -> int:
    return db.write(
        lambda s: customers.merge_customers(
            session=s, survivor_id=survivor, merged_id=merged, reason="同一人", actor=ACTOR
        )
    ).id


def test_the_survivor_takes_the_most_restrictive_choice_and_the_ledger_says_so(
    db: Database,
) -> None:
    survivor, merged = reachable_customer(db), reachable_customer(db)
    record(db, [survivor], "sms")  # granted here …
    record(db, [merged], "sms", granted=False)  # … withdrawn on the other profile
    record(db, [survivor], "email", granted=False)
    record(db, [merged], "email")  # a grant never undoes a withdrawal
    record(db, [merged], "wechat")  # no choice on the survivor: the grant comes along
    record(db, [survivor], "phone")
    record(db, [merged], "phone")  # the same choice: nothing to record

    merge_id = _merge(db, survivor, merged)

    assert _states(db, survivor) == {
        ("sms", "marketing"): False,
        ("email", "marketing"): False,
        ("wechat", "marketing"): True,
        ("phone", "marketing"): True,
    }
    history = db.read(lambda s: get_consent(session=s, customer_id=survivor)).history
    by_merge = [e for e in history if e.source == "merge"]
    assert sorted((e.channel, e.granted) for e in by_merge) == [("sms", False), ("wechat", True)]

    db.write(lambda s: customers.unmerge_customers(session=s, merge_id=merge_id, actor=ACTOR))
    assert _states(db, survivor) == {
        ("sms", "marketing"): True,
        ("email", "marketing"): False,
        ("phone", "marketing"): True,
    }
    assert _states(db, merged)[("sms", "marketing")] is False  # its own ledger untouched


def test_a_choice_made_after_the_merge_stands_when_it_is_undone(db: Database) -> None:
    survivor, merged = reachable_customer(db), reachable_customer(db)
    record(db, [survivor], "sms")
    record(db, [merged], "sms", granted=False)
    merge_id = _merge(db, survivor, merged)
    record(db, [survivor], "sms", granted=False, purpose="service")
    record(db, [survivor], "sms")  # granted again, after the merge
    db.write(lambda s: customers.unmerge_customers(session=s, merge_id=merge_id, actor=ACTOR))
    states = _states(db, survivor)
    assert states[("sms", "marketing")] is True and states[("sms", "service")] is False
