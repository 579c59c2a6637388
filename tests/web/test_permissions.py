"""Every route × every role, judged against the one permission table."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator

import pytest

from patron.catalog import service as catalog
from patron.catalog.schemas import StoreCreate
from patron.core.db import Database
from patron.staff.roles import ROLE_PERMISSIONS, STORE_BOUND_ROLES, Role
from patron.staff.roles import Permission as P
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


# ------------------------------------------------------------ who may merge, through any write
#
# Writes that name customers (a sign-up, a sale, a bulk post) merge two profiles only for a
# chain-wide role with customers.merge; for every other role allowed to write they raise a
# merge suggestion, and a store-bound one changes nothing of another store's customer. Every
# role × every write, with the identities of two stores' customers, on each database.

WRITES = ("sign-up", "order", "bulk")


@pytest.fixture
def two_members(db: Database) -> tuple[Database, int, int]:
    from tests.helpers import post_order

    for code in ("S1", "S2"):
        db.write(
            lambda s, c=code: catalog.create_store(session=s, store_in=StoreCreate(code=c, name=c))
        )
    one = post_order(db, "M-1", store_code="S1", customer={"phone": "13800138000"})
    two = post_order(db, "M-2", store_code="S2", customer={"member_card": "S2-CARD"})
    assert one.order.customer_id and two.order.customer_id
    return db, one.order.customer_id, two.order.customer_id


def _write(kind: str, n: int) -> tuple[str, dict[str, object]]:
    from tests.web.helpers.api import order_body

    both = {"phone": "13800138000", "member_card": "S2-CARD"}
    if kind == "sign-up":
        return "/api/v1/customers", {"identities": both, "gender": "female", "tags": ["T"]}
    body = order_body(f"X-{n}", source="till", store_code="S1", customer=both)
    return (
        ("/api/v1/orders", body) if kind == "order" else ("/api/v1/orders/bulk", {"orders": [body]})
    )


@pytest.mark.parametrize("kind", WRITES)
@pytest.mark.parametrize("role", list(Role))
def test_only_a_chain_wide_role_that_may_merge_merges_through_a_write(
    two_members: tuple[Database, int, int], role: Role, kind: str
) -> None:
    from patron.customers import service as customers

    db, one, two = two_members
    permission = P.CUSTOMERS_WRITE if kind == "sign-up" else P.ORDERS_WRITE
    allowed = ROLE_PERMISSIONS[role]
    stores = ["S1"] if role in STORE_BOUND_ROLES else None
    path, body = _write(kind, 1)
    with api_client(db, role=role, stores=stores) as client:
        response = client.post(path, json=body)
    if permission not in allowed:
        assert response.status_code == 403
        return
    assert response.status_code in (200, 201), response.text
    second = db.read(lambda s: customers.get_customer_or_raise(session=s, customer_id=two))
    pending = db.read(lambda s: customers.list_merge_suggestions(session=s)).items
    if P.CUSTOMERS_MERGE in allowed and stores is None:
        assert second.status == "merged" and second.merged_into_id == one
        assert pending == []
    else:
        assert second.status == "active"
        assert [{p.first.id, p.second.id} for p in pending] == [{one, two}]
    if stores is not None:
        # the other store's customer is as it was: no new identifier, gender or tag
        assert [i.kind for i in second.identities] == ["member_card"]
        assert (second.gender, second.tags) == (None, [])
