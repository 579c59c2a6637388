"""Property-based tests of the whole /api/v1 surface, generated from its OpenAPI document.

Schemathesis sends requests that fit (and some that nearly fit) the schema; whatever it
sends, the API must answer with a documented response, never a 500.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from patron.core import crypto
from patron.core.db import Database
from patron.staff import service as staff
from patron.staff.roles import STORE_BOUND_ROLES, Role
from patron.web.app import create_app
from patron.web.security import limiter
from tests.web.helpers.api import make_api_key, order_body

# The schema is read when the module is collected (schemathesis.pytest.from_fixture does not
# work with this pytest), so the app starts without a database; the fixture below gives it a
# freshly migrated SQLite file before any request is made.
APP = create_app(cast(Database, "no database yet"))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).include(path_regex="^/api/v1/")


@pytest.fixture(scope="module", autouse=True)
def _fresh_database(
    tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path
) -> Iterator[None]:
    path = tmp_path_factory.mktemp("schemathesis") / "patron.db"
    shutil.copy(_sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    APP.state.db = db
    # One keyring for the module: the data seeded here is read by every test after it.
    with crypto.using_keyring(crypto.Keyring.generate()):
        _seed(db)
        yield
    db.dispose()


def _seed(db: Database) -> None:
    """Two stores, customers of each, a sale and a merge suggestion: ids 1 and 2 lead to
    something, so generated requests reach past "not found"."""
    from patron.catalog import service as catalog
    from patron.catalog.schemas import StoreCreate
    from tests.helpers import post_order, sign_up

    for code in ("S1", "S2"):
        db.write(
            lambda s, c=code: catalog.create_store(session=s, store_in=StoreCreate(code=c, name=c))
        )
    one = sign_up(db, phone="13800138000", name="王芳", home_store_code="S1")
    sign_up(db, member_card="CARD-2", home_store_code="S2")
    post_order(db, "O-1", store_code="S1", customer={"id": one})
    cashier = _actor_key(db, Role.CASHIER)
    with TestClient(APP, headers={"Authorization": f"Bearer {cashier}"}) as till:
        till.post(
            "/api/v1/orders",
            json=order_body("O-2", store_code="S1",
                            customer={"phone": "13800138000", "member_card": "CARD-2"}),
        )  # fmt: skip


_KEYS: dict[Role, str] = {}


def _actor_key(db: Database, role: Role) -> str:
    stores = ["S1"] if role in STORE_BOUND_ROLES else None
    _KEYS[role] = make_api_key(db, role, stores)
    return _KEYS[role]


def _headers(role: Role | None) -> dict[str, str]:
    """A key of ``role`` that still works (a generated call may have revoked the last one)."""
    if role is None:
        return {}
    db = APP.state.db
    key = _KEYS.get(role)
    if key is None or db.read(lambda s: staff.actor_for_api_key(session=s, key=key)) is None:
        key = _actor_key(db, role)
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("role", [None, Role.ADMIN, Role.CASHIER], ids=str)
@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_operation_answers_with_a_server_error(
    case: schemathesis.Case, role: Role | None
) -> None:
    """Without credentials, as an administrator and as a store's till."""
    if role == Role.ADMIN and (case.method, case.path) == ("POST", "/api/v1/analytics/runs"):
        # A run is a job of seconds to minutes (Spark starts a JVM), not a request to fuzz
        # 25 times: tests/analytics/pipeline runs it, through this route too.
        pytest.skip("an analytics run is covered by tests/analytics/pipeline")
    limiter.reset()
    case.call_and_validate(
        headers=_headers(role), checks=[not_a_server_error, response_schema_conformance]
    )
