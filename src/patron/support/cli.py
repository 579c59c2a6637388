"""``patron support sla-sweep``: warnings, breaches and escalations of open tickets' SLA
clocks, for a periodic runner (cron) between the nightly runs; safe to run as often as
wanted (docs/support.md)."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(help="After-sales service: tickets and their service levels.")
console = Console()


@app.command("sla-sweep")
def sla_sweep() -> None:
    """Record SLA warnings, breaches and escalations due now (each once)."""
    from patron.core.db import get_database
    from patron.core.leader import leader_lock
    from patron.support import sla

    db = get_database()
    # Two runners (cron on two machines) do not sweep at once; see docs/operations.md.
    with leader_lock(db, "job-sla-sweep") as leader:
        if not leader:
            console.print("Another process is sweeping now. (另一个进程正在执行。)")
            return
        result = db.write(lambda s: sla.sweep(session=s))
    console.print(
        f"warnings {result.warnings} · breaches {result.breaches} · "
        f"to store managers {result.escalated_store} · to the chain {result.escalated_chain}"
    )
