"""``patron campaigns send-due``: send every scheduled campaign whose time has come (from
cron, every few minutes; docs/campaigns.md)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Campaigns: send those that are due.", no_args_is_help=True)


@app.command("send-due")
def send_due() -> None:
    """Send the scheduled campaigns whose time has come, one transaction each."""
    from patron.campaigns.scheduler import send_due_as_leader
    from patron.core.actor import cli_actor
    from patron.core.db import get_database

    # Two runners (cron on two machines, or cron beside a server) do not send at once: the
    # server scheduler's lock; see docs/operations.md.
    outcomes = send_due_as_leader(get_database(), actor=cli_actor())
    if outcomes is None:
        typer.echo("Another process is sending the due campaigns now. (另一个进程正在发送。)")
        return
    for outcome in outcomes:
        messages = sum(outcome.messages.values())
        typer.echo(
            f"campaign {outcome.campaign_id}: {messages} messages, {outcome.held_out} held "
            f"out, {outcome.unreachable} unreachable"
        )
