"""Where the scheduler runs. Inside ``patron serve`` (the default, as the outbox's
dispatcher runs there): a thread that runs a tick every ``PATRON_JOURNEYS_POLL_S`` seconds.
On the job queue (PATRON_JOURNEYS=queue): ``patron worker`` runs the tick as a periodic
job (``patron.journeys``) as often. Several processes may each run it: due entries are
claimed, triggers let a customer in once."""

from __future__ import annotations

from patron.core.db import Database
from patron.core.periodic import PeriodicThread
from patron.core.queue_jobs import QueueJob, register_queue_job
from patron.core.settings import Settings, get_settings
from patron.journeys.scheduler import run_journeys


class EmbeddedJourneys(PeriodicThread):
    def __init__(self, db: Database, *, settings: Settings | None = None) -> None:
        self.db = db
        self.settings = settings or get_settings()
        super().__init__(
            "patron-journeys",
            "journeys' tick",
            self._tick,
            lambda: self.settings.journeys_poll_s,
        )

    def _tick(self) -> None:
        run_journeys(db=self.db)


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


def _tick_on_queue(db: Database) -> str:
    outcome = run_journeys(db=db)
    return outcome.model_dump_json()


register_queue_job(
    QueueJob(
        name="patron.journeys",
        wanted=lambda settings: settings.journeys == "queue",
        every_s=lambda settings: settings.journeys_poll_s,
        run=_tick_on_queue,
    )
)
