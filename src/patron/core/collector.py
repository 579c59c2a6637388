"""Pacing Python's garbage collector during a big batch (docs/architecture.md, "How an
import flows" and "Order intake over HTTP"): an import, a bulk order post."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_GC_LOCK = threading.Lock()
_GC_USERS = [0]
_GC_BATCH_THRESHOLD = 50_000  # container allocations between young collections (default 700)
_GC_SAVED: list[int] = []


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect cyclic garbage less often while a big batch runs.

    An import or a bulk post makes many short-lived tuples, dicts and strings, nearly none
    of them in cycles; at the default threshold the collector walks the young generation
    every 700 of them and costs about a quarter of an import's time. Reference counting still
    frees them at once; the collector still runs, only less often. The threshold is the
    process's, so it is restored when the last batch running in the process ends.
    """
    with _GC_LOCK:
        if _GC_USERS[0] == 0:
            _GC_SAVED[:] = gc.get_threshold()
            gc.set_threshold(max(_GC_SAVED[0], _GC_BATCH_THRESHOLD), *_GC_SAVED[1:])
        _GC_USERS[0] += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_USERS[0] -= 1
            if _GC_USERS[0] == 0:
                gc.set_threshold(*_GC_SAVED)
