"""Pacing Python's garbage collector during a big batch (docs/architecture.md, "How an
import flows" and "Order intake over HTTP"): an import, a bulk order post.

Both settings are the process's: each is made when the first batch needing it starts and
undone when the last one running in the process ends."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_GC_BATCH_THRESHOLD = 50_000  # container allocations between young collections (default 700)
_GC_SAVED: list[int] = []


class _Shared:
    """A process-wide setting held while at least one batch needs it."""

    def __init__(self, on_first: Callable[[], None], on_last: Callable[[], None]) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._on_first = on_first
        self._on_last = on_last

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                self._on_first()
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._on_last()


def _raise_threshold() -> None:
    _GC_SAVED[:] = gc.get_threshold()
    gc.set_threshold(max(_GC_SAVED[0], _GC_BATCH_THRESHOLD), *_GC_SAVED[1:])


_FEWER = _Shared(_raise_threshold, lambda: gc.set_threshold(*_GC_SAVED))
# Whether the process set its start-up heap aside for good (a serving process does, see
# settle_process): then a batch ending must not give that heap back to the collector.
_PROCESS = {"settled_for_good": False}


def settle_process() -> None:
    """Set everything the process holds now aside from the collector for the rest of its
    life, after one full collection (a serving process, once it has started)."""
    gc.collect()
    gc.freeze()
    _PROCESS["settled_for_good"] = True


def _unsettle() -> None:
    gc.unfreeze()
    if _PROCESS["settled_for_good"]:
        # What the batch set aside (and what it left behind in cycles) is collected once,
        # and the process's heap is set aside again, as its start-up left it.
        settle_process()


_SETTLED = _Shared(gc.freeze, _unsettle)


def fewer_collections() -> contextlib.AbstractContextManager[None]:
    """Collect cyclic garbage less often while a big batch runs.

    An import or a bulk post makes many short-lived tuples, dicts and strings, nearly none
    of them in cycles; at the default threshold the collector walks the young generation
    every 700 of them and costs about a quarter of an import's time. Reference counting still
    frees them at once; the collector still runs, only less often.
    """
    return _FEWER.held()


def settled_heap() -> contextlib.AbstractContextManager[None]:
    """Keep the objects the process held before the batch (modules, the ORM's and pydantic's
    schemas, caches: some 300,000) out of the collector's passes while it runs: each full
    pass walked them all, for nothing. A cycle through them waits for the collector until
    the last such batch in the process ends, when they return to its care; in a serving
    process, whose start-up heap is set aside for good (settle_process), that heap stays
    aside after one full collection."""
    return _SETTLED.held()
