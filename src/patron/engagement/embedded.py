"""The dispatcher inside ``patron serve`` (the embedded default): a few threads that claim
and deliver due messages, and take back stalled claims now and then, and one of its own that
sends due webhook deliveries (``events/delivery.py``, docs/events.md). Several server
processes may each run it: claims keep them apart."""

from __future__ import annotations

import logging
import threading
import time

from patron.core.db import Database
from patron.core.settings import Settings, get_settings
from patron.engagement.dispatch import Dispatcher
from patron.events.delivery import start_sender

log = logging.getLogger(__name__)


class EmbeddedDispatch:
    def __init__(self, db: Database, *, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.dispatcher = Dispatcher(db, settings=self.settings)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _loop(self, sweeper: bool) -> None:
        poll = self.settings.dispatch_poll_s
        sweep_every = max(poll, self.settings.dispatch_lease_s / 4)
        next_sweep = time.monotonic()  # a claim left by a killed process goes back at start
        failures = 0
        try:
            while not self._stop.is_set():
                claimed = 0
                try:
                    if sweeper and time.monotonic() >= next_sweep:
                        self.dispatcher.sweep()
                        next_sweep = time.monotonic() + sweep_every
                    claimed = self.dispatcher.dispatch_due().claimed
                    failures = 0
                except Exception:  # the database away, say: wait longer each time, up to a minute
                    failures += 1
                    if failures == 1 or failures % 10 == 0:
                        log.exception("message dispatch failed (%d times running)", failures)
                wait = min(60.0, poll * 2**failures) if failures else poll
                if (failures or not claimed) and self._stop.wait(wait):
                    break
        finally:
            self.dispatcher.close_thread()

    def start(self) -> None:
        if self._threads:
            return
        for n in range(self.settings.dispatch_threads):
            thread = threading.Thread(
                target=self._loop, args=(n == 0,), name=f"patron-dispatch-{n}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        self._threads.append(start_sender(self.dispatcher.db, self._stop, settings=self.settings))
        log.info("message dispatch running in %d threads", len(self._threads))

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []


def start_dispatch(db: Database) -> EmbeddedDispatch | None:
    """Start dispatching in this server process when PATRON_DISPATCH is "embedded" (the
    default). Under tests only when the test sets PATRON_DISPATCH itself."""
    settings = get_settings()
    if settings.dispatch != "embedded" or not isinstance(db, Database):
        # (an application built without a database, to read its API schema, sends nothing)
        return None
    if settings.env == "test" and "dispatch" not in settings.model_fields_set:
        return None
    embedded = EmbeddedDispatch(db, settings=settings)
    embedded.start()
    return embedded
