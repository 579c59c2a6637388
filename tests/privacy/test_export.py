from __future__ import annotations

import io
import json
import zipfile

from openpyxl import load_workbook

from patron.audit import service as audit
from patron.core.db import Database
from patron.metadata import metadata
from patron.privacy import export
from tests.helpers import ACTOR, sign_up
from tests.loyalty.helpers import sale
from tests.privacy.helpers import file_request, merge, note


def test_every_table_holding_a_customer_id_is_exported_or_excluded_with_a_reason() -> None:
    holding = export.tables_holding_customer_ids(list(metadata.tables.values()))
    missing = [t for t in holding if t not in export.COVERAGE and t not in export.EXCLUDED]
    assert missing == [], f"the access export does not cover {missing}: add it to COVERAGE"
    assert all(len(reason) > 10 for reason in export.EXCLUDED.values())
    assert set(export.COVERAGE) <= set(metadata.tables)


def test_the_walk_finds_a_new_table_holding_a_customer_id() -> None:
    from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table

    other = MetaData()
    Table("customer", other, Column("id", Integer, primary_key=True))
    Table("wish", other, Column("id", Integer), Column("buyer", ForeignKey("customer.id")))
    Table("note", other, Column("id", Integer), Column("author_customer_id", Integer))
    Table("store", other, Column("id", Integer))
    assert export.tables_holding_customer_ids(list(other.tables.values())) == ["note", "wish"]


def _export(db: Database, customer_id: int) -> dict[str, bytes]:
    data = db.write(
        lambda s: export.export_customer(
            session=s, customer_id=customer_id, reason="查阅请求", actor=ACTOR
        )
    )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_export_holds_the_profile_decrypted_orders_points_notes_and_merges(
    db: Database,
) -> None:
    customer = sign_up(db, phone="13800138000", email="wang@example.com", name="王小明")
    other = sign_up(db, member_card="VIP0001", name="王小明")
    sale(db, customer)
    note(db, customer, "来电询问积分，电话13800138000")
    merge(db, customer, other)
    file_request(db, customer)
    stranger = sign_up(db, phone="13900139000", name="李四")
    sale(db, stranger)

    files = _export(db, customer)
    assert set(files) == {"README.md", "data.json", "data.xlsx"}
    data = json.loads(files["data.json"])
    assert {r["name"] for r in data["customer"]} == {"王小明"}
    assert {r["id"] for r in data["customer"]} == {customer, other}
    assert sorted(r["value"] for r in data["identity"]) == [
        "+8613800138000",
        "VIP0001",
        "wang@example.com",
    ]
    assert "value_index" not in data["identity"][0]
    assert len(data["orders"]) == 1 and len(data["order_line"]) == 1
    assert [e["points"] for e in data["points_entry"]] == [100]
    assert data["interaction"][0]["note"] == "来电询问积分，电话13800138000"
    assert len(data["customer_merge"]) == 1
    assert [r["kind"] for r in data["privacy_request"]] == ["access"]
    assert "customer.merge" in {e["action"] for e in data["audit_entry"]}
    assert "李四" not in files["data.json"].decode()

    readme = files["README.md"].decode()
    assert "个人信息副本" in readme and "Copy of personal information" in readme
    book = load_workbook(io.BytesIO(files["data.xlsx"]), read_only=True)
    assert "identity" in book.sheetnames
    rows = list(book["customer"].values)
    assert "王小明" in rows[1]


def test_an_export_is_audited_with_its_reason_and_counts_but_no_data(db: Database) -> None:
    customer = sign_up(db, phone="13800138000", name="王小明")
    _export(db, customer)
    entry = db.read(lambda s: audit.list_audit(session=s, action="privacy.export")).items[0]
    assert (entry.target_id, entry.reason) == (str(customer), "查阅请求")
    assert entry.details["rows"]["identity"] == 1
    assert "王小明" not in json.dumps(entry.details, ensure_ascii=False)
