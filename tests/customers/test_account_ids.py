"""A customer is found by the id a shop system or an import gave them, without naming the
system (the API's external_account, the console's search box)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from patron.core.db import Database
from patron.customers import service as customers
from patron.customers.schemas import CustomerCreate
from tests.imports.helpers import UCI_HEADER, import_file, write_csv
from tests.web.helpers.api import api_client
from tests.web.helpers.console import console, text_of


def _imported(db: Database, tmp_path: Path) -> None:
    rows = [["536365", "A", "a", "1", "12/1/2010 8:26", "2.55", "17850", "UK"]]
    import_file(db, "orders", write_csv(tmp_path / "s.csv", UCI_HEADER, rows))


def test_the_api_finds_a_customer_by_the_id_an_import_gave_them(
    db: Database, tmp_path: Path
) -> None:
    _imported(db, tmp_path)
    with api_client(db) as client:
        found = client.get("/api/v1/customers/lookup", params={"external_account": "17850"})
        missing = client.get("/api/v1/customers/lookup", params={"external_account": "99999"})
        in_system = client.get(
            "/api/v1/customers/lookup",
            params={"external_account": "17850", "namespace": "import"},
        )
    assert found.status_code == 200, found.text
    assert in_system.json()["id"] == found.json()["id"]
    assert missing.status_code == 404


def test_an_id_two_systems_gave_to_two_people_must_name_its_system(
    db: Database, tmp_path: Path
) -> None:
    _imported(db, tmp_path)
    other = CustomerCreate.model_validate(
        {"identities": {"external_account": "17850", "external_system": "webshop"}}
    )
    db.write(lambda s: customers.register_customer(session=s, customer_in=other, source="web"))

    with api_client(db) as client:
        answer = client.get("/api/v1/customers/lookup", params={"external_account": "17850"})

    assert answer.status_code == 409 and "namespace" in answer.json()["message"]


def test_the_console_search_box_finds_a_customer_by_that_id(db: Database, tmp_path: Path) -> None:
    _imported(db, tmp_path)
    client: TestClient
    with console(db) as (client, _csrf):
        page = client.get("/customers", params={"q": "17850"})
    assert page.status_code == 200
    assert "按门店系统或导入文件中的客户编号找到" in text_of(page.text)
