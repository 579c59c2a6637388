"""The registry of what this process keeps in memory between requests (stores, the till's
categories and promotions, the programme's terms, the dashboard, API keys): each cache
registers the function that empties it, and :func:`clear_all` empties every one.

A cache still empties itself when this process writes what it holds; ``clear_all`` is for
whoever replaces the data beneath every cache at once: tests between two cases, a restore.
Compiled statements (``functools.cache`` on a builder) hold no data and are not registered.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

Clear = Callable[[], None]

_registry: dict[str, Clear] = {}
_lock = threading.Lock()


def register(name: str, clear: Clear) -> Clear:
    """Register ``clear`` as the way to empty the cache ``name`` (e.g. ``"catalog.stores"``);
    registering a name again replaces its function. Returns ``clear``."""
    with _lock:
        _registry[name] = clear
    return clear


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
