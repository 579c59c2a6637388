"""``patron privacy``: retention policies and runs, and the requests due soon."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Privacy: retention policies and runs, data-subject requests due soon.",
    no_args_is_help=True,
)
console = Console()


@app.command("retention")
def retention_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what the run would do; change nothing")
    ] = False,
) -> None:
    """Carry out the retention policies (anonymise inactive customers, delete old notes)."""
    from patron.core.actor import cli_actor
    from patron.core.db import get_database
    from patron.privacy.retention import run_retention

    outcome = run_retention(db=get_database(), actor=cli_actor(), dry_run=dry_run)
    table = Table(title="Retention (dry run)" if dry_run else "Retention")
    table.add_column("policy")
    table.add_column("before")
    table.add_column("what", justify="left")
    for kind, counts in outcome.counts.items():
        what = ", ".join(f"{k} {v:,}" for k, v in counts.items())
        table.add_row(kind, outcome.cutoffs[kind][:10], what)
    console.print(table)
    if not outcome.counts:
        console.print("No retention policy is active: set one with `patron privacy policy`.")


@app.command("policy")
def policy_command(
    kind: Annotated[str, typer.Argument(help="inactive_customers or interaction_notes")],
    keep_months: Annotated[int, typer.Argument(help="Months to keep", min=1, max=1200)],
    off: Annotated[bool, typer.Option("--off", help="Keep the policy but do not run it")] = False,
) -> None:
    """Set how long one kind of personal data is kept."""
    from pydantic import ValidationError

    from patron.core.actor import cli_actor
    from patron.core.db import get_database
    from patron.privacy.retention import set_policy
    from patron.privacy.schemas import PolicyIn

    try:
        policy_in = PolicyIn.model_validate(
            {"kind": kind, "keep_months": keep_months, "active": not off}
        )
    except ValidationError:
        raise typer.BadParameter(
            "kind must be inactive_customers or interaction_notes", param_hint="KIND"
        ) from None
    actor = cli_actor()
    found = get_database().write(lambda s: set_policy(session=s, policy_in=policy_in, actor=actor))
    state = "active" if found.active else "off"
    console.print(f"{found.kind}: kept {found.keep_months} months ({state}).")


@app.command("reminders")
def reminders_command(
    within_days: Annotated[
        int | None, typer.Option("--within", help="Days ahead (default: the setting)")
    ] = None,
) -> None:
    """List the open requests due soon (each once a day)."""
    from patron.core.db import get_database
    from patron.core.settings import get_settings
    from patron.privacy.requests import requests_due_soon

    days = get_settings().privacy_remind_days if within_days is None else within_days
    due = get_database().write(lambda s: requests_due_soon(session=s, within_days=days))
    for found in due:
        late = " (overdue)" if found.overdue else ""
        console.print(
            f"#{found.id} {found.kind} customer {found.customer_id} due {found.due_on}{late}"
        )


@app.command("erase")
def erase_command(
    request_id: Annotated[int, typer.Argument(help="The erasure request's number", min=1)],
    outcome: Annotated[str, typer.Option(help="What to record as done")] = "",
) -> None:
    """Answer an erasure request: the person's data key is destroyed (unless a hold stands)."""
    from patron.core.actor import cli_actor
    from patron.core.db import get_database
    from patron.core.errors import PatronError
    from patron.privacy.erasure import erase_and_roll
    from patron.web.messages import message_line

    try:
        done = erase_and_roll(
            db=get_database(), request_id=request_id, actor=cli_actor(), outcome=outcome
        )
    except PatronError as exc:
        console.print(f"[red]{message_line(exc)}[/red]")
        raise typer.Exit(1) from None
    console.print(
        f"Erased customer {done.customer_id}: {done.profiles} profile(s), "
        f"{done.identities} identifiers, {done.interactions} notes; "
        f"{done.keys_destroyed} data key(s) destroyed."
    )
    if done.archived_events is None:
        console.print(
            f"{done.events} behaviour event(s) deleted; [yellow]the analytics store was busy: "
            "the archived ones are deleted at the next nightly run.[/yellow]"
        )
    else:
        console.print(
            f"{done.events} behaviour event(s) deleted, {done.archived_events} from the archive."
        )
    if done.wrapping_key_rolled:
        console.print("The wrapping key was rolled: copies of the destroyed key are unreadable.")
    elif done.note:
        console.print(f"[yellow]{done.note}[/yellow]")


@app.command("customer-keys")
def customer_keys_command(
    batch_size: Annotated[int, typer.Option(min=1, help="Customers per transaction")] = 500,
) -> None:
    """Give every customer written before data keys existed a key of their own, and reseal
    their personal data under it (once, after upgrading; safe to run again)."""
    from patron.core.crypto import EncryptionError
    from patron.core.db import get_database
    from patron.customers.encryption import give_customers_keys

    try:
        done = give_customers_keys(db=get_database(), batch_size=batch_size)
    except EncryptionError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"{done:,} customers given a data key of their own.")
