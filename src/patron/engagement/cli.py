"""``patron worker`` (message dispatch on the job queue) and ``patron outbox`` (where the
messages stand)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Jobs run at once (default PATRON_DISPATCH_THREADS)"),
    ] = None,
) -> None:
    """Deliver customer messages from the job queue (PostgreSQL) until stopped.

    For chains: run one or more of these and set PATRON_DISPATCH=queue for the servers. The
    embedded default needs none: ``patron serve`` delivers messages itself."""
    from patron.core.logs import install_log_redaction
    from patron.engagement.worker import QueueNotConfigured, run_worker

    install_log_redaction()
    try:
        run_worker(concurrency=concurrency)
    except QueueNotConfigured as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def outbox_status(
    source_kind: Annotated[str | None, typer.Option(help="e.g. campaign")] = None,
    source_id: Annotated[str | None, typer.Option(help="e.g. the campaign run's id")] = None,
) -> None:
    """How many messages are queued, sending, sent, failed or skipped."""
    from patron.core.db import get_database
    from patron.engagement import service as outbox

    counts = get_database().read(
        lambda s: outbox.count_by_status(session=s, source_kind=source_kind, source_id=source_id)
    )
    table = Table("status", "messages")
    for status, n in sorted(counts.items()):
        table.add_row(status, f"{n:,}")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
    outbox_app = typer.Typer(help="Customer messages on their way out.", no_args_is_help=True)
    outbox_app.command("status")(outbox_status)
    app.add_typer(outbox_app, name="outbox")
