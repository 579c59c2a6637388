"""The scheduler inside ``patron serve`` (the default, as the outbox's dispatcher runs
there): a thread that runs a tick every ``PATRON_JOURNEYS_POLL_S`` seconds. Several server
processes may each run it: due entries are claimed, triggers let a customer in once."""

from __future__ import annotations

import logging
import threading

from patron.core.db import Database
from patron.core.settings import Settings, get_settings
from patron.journeys.scheduler import run_journeys

log = logging.getLogger(__name__)


class EmbeddedJourneys:
    def __init__(self, db: Database, *, settings: Settings | None = None) -> None:
        self.db = db
        self.settings = settings or get_settings()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                run_journeys(db=self.db)
                failures = 0
            except Exception:  # the database away, say: wait longer each time, up to 10 minutes
                failures += 1
                if failures == 1 or failures % 10 == 0:
                    log.exception("journeys' tick failed (%d times running)", failures)
            poll = self.settings.journeys_poll_s
            if self._stop.wait(min(600.0, poll * 2**failures) if failures else poll):
                break

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="patron-journeys", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None


def start_journeys(db: Database) -> EmbeddedJourneys | None:
    """Run journeys in this server process when PATRON_JOURNEYS is "embedded" (the
    default); under tests only when the test sets PATRON_JOURNEYS itself."""
    settings = get_settings()
    if settings.journeys != "embedded" or not isinstance(db, Database):
        return None
    if settings.env == "test" and "journeys" not in settings.model_fields_set:
        return None
    runner = EmbeddedJourneys(db, settings=settings)
    runner.start()
    return runner
