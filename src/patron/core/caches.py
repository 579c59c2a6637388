"""The registry of what this process keeps in memory between requests (stores, the till's
categories and promotions, the programme's terms, the dashboard, API keys): each cache
registers the function that empties it, and :func:`clear_all` empties every one.

A cache still empties itself when this process writes what it holds; ``clear_all`` is for
whoever replaces the data beneath every cache at once: tests between two cases, a restore.
Compiled statements (``functools.cache`` on a builder) hold no data and are not registered.

Across server processes (``patron serve --workers N``, several machines) a cache is kept
correct by a **staleness bound**, not by messages between processes: each cache declares
``max_age_s``, the longest it serves what it read before reading again, so a change saved by
one process reaches every other within that time. Writes that must not use stale data check
the version first (the programme's terms for commits and refunds; a store missing from the
cache is read at once). A bound is simple and correct on SQLite and PostgreSQL alike, needs
no listener connection per process, and a till's 10 s is shorter than a change takes to
reach the shop floor. docs/operations.md lists the bounds; tests/core/test_caches.py checks
every cache declares one and a second real process sees a change within it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

Clear = Callable[[], None]

_registry: dict[str, Clear] = {}
_bounds: dict[str, float | None] = {}
_lock = threading.Lock()


def register(name: str, clear: Clear, *, max_age_s: float | None = None) -> Clear:
    """Register ``clear`` as the way to empty the cache ``name`` (e.g. ``"catalog.stores"``)
    and ``max_age_s``, the longest it keeps what it read (its staleness bound across
    processes); registering a name again replaces both. Returns ``clear``."""
    with _lock:
        _registry[name] = clear
        _bounds[name] = max_age_s
    return clear


def staleness_bounds() -> dict[str, float | None]:
    """Each registered cache's declared staleness bound in seconds (None: none declared)."""
    with _lock:
        return dict(sorted(_bounds.items()))


def registered() -> list[str]:
    """The names of the registered caches, sorted."""
    with _lock:
        return sorted(_registry)


def clear_all() -> None:
    """Empty every registered cache."""
    with _lock:
        clears = list(_registry.values())
    for clear in clears:
        clear()
