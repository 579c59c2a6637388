"""The application's start-up work."""

from __future__ import annotations

import gc

from patron.web.app import settle_heap


def test_settle_heap_sets_the_start_up_heap_aside_from_the_collector() -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        settle_heap()
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # the application's modules, classes and mappers
        made_after = [[] for _ in range(100)]
        assert gc.get_freeze_count() == frozen  # later objects stay collectable
        del made_after
    finally:
        gc.unfreeze()
