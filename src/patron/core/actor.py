"""Who is acting: a signed-in staff user, an integration's API key, or the system itself.

Services that must know who acts (audit entries, store scoping) take an ``actor``; the web
layer builds it from the session cookie or the API key, the CLI and the jobs build a system
actor. Permissions are plain strings here: which exist, and which role holds which, is the
staff domain's table (staff/roles.py); core knows no domain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

ActorKind = Literal["staff", "api_key", "system"]


class _EveryPermission(frozenset[str]):
    """Every permission there is, including those a later domain adds: a system actor's."""

    def __contains__(self, permission: object) -> bool:
        return True

    def __repr__(self) -> str:
        return "EVERY_PERMISSION"


EVERY_PERMISSION: Final[frozenset[str]] = _EveryPermission()


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    id: int | None
    name: str
    role: str | None
    permissions: frozenset[str]
    # The stores this actor works in; None means every store.
    store_ids: frozenset[int] | None = None
    ip: str | None = None
    session_id: int | None = None
    csrf_token: str | None = field(default=None, repr=False)

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def sees_store(self, store_id: int | None) -> bool:
        return self.store_ids is None or (store_id is not None and store_id in self.store_ids)

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"


def system_actor(name: str = "system", *, permissions: frozenset[str] | None = None) -> Actor:
    """The command line and scheduled jobs: every permission, every store."""
    return Actor(
        kind="system",
        id=None,
        name=name,
        role=None,
        permissions=permissions if permissions is not None else EVERY_PERMISSION,
    )


def cli_actor() -> Actor:
    """Whoever runs the ``patron`` command, by their login name, with every permission."""
    import getpass

    return system_actor(f"cli:{getpass.getuser()}")
