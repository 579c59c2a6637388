"""Pure pieces of the steps: the next local time of day (a wait "until 10:00" in Shanghai)
and the outbox key of a step's messages, which fits its column however long the event id."""

from __future__ import annotations

from datetime import time

import pytest
from pydantic import ValidationError

from patron.journeys.schemas import JourneyIn
from patron.journeys.steps import next_local, source_id
from tests.journeys.helpers import SHANGHAI, local


def test_a_wait_until_ten_is_today_before_ten_and_tomorrow_after() -> None:
    assert next_local(local(2027, 3, 15, 9, 30), time(10), SHANGHAI) == local(2027, 3, 15, 10)
    assert next_local(local(2027, 3, 15, 10, 0), time(10), SHANGHAI) == local(2027, 3, 15, 10)
    assert next_local(local(2027, 3, 15, 22, 0), time(10), SHANGHAI) == local(2027, 3, 16, 10)


def test_a_steps_outbox_key_fits_its_column_and_stays_distinct() -> None:
    short = source_id(7, "s2", "2027-03-15")
    assert short == "7.s2.2027-03-15"
    long_a = source_id(7, "s2", "e:" + "a" * 70)
    long_b = source_id(7, "s2", "e:" + "a" * 69 + "b")
    assert len(long_a) <= 64 and len(long_b) <= 64 and long_a != long_b


def test_a_branch_may_only_go_forward_and_steps_get_keys() -> None:
    steps = [{"kind": "branch", "audience_id": 1, "else_goto": "s1"}, {"kind": "exit"}]
    with pytest.raises(ValidationError) as raised:
        JourneyIn.model_validate(
            {"name": "x", "trigger": {"kind": "event", "event": "cart_add"}, "steps": steps}
        )
    assert raised.value.errors()[0]["type"] == "journey_goto_unknown"
    ok = JourneyIn.model_validate(
        {
            "name": "x",
            "trigger": {"kind": "event", "event": "cart_add"},
            "steps": [{"kind": "branch", "audience_id": 1, "else_goto": "end"},
                      {"kind": "tag", "add": "t"}, {"kind": "exit", "key": "end"}],
        }
    )  # fmt: skip
    assert [s.key for s in ok.steps] == ["s1", "s2", "end"]
