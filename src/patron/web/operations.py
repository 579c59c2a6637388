"""Operations: Prometheus metrics at /metrics (behind PATRON_METRICS_TOKEN) and readiness at
/readyz; /healthz (the process is up) stays in web/app.py, first among the routes.

Per process: request counts and latency histograms per route template. Read from the
database at each scrape: the outbox's messages by status, the last nightly run's step
times, import runs by status. Under ``patron serve --workers N`` the processes' counters
are summed through prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, which
``patron serve`` sets). See docs/operations.md.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from patron.core.db import Database
from patron.core.settings import Settings, get_settings

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "patron_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "patron_http_request_duration_seconds",
    "Time to answer a request, by method and route template",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0),
    registry=REGISTRY,
)
UNMATCHED = "<unmatched>"  # a path no route matched: one label, however many paths


class RequestMetrics:
    """Counts and times every HTTP request by its route template (``/api/v1/customers/{id}``,
    never the concrete path, so the labels stay few)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = scope["method"]
            REQUESTS.labels(method, route, str(status[0])).inc()
            LATENCY.labels(method, route).observe(time.perf_counter() - started)


# ------------------------------------------------------------------------------ /metrics


class DatabaseFigures(Collector):
    """Figures read from the database when scraped; a database that does not answer gives
    ``patron_database_up 0`` and the rest is left out."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("patron_database_up", "Whether the database answered the scrape")
        try:
            figures = list(self._figures())
        except Exception:
            log.warning("metrics: the database did not answer", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from figures

    def _figures(self) -> Iterator[Metric]:
        from patron.analytics.service import list_runs as analytics_runs
        from patron.engagement.service import count_by_status
        from patron.imports.runs import list_runs as import_runs

        outbox = GaugeMetricFamily(
            "patron_outbox_messages",
            "Customer messages in the outbox, by status",
            labels=["status"],
        )
        for status, n in sorted(self.db.read(lambda s: count_by_status(session=s)).items()):
            outbox.add_metric([status], n)
        yield outbox

        steps = GaugeMetricFamily(
            "patron_nightly_step_seconds",
            "Seconds each step of the latest nightly analytics run took",
            labels=["step"],
        )
        runs = self.db.read(lambda s: analytics_runs(session=s, limit=50))
        nightly = next((r for r in runs if r.trigger == "nightly"), None)
        if nightly is not None:
            for step in nightly.steps:
                steps.add_metric([step.step], step.seconds)
        yield steps
        finished = GaugeMetricFamily(
            "patron_nightly_last_finished_timestamp_seconds",
            "When the latest nightly analytics run finished (Unix time)",
        )
        if nightly is not None and nightly.finished_at is not None:
            finished.add_metric([], nightly.finished_at.timestamp())
        yield finished

        imports = GaugeMetricFamily(
            "patron_import_runs",
            "Import runs among the latest 1,000, by kind and status",
            labels=["kind", "status"],
        )
        counted: dict[tuple[str, str], int] = {}
        for run in self.db.read(lambda s: import_runs(session=s, limit=1000)):
            counted[(run.kind, run.status)] = counted.get((run.kind, run.status), 0) + 1
        for (kind, status), n in sorted(counted.items()):
            imports.add_metric([kind, status], n)
        yield imports


def _process_figures() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
        return generate_latest(combined)
    return generate_latest(REGISTRY)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """The figures in Prometheus's text format (the token was checked by the table)."""
    scrape = CollectorRegistry()
    scrape.register(DatabaseFigures(request.app.state.db))
    body = _process_figures() + generate_latest(scrape)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


# ------------------------------------------------------------------------------- /readyz


def readiness(db: Database, settings: Settings) -> dict[str, bool]:
    """Each check's outcome: the database answers, its migrations are at this version's
    head, the analytics store can be read, and the job queue answers (when dispatch uses
    it)."""
    from patron.core.migrate import code_head, current_revision

    checks: dict[str, bool] = {}
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = True
    except Exception:
        log.warning("readiness: the database does not answer", exc_info=True)
        checks["database"] = False
    checks["migrations"] = checks["database"] and current_revision(db) == code_head()
    checks["analytics_store"] = _store_readable(settings.resolved_analytics_store)
    if settings.dispatch == "queue":
        checks["queue"] = _queue_answers(settings)
    return checks


def _store_readable(path: Path) -> bool:
    """The DuckDB file reads (its header names it), or is not made yet (no run so far).
    Read as a file, not opened: a nightly run holding the store must not fail readiness."""
    if not path.exists():
        return True
    try:
        with path.open("rb") as f:
            header = f.read(12)
    except OSError:
        return False
    return header[8:12] == b"DUCK"


def _queue_answers(settings: Settings) -> bool:
    import psycopg

    from patron.engagement.worker import queue_conninfo

    try:
        with psycopg.connect(queue_conninfo(settings), connect_timeout=3) as conn:
            row = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL",
                (f'"{settings.queue_schema}".procrastinate_jobs',),
            ).fetchone()
    except Exception:
        log.warning("readiness: the job queue does not answer", exc_info=True)
        return False
    return bool(row and row[0])


@router.get("/readyz")
def ready(request: Request) -> JSONResponse:
    """200 when every check passes, else 503 naming the ones that failed."""
    checks = readiness(request.app.state.db, get_settings())
    ok = all(checks.values())
    body: dict[str, Any] = {"status": "ready" if ok else "not ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ok else 503)
