"""Staff users and API keys in and out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, SecretStr

from patron.core.schemas import Schema
from patron.staff.roles import Role

Username = Annotated[str, Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.@\-]+$")]
StoreCodes = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=32)]], Field(max_length=500)
]


class StaffCreate(Schema):
    username: Username
    display_name: Annotated[str, Field(min_length=1, max_length=120)]
    password: SecretStr
    role: Role
    store_codes: StoreCodes = Field(
        default_factory=list, description="Stores a store manager or cashier works in"
    )


class StaffUpdate(Schema):
    display_name: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    role: Role | None = None
    store_codes: StoreCodes | None = None
    is_active: bool | None = None


class StaffRead(Schema):
    id: int
    username: str
    display_name: str
    role: Role
    store_codes: list[str]
    is_active: bool
    locked_until: datetime | None
    last_sign_in_at: datetime | None
    created_at: datetime


class PasswordChange(Schema):
    current_password: SecretStr
    new_password: SecretStr


class ApiKeyCreate(Schema):
    name: Annotated[str, Field(min_length=1, max_length=120)]
    role: Role = Field(description="What the key may do, as the role of that name")
    store_codes: StoreCodes = Field(default_factory=list)


class ApiKeyRead(Schema):
    id: int
    name: str
    prefix: str
    role: Role
    store_codes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(Schema):
    """The key itself is shown once, here, and never again."""

    key: str
    api_key: ApiKeyRead


class MeRead(Schema):
    """Who a session or key is, and what it may do."""

    kind: str
    id: int | None
    name: str
    role: Role | None
    permissions: list[str]
    store_ids: list[int] | None
