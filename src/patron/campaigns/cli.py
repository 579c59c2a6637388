"""``patron campaigns send-due``: send every scheduled campaign whose time has come (from
cron, every few minutes; docs/campaigns.md)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Campaigns: send those that are due.", no_args_is_help=True)


@app.command("send-due")
def send_due() -> None:
    """Send the scheduled campaigns whose time has come, one transaction each."""
    from patron.campaigns.scheduler import send_due as send
    from patron.core.actor import cli_actor
    from patron.core.db import get_database

    for outcome in send(get_database(), actor=cli_actor()):
        messages = sum(outcome.messages.values())
        typer.echo(
            f"campaign {outcome.campaign_id}: {messages} messages, {outcome.held_out} held out, "
            f"{outcome.unreachable} unreachable"
        )
