"""``patron worker``: message dispatch on a job queue, for chains on PostgreSQL.

The queue is Procrastinate: its jobs are rows in PostgreSQL, which a chain runs anyway, so
there is no broker to run, secure or back up, and a job can be deferred in the same
transaction as the data it is about. It lives in a schema of its own (PATRON_QUEUE_SCHEMA),
created with its tables when the first worker starts.

Two tasks:

- ``patron.relay`` runs every second (a periodic task: Procrastinate defers it once per
  second however many workers run). It takes back stalled claims (the outbox sweep), retries
  the jobs of workers that stopped sending heartbeats, and publishes due messages as
  ``patron.deliver`` jobs of ``PATRON_DISPATCH_BATCH`` messages, keeping a bounded backlog.
- ``patron.deliver`` claims its messages (those still queued and due: a job run twice, or
  two jobs naming one message, send it once) and delivers them (``dispatch.py``).

The outbox row stays the truth: a job lost with a worker only delays its messages until the
sweep gives them back and the relay publishes them again.

Webhook deliveries (docs/events.md) are sent by a thread of each worker's own
(``events/delivery.py``), never in a job slot: a slow endpoint working through a backlog
would otherwise hold the slots the relay and the deliver jobs need, and delay messages.
Their own claims keep workers apart.

Other domains add periodic jobs through ``core.queue_jobs``: journeys' scheduler tick
(``patron.journeys``) when PATRON_JOURNEYS=queue (docs/journeys.md).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from patron.core.clock import utcnow
from patron.core.db import Database, get_database
from patron.core.queue_jobs import QueueJob, cron_every, queue_jobs
from patron.core.settings import Settings, get_settings
from patron.engagement import service as outbox
from patron.engagement.dispatch import Dispatcher
from patron.events.delivery import start_sender

if TYPE_CHECKING:
    import procrastinate

log = logging.getLogger(__name__)

DELIVER = "patron.deliver"
RELAY = "patron.relay"
# Deliver jobs waiting in the queue that the relay keeps topped up.
BACKLOG_JOBS = 64
# Seconds without a heartbeat after which a worker's running jobs are given to others.
HEARTBEAT_S = 5.0
STALLED_S = 15.0


class QueueNotConfigured(Exception):
    """The job queue needs PostgreSQL (PATRON_QUEUE_URL, or PATRON_DATABASE_URL)."""


def queue_conninfo(settings: Settings) -> str:
    """The libpq connection string of the queue's database, its schema first on the path."""
    import psycopg.conninfo

    url = make_url(settings.queue_url or settings.resolved_database_url)
    if url.get_backend_name() != "postgresql":
        raise QueueNotConfigured(
            "patron worker needs PostgreSQL: set PATRON_QUEUE_URL or PATRON_DATABASE_URL to a "
            "postgresql:// address (the embedded default dispatches inside patron serve)"
        )
    plain = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    return psycopg.conninfo.make_conninfo(
        plain, options=f"-c search_path={settings.queue_schema}", application_name="patron-worker"
    )


def ensure_queue_schema(settings: Settings) -> bool:
    """Create the queue's schema and tables if they are missing; True when it made them.
    Workers starting together take turns (an advisory lock)."""
    import psycopg
    from procrastinate.schema import SchemaManager

    schema = settings.queue_schema
    with psycopg.connect(queue_conninfo(settings), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('patron.queue_schema'))")
        try:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            exists = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}".procrastinate_jobs',)
            ).fetchone()
            if exists and exists[0]:
                return False
            with conn.transaction():
                conn.execute(SchemaManager.get_schema())
            log.info("created the job queue's tables in schema %s", schema)
            return True
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext('patron.queue_schema'))")


def build_app(settings: Settings, db: Database | None = None) -> Any:
    """The Procrastinate app with Patron's two tasks, on ``settings``' queue."""
    import procrastinate

    queue = settings.queue_name
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=queue_conninfo(settings))
    )
    state: dict[str, Any] = {}

    def dispatcher() -> Dispatcher:
        if "dispatcher" not in state:
            state["dispatcher"] = Dispatcher(db or get_database(), settings=settings)
        found: Dispatcher = state["dispatcher"]
        return found

    @app.task(name=DELIVER, queue=queue)
    def deliver(message_ids: list[int]) -> dict[str, int]:
        report = dispatcher().dispatch_messages(message_ids)
        return report.model_dump()

    def sweep_and_publish(room: int) -> list[int]:
        d = dispatcher()
        d.sweep()
        now = utcnow()
        return d.db.write(
            lambda s: outbox.publish_due(
                session=s,
                now=now,
                limit=room * settings.dispatch_batch,
                republish_after_s=settings.dispatch_lease_s * 2,
            )
        )

    @app.periodic(cron="* * * * * *", periodic_id=queue)
    @app.task(name=RELAY, queue=queue)
    async def relay(timestamp: int) -> int:
        for job in await app.job_manager.get_stalled_jobs(
            queue=queue, task_name=DELIVER, seconds_since_heartbeat=STALLED_S
        ):
            await app.job_manager.retry_job(job)
        waiting = await app.job_manager.list_jobs_async(queue=queue, task=DELIVER, status="todo")
        room = BACKLOG_JOBS - len(list(waiting))
        if room <= 0:
            return 0
        ids = await asyncio.to_thread(sweep_and_publish, room)
        size = settings.dispatch_batch
        batches: list[dict[str, Any]] = [
            {"message_ids": ids[i : i + size]} for i in range(0, len(ids), size)
        ]
        if batches:
            await deliver.batch_defer_async(*batches)
        return len(ids)

    tasks: dict[str, Any] = {"deliver": deliver, "relay": relay}
    for job in queue_jobs():
        if job.wanted(settings):
            tasks[job.name] = _periodic(app, queue, job, settings, db)
    app.patron_tasks = tasks  # type: ignore[attr-defined]
    return app


def _periodic(
    app: procrastinate.App, queue: str, job: QueueJob, settings: Settings, db: Database | None
) -> Any:
    """A job another domain registered (``core.queue_jobs``), run every so often by one of
    the workers (Procrastinate defers a periodic task once per tick however many run)."""

    def run() -> object:
        return job.run(db or get_database())

    @app.periodic(cron=cron_every(job.every_s(settings)), periodic_id=f"{queue}.{job.name}")
    @app.task(name=job.name, queue=queue)
    async def periodic(timestamp: int) -> str:
        return str(await asyncio.to_thread(run))

    return periodic


def run_worker(*, concurrency: int | None = None) -> None:
    """Run a worker until it is stopped (SIGINT or SIGTERM finish the running jobs first)."""
    from concurrent.futures import ThreadPoolExecutor

    settings = get_settings()
    ensure_queue_schema(settings)
    app = build_app(settings)
    jobs = concurrency or settings.dispatch_threads

    async def work() -> None:
        # Delivering is blocking work (sockets, the database) run in threads: as many
        # threads as jobs at once, not asyncio's default of a few per core.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=jobs + 1, thread_name_prefix="patron-deliver")
        )
        async with app.open_async():
            await app.run_worker_async(
                queues=[settings.queue_name],
                concurrency=jobs,
                delete_jobs="always",
                update_heartbeat_interval=HEARTBEAT_S,
                stalled_worker_timeout=STALLED_S,
                install_signal_handlers=True,
            )

    # webhooks beside the jobs, in a thread of their own; an attempt under way when the
    # worker is told to stop is let finish (and recorded) for up to its timeout
    stop = threading.Event()
    webhooks = start_sender(get_database(), stop, settings=settings)
    try:
        asyncio.run(work())
    finally:
        stop.set()
        webhooks.join(timeout=settings.webhook_timeout_s + 5)
