"""``patron journeys run``: one tick of the journeys' scheduler (from cron every minute, or
the job queue, when PATRON_JOURNEYS is "queue"); ``patron journeys install``: add the
shipped journeys, off unless ``--on`` (docs/journeys.md)."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(
    help="Journeys: run the scheduler, install the shipped ones.", no_args_is_help=True
)


@app.command("run")
def run() -> None:
    """Let due customers in and run the due steps, a batch per transaction."""
    from patron.core.db import get_database
    from patron.journeys.scheduler import run_journeys

    outcome = run_journeys(db=get_database())
    typer.echo(
        f"{outcome.entered} entered ({outcome.held_out} held out), "
        f"{outcome.steps_run} steps run, {outcome.events} events read"
    )


@app.command("install")
def install(
    on: Annotated[bool, typer.Option("--on", help="Switch the added journeys on")] = False,
) -> None:
    """Add the shipped journeys that are missing (their templates and coupons too)."""
    from patron.core.actor import cli_actor
    from patron.core.db import get_database
    from patron.journeys.shipped import install_shipped_journeys

    actor = cli_actor()
    added = get_database().write(
        lambda s: install_shipped_journeys(session=s, actor=actor, enabled=on)
    )
    typer.echo(f"{len(added)} journeys added: {', '.join(added) or 'none'}")
