"""A task a server process repeats in a background thread (the campaign scheduler, the
journeys' tick): every ``poll_s()`` seconds until stopped; after a failure (the database
away, say) it waits twice as long each time, up to ten minutes, and logs the first failure
and every tenth."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

MAX_WAIT_S = 600.0


class PeriodicThread:
    def __init__(self, name: str, what: str, work: Callable[[], None], poll_s: Callable[[], float]):
        self.name, self.what = name, what
        self._work, self._poll_s = work, poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._work()
                failures = 0
            except Exception:
                failures += 1
                if failures == 1 or failures % 10 == 0:
                    log.exception("%s failed (%d times running)", self.what, failures)
            poll = self._poll_s()
            if self._stop.wait(min(MAX_WAIT_S, poll * 2**failures) if failures else poll):
                break

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
