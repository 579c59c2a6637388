"""The background thread a server process repeats a task in: it keeps going after a failure,
logs it, and stops when told."""

from __future__ import annotations

import logging
import threading

import pytest

from patron.core.periodic import PeriodicThread


def test_a_failing_pass_is_logged_and_the_next_one_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []
    third = threading.Event()

    def work() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("database away")
        if len(calls) >= 3:
            third.set()

    runner = PeriodicThread("patron-test", "the test's pass", work, lambda: 0.001)
    with caplog.at_level(logging.ERROR, logger="patron.core.periodic"):
        runner.start()
        runner.start()  # a second start adds no second thread
        assert third.wait(timeout=30)
        runner.stop()
    assert runner._thread is None
    assert len(calls) >= 3
    assert [r.getMessage() for r in caplog.records] == ["the test's pass failed (1 times running)"]
    stopped_at = len(calls)
    third.clear()
    assert not third.wait(timeout=0.05) and len(calls) == stopped_at
