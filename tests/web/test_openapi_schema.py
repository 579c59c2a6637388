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
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from patron.core.db import Database
from patron.web.app import create_app

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
    yield
    db.dispose()


@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_operation_answers_with_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])
