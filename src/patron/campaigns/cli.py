"""``patron campaigns send-due``: send every scheduled campaign whose time has come (from
cron, every few minutes; docs/campaigns.md)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Campaigns: send those that are due.", no_args_is_help=True)


@app.command("send-due")
def send_due() -> None:
    """Send the scheduled campaigns whose time has come, one transaction each."""
    from patron.campaigns import service
    from patron.campaigns.schemas import SendOutcome
    from patron.core.actor import cli_actor
    from patron.core.clock import utcnow
    from patron.core.db import get_database
    from patron.core.leader import leader_lock

    db = get_database()
    actor = cli_actor()
    now = utcnow()

    def send(campaign_id: int) -> SendOutcome:
        return db.write(
            lambda s: service.send_campaign(
                session=s, campaign_id=campaign_id, actor=actor, now=now
            )
        )

    # Two runners (cron on two machines) do not send at once; see docs/operations.md.
    with leader_lock(db, "job-campaigns-send-due") as leader:
        if not leader:
            typer.echo("Another process is sending the due campaigns now. (另一个进程正在发送。)")
            return
        for campaign_id in db.read(lambda s: service.due_campaign_ids(session=s, now=now)):
            outcome = send(campaign_id)
            messages = sum(outcome.messages.values())
            typer.echo(
                f"campaign {campaign_id}: {messages} messages, {outcome.held_out} held out, "
                f"{outcome.unreachable} unreachable"
            )
