"""``patron users …`` and ``patron api-keys …``: staff accounts and integration keys.

(``patron keys …`` is the encryption keyring: see patron.cli.)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from patron.core.actor import cli_actor
from patron.core.db import get_database
from patron.core.errors import PatronError
from patron.staff import service
from patron.staff.roles import Role
from patron.staff.schemas import ApiKeyCreate, StaffCreate
from patron.web.messages import message_line

users_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
api_keys_app = typer.Typer(
    help="API keys for integrations (tills, the web shop).", no_args_is_help=True
)
console = Console()
T = TypeVar("T")


def _write(work: Callable[[Session], T]) -> T:
    """Run ``work`` in a write transaction; a refusal is printed and ends the command."""
    try:
        return get_database().write(work)
    except PatronError as exc:
        console.print(f"[red]{message_line(exc)}[/red]")
        raise typer.Exit(1) from None


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[Role, typer.Option(help="What this person may do")],
    name: Annotated[str | None, typer.Option(help="Name shown in the console")] = None,
    store: Annotated[
        list[str] | None,
        typer.Option(help="Store code (repeat for several); cashiers and store managers"),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Create a staff account (the first administrator, for instance)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    staff_in = StaffCreate.model_validate(
        {
            "username": username,
            "display_name": name or username,
            "password": password,
            "role": role,
            "store_codes": store or [],
        }
    )
    actor = cli_actor()
    user = _write(lambda s: service.create_staff(session=s, staff_in=staff_in, actor=actor))
    stores = f" in {', '.join(user.store_codes)}" if user.store_codes else ""
    console.print(f"[green]Created[/green] {user.username} ({user.role.value}){stores}")


@users_app.command("list")
def users_list() -> None:
    """Staff accounts, their roles and stores."""
    table = Table("username", "name", "role", "stores", "active", "last sign-in")
    for u in get_database().read(lambda s: service.list_staff(session=s)):
        table.add_row(
            u.username,
            u.display_name,
            u.role.value,
            ", ".join(u.store_codes),
            "yes" if u.is_active else "no",
            u.last_sign_in_at.isoformat(timespec="minutes") if u.last_sign_in_at else "",
        )
    console.print(table)


@api_keys_app.command("create")
def api_keys_create(
    name: str,
    role: Annotated[Role, typer.Option(help="What the key may do, as this role")],
    store: Annotated[list[str] | None, typer.Option(help="Store code (repeat for several)")] = None,
) -> None:
    """Make a key; it is printed once, here."""
    key_in = ApiKeyCreate(name=name, role=role, store_codes=store or [])
    actor = cli_actor()
    created = _write(lambda s: service.create_api_key(session=s, key_in=key_in, actor=actor))
    console.print(f"Key {created.api_key.id} for [bold]{name}[/bold] ({role.value}):")
    print(created.key)
    console.print("Keep it safe: it is not shown again. Send it as 'Authorization: Bearer <key>'.")


@api_keys_app.command("list")
def api_keys_list() -> None:
    table = Table("id", "name", "prefix", "role", "stores", "last used", "revoked")
    for k in get_database().read(lambda s: service.list_api_keys(session=s)):
        table.add_row(
            str(k.id),
            k.name,
            k.prefix + "…",
            k.role.value,
            ", ".join(k.store_codes),
            k.last_used_at.isoformat(timespec="minutes") if k.last_used_at else "",
            k.revoked_at.isoformat(timespec="minutes") if k.revoked_at else "",
        )
    console.print(table)


@api_keys_app.command("revoke")
def api_keys_revoke(api_key_id: int) -> None:
    """Revoke key API_KEY_ID; integrations using it are refused from now on."""
    actor = cli_actor()
    key = _write(lambda s: service.revoke_api_key(session=s, api_key_id=api_key_id, actor=actor))
    console.print(f"[green]Revoked[/green] key {key.id} ({key.name})")
