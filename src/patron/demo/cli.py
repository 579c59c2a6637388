"""`patron demo`: parse the options, build the demo chain, print what was made."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

if TYPE_CHECKING:
    from patron.core.db import Database
    from patron.core.settings import Settings

console = Console()


def _parse_end(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2026-10-31") from None


def demo(
    seed: Annotated[int, typer.Option(help="Same seed, same chain")] = 42,
    customers: Annotated[int, typer.Option(min=1, help="Customers to sign up")] = 20000,
    lines: Annotated[
        int, typer.Option(min=1, help="Order lines to aim at, over two years")
    ] = 300000,
    end: Annotated[
        str | None,
        typer.Option(
            help="Last day of the two years (YYYY-MM-DD); default yesterday, so the console "
            "opens on recent days. Give a day to build the same chain again later."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Build even if the database already has orders")
    ] = False,
) -> None:
    """Build a realistic synthetic retail chain: stores, products, members, two years of sales."""
    from patron.core.clock import utcnow
    from patron.core.db import get_database
    from patron.core.migrate import upgrade
    from patron.core.settings import get_settings
    from patron.demo.generator import build_demo, built_end

    settings = get_settings()
    end_on = (
        _parse_end(end)
        # --force completes the chain built before: the same days, or every order would
        # land again under another day's key.
        or (built_end(settings.data_dir) if force else None)
        or utcnow().astimezone(settings.zone).date() - timedelta(days=1)
    )
    db = get_database()
    _ensure_keys(db)  # the demo's personal data is encrypted like any other
    upgrade(db)
    with Progress(
        TextColumn("[bold]Building the demo chain"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} customers"),
        TextColumn("{task.fields[lines]:,} lines"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("demo", total=customers, lines=0)

        def progress(done: int, total: int, lines_done: int) -> None:
            bar.update(task, completed=done, total=total, lines=lines_done)

        summary = build_demo(
            db=db,
            seed=seed,
            customers=customers,
            lines=lines,
            end=end_on,
            data_dir=settings.data_dir,
            progress=progress,
            force=force,
        )
    if summary.already_present:
        console.print(
            f"The database already holds {summary.orders:,} orders, so the demo was not built "
            "again. Use --force to add what is missing (nothing is duplicated)."
        )
        _run_analytics(db, end_on, only_if_missing=True)
        _print_admin(db, settings)
        raise typer.Exit(0)
    table = Table(title=f"Demo chain (seed {seed}, up to {end_on})")
    table.add_column("")
    table.add_column("count", justify="right")
    for label, value in (
        ("stores", summary.stores),
        ("products", summary.products),
        ("customer profiles", summary.customers),
        ("orders", summary.orders),
        ("order lines", summary.lines),
        ("anonymous orders", summary.anonymous_orders),
        ("refunds", summary.refunds),
        ("profiles merged by an order", summary.merges),
    ):
        table.add_row(label, f"{value:,}")
    console.print(table)
    console.print(
        f"Built in {summary.elapsed_seconds:.1f}s. "
        f"Ground truth for model checks: {summary.truth_json} and {summary.truth_csv}"
    )
    _run_analytics(db, end_on, only_if_missing=False)
    _journeys_on(db)
    _print_admin(db, settings)


def _journeys_on(db: Database) -> None:
    """The demo runs the shipped journeys (docs/journeys.md); elsewhere they start off."""
    from patron.core.actor import system_actor
    from patron.journeys.shipped import install_shipped_journeys, switch_on_shipped_journeys

    actor = system_actor("patron demo")
    # `patron init` has installed them switched off: install any missing, then switch all on.
    db.write(lambda s: install_shipped_journeys(session=s, actor=actor, enabled=True))
    db.write(lambda s: switch_on_shipped_journeys(session=s, actor=actor))


def _run_analytics(db: Database, end: date, *, only_if_missing: bool) -> None:
    """Score the demo's customers, as of its last day, so the console has segments."""
    from patron.analytics import service as analytics
    from patron.analytics.cli import print_run
    from patron.core.clock import utcnow
    from patron.core.settings import get_settings

    if only_if_missing and db.read(lambda s: analytics.latest_run(session=s)) is not None:
        return
    as_of = min(end, utcnow().astimezone(get_settings().zone).date())
    with console.status("Running analytics on the demo chain"):
        run = analytics.run_analytics(db=db, as_of=as_of, trigger="demo")
    print_run(run)


def _ensure_keys(db: Database) -> None:
    from patron.core.crypto import EncryptionError
    from patron.customers import service as customers

    try:
        customers.ensure_keys(db=db)
    except EncryptionError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


def _print_admin(db: Database, settings: Settings) -> None:
    """The demo's administrator, with a new password each run, printed for the user."""
    from patron.core.actor import system_actor
    from patron.staff import service as staff

    password = db.write(lambda s: staff.reset_demo_admin(session=s, actor=system_actor("demo")))
    console.print(
        f"Console: http://{settings.host}:{settings.port} · sign in as "
        f"[bold]{staff.DEMO_ADMIN}[/bold] with password [bold]{password}[/bold]"
    )


def register(app: typer.Typer) -> None:
    """Mount ``patron demo`` on the main command."""
    app.command("demo")(demo)
