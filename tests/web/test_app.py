"""The application's start-up work."""

from __future__ import annotations

import gc
import weakref

import pytest

from patron.core import collector
from patron.web.app import settle_heap


class _Node:
    me: _Node | None = None


def test_settle_heap_sets_the_start_up_heap_aside_from_the_collector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(collector._PROCESS, "settled_for_good", False)  # given back after the test
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        settle_heap()
        assert gc.get_freeze_count() > 10_000  # the application's modules, classes and mappers
        # What requests make afterwards is still collected, cycles included.
        node = _Node()
        node.me = node
        gone = weakref.ref(node)
        del node
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()


def test_the_routes_are_served_from_one_flat_router_that_takes_no_routers() -> None:
    from fastapi import APIRouter, FastAPI

    from patron.web.app import _FlatRouter

    flat = _FlatRouter()

    @flat.get("/one")
    async def one() -> None: ...

    app = FastAPI()
    app.include_router(flat)
    before = flat._get_routes_version()

    @flat.get("/two")
    async def two() -> None: ...

    # A route added later still counts as a change, so FastAPI sees it.
    assert flat._get_routes_version() > before
    with pytest.raises(TypeError):
        flat.include_router(APIRouter())
