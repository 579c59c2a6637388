"""The ``patron`` command. Each command parses its options, calls one service, and prints."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from patron.core.actor import cli_actor
from patron.core.db import get_database
from patron.core.settings import get_settings
from patron.staff.cli import keys_app, users_app

app = typer.Typer(help="Patron: retail customer management.", no_args_is_help=True)
stores_app = typer.Typer(help="Stores.", no_args_is_help=True)
customers_app = typer.Typer(help="Customers: merge and unmerge.", no_args_is_help=True)
app.add_typer(stores_app, name="stores")
app.add_typer(customers_app, name="customers")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
console = Console()


@app.command()
def init() -> None:
    """Create the database, or upgrade it to this version."""
    from patron.catalog import service as catalog
    from patron.core.migrate import upgrade

    settings = get_settings()
    db = get_database()
    upgrade(db)
    store = db.write(lambda s: catalog.ensure_default_store(session=s))
    where = settings.resolved_database_url if settings.database_url else settings.data_dir
    console.print(f"[green]Database ready[/green] at {where} (default store {store.code})")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Run the API and the web pages."""
    import uvicorn

    from patron.core.migrate import upgrade

    settings = get_settings()
    upgrade(get_database())
    host = host or settings.host
    port = port or settings.port
    console.print(f"Patron at [bold]http://{host}:{port}[/bold] (API reference at /docs)")
    uvicorn.run(
        "patron.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )


@stores_app.command("add")
def stores_add(
    code: str,
    name: str,
    city: Annotated[str | None, typer.Option()] = None,
    kind: Annotated[str, typer.Option(help="physical, online or mini_program")] = "physical",
) -> None:
    """Add a store."""
    from patron.catalog import service as catalog
    from patron.catalog.models import StoreKind
    from patron.catalog.schemas import StoreCreate

    store_in = StoreCreate(code=code, name=name, city=city, kind=StoreKind(kind))
    store = get_database().write(lambda s: catalog.create_store(session=s, store_in=store_in))
    console.print(f"[green]Added[/green] {store.code} {store.name}")


@stores_app.command("list")
def stores_list() -> None:
    """List stores."""
    from patron.catalog import service as catalog

    table = Table("code", "name", "city", "kind", "time zone")
    for s in get_database().read(lambda s: catalog.list_stores(session=s)):
        table.add_row(s.code, s.name, s.city or "", s.kind, s.timezone)
    console.print(table)


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


_mount_optional()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
