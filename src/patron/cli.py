"""The ``patron`` command. Each command parses its options, calls one service, and prints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from patron.analytics.cli import app as analytics_app
from patron.core.actor import cli_actor
from patron.core.db import Database, get_database
from patron.core.settings import get_settings
from patron.privacy.cli import app as privacy_app
from patron.staff.cli import api_keys_app, users_app
from patron.support.cli import app as support_app

app = typer.Typer(
    help="Patron: retail customer management.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
stores_app = typer.Typer(help="Stores.", no_args_is_help=True)
customers_app = typer.Typer(help="Customers: merge and unmerge.", no_args_is_help=True)
app.add_typer(stores_app, name="stores")
app.add_typer(customers_app, name="customers")
app.add_typer(users_app, name="users")
app.add_typer(api_keys_app, name="api-keys")
keys_app = typer.Typer(
    help="Encryption keys of customers' personal data: status and rotation.",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")
app.add_typer(analytics_app, name="analytics")
loyalty_app = typer.Typer(help="The loyalty programme's upkeep.", no_args_is_help=True)
app.add_typer(loyalty_app, name="loyalty")
app.add_typer(support_app, name="support")
app.add_typer(privacy_app, name="privacy")
console = Console()


# Batch work that may run beside the server (from cron): at PATRON_BATCH_NICE.
BATCH_COMMANDS = frozenset({"nightly", "import", "analytics"})


@app.callback()
def _settings_first(ctx: typer.Context) -> None:
    """Read the settings before any command: a wrong one is named, not a traceback."""
    from pydantic import ValidationError

    from patron.web.messages import use_system_language

    use_system_language()  # errors are said in the system's language (web/messages.py)
    try:
        settings = get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(part) for part in error.get("loc", ())) or "settings"
            console.print(
                f"[red]Setting PATRON_{field.upper()}[/red] (environment or config file): "
                f"{error.get('msg', 'invalid')}"
            )
        raise typer.Exit(2) from None
    if ctx.invoked_subcommand in BATCH_COMMANDS and settings.batch_nice:
        from patron.core.priority import lower_priority

        lower_priority(settings.batch_nice)


@app.command()
def init() -> None:
    """Create the database, or upgrade it to this version."""
    from patron.catalog import service as catalog
    from patron.core.migrate import upgrade

    settings = get_settings()
    db = get_database()
    _ensure_keys(db)  # before the schema upgrade, which encrypts what is already there
    upgrade(db)
    store = db.write(lambda s: catalog.ensure_default_store(session=s))
    _install_journeys(db, enabled=False)
    where = settings.resolved_database_url if settings.database_url else settings.data_dir
    console.print(f"[green]Database ready[/green] at {where} (default store {store.code})")


def _install_journeys(db: Database, *, enabled: bool) -> None:
    """The shipped journeys, off (on in the demo): docs/journeys.md."""
    from patron.core.actor import system_actor
    from patron.journeys.shipped import install_shipped_journeys

    actor = system_actor("patron init")
    db.write(lambda s: install_shipped_journeys(session=s, actor=actor, enabled=enabled))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Run the API and the web pages."""
    import uvicorn

    from patron.core.logs import install_log_redaction
    from patron.core.migrate import upgrade

    install_log_redaction()
    settings = get_settings()
    _ensure_keys(get_database())
    upgrade(get_database())
    host = host or settings.host
    port = port or settings.port
    if workers > 1 and settings.metrics_token is not None:
        _multiprocess_metrics(settings.data_dir / f"metrics-{port}")
    console.print(f"Patron at [bold]http://{host}:{port}[/bold] (API reference at /docs)")
    options = serve_options(host, port, workers, log_format=settings.log_format)
    uvicorn.run("patron.web.app:create_app", factory=True, **options)


def serve_options(
    host: str, port: int, workers: int = 1, *, log_format: str = "text"
) -> dict[str, Any]:
    """What ``patron serve`` tells uvicorn besides the application."""
    from patron.core.logs import uvicorn_log_config

    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "workers": workers,
        "log_level": "info",
        "access_log": False,
        # Patron reads X-Forwarded-For itself, from PATRON_TRUSTED_PROXIES only; uvicorn's
        # own handling would believe any client on this machine (127.0.0.1 by default).
        "proxy_headers": False,
        # With several workers uvicorn pings each one and replaces any that does not answer
        # in time. A worker still importing Patron on a busy machine needs more than
        # uvicorn's 5 s, and would be killed and restarted for ever (docs/operations.md).
        "timeout_worker_healthcheck": 60,
    }
    log_config = uvicorn_log_config(log_format)
    if log_config is not None:
        options["log_config"] = log_config
    return options


def _multiprocess_metrics(directory: Path) -> None:
    """Worker processes sum their request metrics through files in ``directory``, emptied
    first (prometheus-client's multiprocess mode; docs/operations.md)."""
    import os
    import shutil

    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


@app.command("backup")
def backup_command(
    directory: Annotated[Path, typer.Argument(help="A new (or empty) directory")],
) -> None:
    """Back up the database, the analytics store and the encryption keys into DIRECTORY.

    SQLite is copied with its online backup API while the server runs; PostgreSQL through
    pg_dump (docs/operations.md). The keys go to keys.json (mode 0600): keep that file
    somewhere other than the rest of the backup."""
    from patron.core.backup import backup
    from patron.core.errors import PatronError

    settings = get_settings()
    try:
        result = backup(
            get_database(), directory, analytics_store=settings.resolved_analytics_store
        )
    except PatronError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    table = Table("part", "file", "sha256")
    for role, entry in result.manifest["files"].items():
        table.add_row(role, entry["name"], entry["sha256"][:16] + "…")
    console.print(table)
    console.print(
        f"[green]Backed up[/green] to {directory} (migration {result.manifest['migration']})"
    )
    for note in result.notes:
        console.print(f"[yellow]{note}[/yellow]")


@app.command("restore")
def restore_command(
    directory: Annotated[Path, typer.Argument(help="A directory made by patron backup")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace the database, store and keys there now")
    ] = False,
) -> None:
    """Restore a backup made by ``patron backup`` (stop the server first).

    Every file is checked against the manifest's checksum and the migration against this
    version's before anything is written; nothing is overwritten without --force."""
    from patron.core.backup import Targets, restore, sqlite_target
    from patron.core.crypto import key_file_path
    from patron.core.errors import PatronError

    settings = get_settings()
    db = get_database()
    targets = Targets(
        database=sqlite_target(db),
        analytics_store=settings.resolved_analytics_store,
        key_file=None if settings.encryption_keys else key_file_path(settings),
    )
    try:
        result = restore(db, directory, targets=targets, force=force)
    except PatronError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    console.print(
        f"[green]Restored[/green] the backup of {result.manifest['created_at']} "
        f"(migration {result.manifest['migration']})"
    )
    for note in result.notes:
        console.print(f"[yellow]{note}[/yellow]")


@stores_app.command("add")
def stores_add(
    code: str,
    name: str,
    city: Annotated[str | None, typer.Option()] = None,
    kind: Annotated[str, typer.Option(help="physical, online or mini_program")] = "physical",
    lang: Annotated[str, typer.Option("--lang", help="zh or en")] = "zh",
) -> None:
    """Add a store. CODE may be in Chinese (上海一店): letters, digits, "_" and "-"."""
    from pydantic import ValidationError

    from patron.catalog import StoreKind
    from patron.catalog import service as catalog
    from patron.catalog.exceptions import StoreCodeTaken
    from patron.catalog.schemas import StoreCreate
    from patron.imports.messages import translate
    from patron.web.i18n import N_

    kinds = [k.value for k in StoreKind]
    if kind not in kinds:
        console.print(
            "[red]"
            + translate(lang, N_("--kind must be one of: %(kinds)s"), kinds=", ".join(kinds))
            + "[/red]"
        )
        raise typer.Exit(2)
    try:
        store_in = StoreCreate(code=code, name=name, city=city, kind=StoreKind(kind))
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error.get("loc") else "code"
            if field == "code":
                message = translate(
                    lang,
                    N_(
                        "store code %(code)s: use up to 32 letters (Chinese too), digits, "
                        '"_" or "-", without spaces or punctuation'
                    ),
                    code=code,
                )
            else:
                message = f"{field}: {str(error['msg']).removeprefix('Value error, ')}"
            console.print(f"[red]{message}[/red]")
        raise typer.Exit(2) from None
    try:
        store = get_database().write(lambda s: catalog.create_store(session=s, store_in=store_in))
    except StoreCodeTaken:
        console.print(
            "[red]"
            + translate(lang, N_("store code %(code)s is taken"), code=store_in.code)
            + "[/red]"
        )
        raise typer.Exit(1) from None
    console.print(
        "[green]" + translate(lang, N_("Store added: %(code)s %(name)s"), code=store.code,
                              name=store.name) + "[/green]"
    )  # fmt: skip


@stores_app.command("list")
def stores_list() -> None:
    """List stores."""
    from patron.catalog import service as catalog

    table = Table("code", "name", "city", "kind", "time zone")
    for s in get_database().read(lambda s: catalog.list_stores(session=s)):
        table.add_row(s.code, s.name, s.city or "", s.kind, s.timezone)
    console.print(table)


_BUSY = (
    "Another process is running the nightly job now; nothing done here. "
    "(另一个进程正在运行夜间任务，此处未执行。)"
)


@app.command("nightly")
def nightly_command() -> None:
    """Tonight's nightly job (analytics, loyalty upkeep, audiences, SLA sweep, privacy), for
    cron.

    Runs as the leader and is recorded like the server's run: if a server process is running
    it, or it has run since the last PATRON_ANALYTICS_NIGHTLY_AT, it is not run again."""
    from patron.jobs.nightly import run_tonight

    outcome, slot = run_tonight(get_database())
    night = slot.astimezone(get_settings().zone).isoformat(timespec="minutes")
    if outcome == "busy":
        console.print(_BUSY)
    elif outcome == "already_run":
        console.print(f"The nightly job for {night} has run already. (该夜间任务已运行。)")
    else:
        console.print(f"The nightly job for {night} is done. (夜间任务已完成。)")


@loyalty_app.command("upkeep")
def loyalty_upkeep() -> None:
    """Today's birthday gifts, writing off expired points and the tier review, now.

    The server does this every night after the analytics run; run it from cron when the
    server's nightly run is turned off (PATRON_ANALYTICS_NIGHTLY=false), or run
    ``patron nightly``. Running it twice does nothing the second time; while a nightly job
    runs in another process (which does the upkeep) it does nothing."""
    from patron.core.leader import leader_lock
    from patron.jobs.nightly import NIGHTLY
    from patron.loyalty import run_upkeep

    db = get_database()
    with leader_lock(db, f"job-{NIGHTLY}") as leader:
        if not leader:
            console.print(_BUSY)
            return
        done = run_upkeep(db=db)
    table = Table("part", "done")
    for part, count in done.items():
        table.add_row(part, "[red]failed (see the log)[/]" if count is None else f"{count:,}")
    console.print(table)
    if None in done.values():
        raise typer.Exit(1)


@customers_app.command("merge")
def customers_merge(
    survivor_id: int,
    other_id: int,
    reason: Annotated[str, typer.Option(help="Why these are one person")],
) -> None:
    """Fold customer OTHER_ID into SURVIVOR_ID."""
    from patron.customers import service as customers

    actor = cli_actor()
    merge = get_database().write(
        lambda s: customers.merge_customers(
            session=s, survivor_id=survivor_id, merged_id=other_id, reason=reason, actor=actor
        )
    )
    console.print(f"[green]Merged[/green] {other_id} into {survivor_id} (merge {merge.id})")


@customers_app.command("unmerge")
def customers_unmerge(merge_id: int) -> None:
    """Undo merge MERGE_ID: both profiles come back with their identities and orders."""
    from patron.customers import service as customers

    actor = cli_actor()
    merge = get_database().write(
        lambda s: customers.unmerge_customers(session=s, merge_id=merge_id, actor=actor)
    )
    moved = ", ".join(f"{len(v)} {k}" for k, v in merge.moved.items() if v) or "nothing"
    console.print(
        f"[green]Unmerged[/green] {merge.merged_id} from {merge.survivor_id}; gave back {moved}"
    )


def _ensure_keys(db: Database) -> None:
    """The encryption keys, created when there are none and no data needs the lost ones."""
    from patron.core.crypto import EncryptionError
    from patron.customers import service as customers

    try:
        customers.ensure_keys(db=db)
    except EncryptionError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None


@keys_app.command("status")
def keys_status() -> None:
    """The data keys, which one encrypts, and how many stored values each one encrypts."""
    from patron.core.crypto import EncryptionError, get_keyring
    from patron.customers import service as customers

    try:
        keyring = get_keyring()
    except EncryptionError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    kids = sorted(keyring.data_keys, key=_key_order)
    columns = get_database().read(
        lambda s: customers.count_encrypted_values(session=s, key_ids=kids)
    )
    console.print(f"Keys from {keyring.source}; the blind-index key is never rotated.")
    extra = ("@", "?")  # under customers' own data keys; under a key this ring lacks
    shown = [k for k in [*kids, *extra] if k not in extra or any(c.by_key.get(k) for c in columns)]
    table = Table("key", "state", "values")
    for kid in shown:
        state = (
            "active"
            if kid == keyring.active
            else "unknown key"
            if kid == "?"
            else "customers' own keys"
            if kid == "@"
            else "retired"
        )
        table.add_row(kid, state, f"{sum(c.by_key.get(kid, 0) for c in columns):,}")
    console.print(table)
    # per column, one row each: the table stays narrow however many columns are encrypted
    by_column = Table("column", *shown)
    for c in columns:
        by_column.add_row(c.column, *(f"{c.by_key.get(kid, 0):,}" for kid in shown))
    console.print(by_column)


def _key_order(kid: str) -> tuple[int, str]:
    digits = kid[1:]
    return (int(digits), kid) if kid[:1] == "k" and digits.isdigit() else (1 << 30, kid)


@keys_app.command("rotate")
def keys_rotate(
    resume: Annotated[
        bool,
        typer.Option(
            "--resume", help="Make no new key: finish an interrupted rotation with the active one"
        ),
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per transaction")] = 1000,
) -> None:
    """Make a new data key active and re-encrypt every stored value with it.

    The key file is rewritten first (keep a backup of it); rows are rewritten in batches, so
    a run that is stopped is finished with --resume. Look-ups keep working throughout.
    Restart running servers afterwards, or they pick the new key up within seconds.
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from patron.core.crypto import EncryptionError
    from patron.customers import service as customers

    actor = cli_actor()
    db = get_database()
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True
    ) as bar:
        task = bar.add_task("Re-encrypting", total=None)

        def progress(table_name: str, done: int) -> None:
            bar.update(task, description=f"Re-encrypting {table_name}: {done:,} values")

        try:
            rotation = customers.rotate_keys(
                db=db, actor=actor, resume=resume, batch_size=batch_size, progress=progress
            )
        except EncryptionError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    if resume:
        console.print(f"[green]Finished[/green] the rotation to key {rotation.active_key}")
    else:
        console.print(
            f"[green]Rotated[/green] {rotation.previous_key} → {rotation.active_key}; "
            f"key file {rotation.key_file} rewritten"
        )
    table = Table("table", "values re-encrypted")
    for name, count in rotation.rewritten.items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    left = {
        c.column: n
        for c in rotation.remaining
        if (n := sum(v for k, v in c.by_key.items() if k not in (rotation.active_key, "@")))
    }
    if left:
        console.print(
            f"[yellow]Still under older keys[/yellow] (written meanwhile by a running server): "
            f"{', '.join(f'{k} {v:,}' for k, v in left.items())}; run `patron keys rotate --resume`"
        )
    else:
        console.print(f"Every stored value is under {rotation.active_key}.")


def _mount_optional() -> None:
    """Sub-commands that live in their own domains."""
    try:
        from patron.imports.cli import app as import_app
    except ImportError:  # pragma: no cover - while the importer is being built
        pass
    else:
        app.add_typer(import_app, name="import")
    try:
        from patron.demo.cli import register as register_demo
    except ImportError:  # pragma: no cover
        pass
    else:
        register_demo(app)
    from patron.engagement.cli import register as register_engagement

    register_engagement(app)
    # The consent send check travels with the dispatcher into ``patron worker``.
    import patron.consent  # noqa: F401
    from patron.campaigns.cli import app as campaigns_app

    app.add_typer(campaigns_app, name="campaigns")
    from patron.journeys.cli import app as journeys_app

    app.add_typer(journeys_app, name="journeys")


_mount_optional()


def main() -> None:
    """The ``patron`` command: a mistake in what was asked is said plainly, never as a
    traceback (the log keeps the details of anything unexpected)."""
    from pydantic import ValidationError

    from patron.core.errors import PatronError

    try:
        app(standalone_mode=True)
    except PatronError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise SystemExit(1) from None
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()))
            console.print(f"[red]{where}: {error.get('msg', 'invalid')}[/red]")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
