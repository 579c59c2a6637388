"""Every route × every role, judged against the one permission table."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator

import pytest

from patron.catalog import service as catalog
from patron.catalog.schemas import StoreCreate
from patron.core.db import Database
from patron.staff.roles import ROLE_PERMISSIONS, Role
from patron.web.app import create_app, route_table
from patron.web.permissions import PUBLIC, ROUTE_PERMISSIONS, SIGNED_IN, rule_for
from tests.web.helpers.api import api_client

ROUTES = route_table(create_app(Database(f"sqlite:///{tempfile.mkdtemp()}/routes.db")))


def test_every_route_has_a_rule() -> None:
    assert len(ROUTES) > 50
    missing = [f"{m} {p}" for m, p in ROUTES if rule_for(m, p) is None]
    assert not missing, f"routes without a permission rule: {missing}"


def test_the_table_names_no_route_that_does_not_exist() -> None:
    assert set(ROUTE_PERMISSIONS) <= set(ROUTES)


@pytest.fixture
def shop(sqlite_db: Database) -> Iterator[Database]:
    sqlite_db.write(
        lambda s: catalog.create_store(session=s, store_in=StoreCreate(code="S1", name="一店"))
    )
    yield sqlite_db


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "999999", path)  # nothing there: no side effects


@pytest.mark.parametrize("role", list(Role))
def test_each_role_is_let_through_exactly_where_the_table_says(shop: Database, role: Role) -> None:
    allowed = ROLE_PERMISSIONS[role]
    stores = ["S1"] if role in (Role.CASHIER, Role.STORE_MANAGER) else None
    wrong: list[str] = []
    with api_client(shop, role=role, stores=stores) as client:
        for method, path in ROUTES:
            rule = rule_for(method, path)
            kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            response = client.request(method, _concrete(path), **kwargs)
            status = response.status_code
            if rule in (PUBLIC, SIGNED_IN) or rule in allowed:
                if status in (401, 403) and response.json().get("error") in (
                    "forbidden",
                    "unauthenticated",
                ):
                    wrong.append(f"{method} {path}: refused ({status}) but the table allows it")
            elif status != 403:
                wrong.append(f"{method} {path}: {status} but the table refuses it")
    assert not wrong, "\n".join(wrong)


def test_without_a_key_or_session_only_public_routes_answer(shop: Database) -> None:
    with api_client(shop, role=None) as client:
        for method, path in ROUTES:
            rule = rule_for(method, path)
            kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            response = client.request(method, _concrete(path), **kwargs)
            if rule == PUBLIC:
                assert response.status_code not in (401, 403), f"{method} {path}"
            else:
                assert response.status_code == 401, f"{method} {path}: {response.status_code}"


def test_a_revoked_or_made_up_key_is_401(shop: Database) -> None:
    with api_client(shop) as client:
        assert client.get("/api/v1/me").status_code == 200
        me = client.get("/api/v1/api-keys").json()
        assert client.post(f"/api/v1/api-keys/{me[0]['id']}/revoke").status_code == 200
        assert client.get("/api/v1/me").status_code == 401
        client.headers["Authorization"] = "Bearer pk_made-up"
        assert client.get("/api/v1/customers").status_code == 401
