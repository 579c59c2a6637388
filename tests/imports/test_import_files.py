"""Files as they arrive: encodings, delimiters, workbooks, empty files, odd headers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from patron.core.db import Database
from patron.customers import service as customers
from patron.customers.schemas import CustomerRead
from patron.imports.columns import BadMapping, MissingColumns, resolve_columns
from patron.imports.models import ImportRun
from patron.imports.reader import EmptyFile, UnreadableFile, inspect_file, sniff_delimiter
from patron.orders import service as orders
from tests.imports.helpers import UCI_HEADER, import_file, write_csv, write_xlsx

CUSTOMER_HEADER = ["手机号", "姓名", "性别", "城市"]
CUSTOMER_ROWS = [
    ["13800138000", "张伟", "男", "上海"],
    ["13900139000", "王芳", "女", "杭州"],
    ["13700137000", "李娜", "女", "北京"],
]


def _by_phone(db: Database, phone: str) -> CustomerRead | None:
    return db.read(lambda s: customers.lookup_customer(session=s, kind="phone", value=phone))


def _runs(db: Database) -> int:
    return db.read(lambda s: s.scalar(select(func.count()).select_from(ImportRun)) or 0)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_chinese_names_survive_every_encoding_excel_writes(
    db: Database, tmp_path: Path, encoding: str
) -> None:
    delimiter = "\t" if encoding == "utf-16" else ","
    path = write_csv(
        tmp_path / "members.csv",
        CUSTOMER_HEADER,
        CUSTOMER_ROWS,
        encoding=encoding,
        delimiter=delimiter,
    )

    summary = import_file(db, "customers", path)

    assert summary.rows_accepted == 3
    customer = _by_phone(db, "13800138000")
    assert customer is not None
    assert (customer.name, customer.city, customer.gender) == ("张伟", "上海", "male")


def test_gbk_file_imports_chinese_names(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "会员.csv", CUSTOMER_HEADER, CUSTOMER_ROWS, encoding="gbk")

    summary = import_file(db, "customers", path)

    assert summary.encoding == "gb18030"
    assert summary.columns == {"phone": "手机号", "name": "姓名", "gender": "性别", "city": "城市"}
    customer = _by_phone(db, "13900139000")
    assert customer is not None and customer.name == "王芳"


def test_a_late_non_utf8_byte_still_makes_the_file_gb18030(tmp_path: Path) -> None:
    rows = [["13800138000", "Zhang", "M", "Shanghai"]] * 50_000 + [
        ["13900139000", "王芳", "女", ""]
    ]
    path = write_csv(tmp_path / "m.csv", CUSTOMER_HEADER, rows, encoding="gbk")

    facts = inspect_file(path)

    assert facts.encoding == "gb18030"
    assert facts.size > 1_000_000


def test_bom_is_not_part_of_the_first_header(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bom.csv", UCI_HEADER, [], encoding="utf-8-sig")
    path.write_bytes(path.read_bytes() + b"1,A,a,1,2024-01-01,1.00,,UK\r\n")

    summary = import_file(db, "orders", path)

    assert summary.encoding == "utf-8-sig"
    assert summary.columns["order_id"] == "InvoiceNo"


def test_encoding_option_overrides_detection(db: Database, tmp_path: Path) -> None:
    # A Taiwanese till writes Big5, which the GB18030 fallback would read as other characters.
    header, rows = ["phone", "name", "city"], [["13800138000", "張偉", "臺北"]]
    path = write_csv(tmp_path / "big5.csv", header, rows, encoding="big5")

    import_file(db, "customers", path, encoding="big5")

    customer = _by_phone(db, "13800138000")
    assert customer is not None and (customer.name, customer.city) == ("張偉", "臺北")


def test_undecodable_file_is_refused_before_anything_is_written(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes("订单号,商品编码\n".encode() + b"\xff\xff\xff\n")

    with pytest.raises(UnreadableFile, match="--encoding"):
        import_file(db, "orders", path)
    assert _runs(db) == 0


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_delimiter_is_sniffed_from_the_header(db: Database, tmp_path: Path, delimiter: str) -> None:
    rows = [["1", "A", "a", "2", "2024-01-01 10:00", "1.50", "", "CN"]]
    path = write_csv(tmp_path / "d.csv", UCI_HEADER, rows, delimiter=delimiter)

    summary = import_file(db, "orders", path)

    assert summary.delimiter == delimiter
    order = db.read(lambda s: orders.get_order_by_key(session=s, source="import", external_id="1"))
    assert order is not None and order.total_fen == 300


def test_sniff_delimiter_ignores_delimiters_inside_quotes() -> None:
    assert sniff_delimiter('"a,b";"c,d";e\n') == ";"
    assert sniff_delimiter("onlyone\n") == ","


def test_xlsx_workbook_with_real_dates_and_numbers_imports(db: Database, tmp_path: Path) -> None:
    header = ["订单号", "商品编码", "品名", "数量", "单价", "下单时间", "手机号"]
    rows = [
        [536365, "85123A", "挂灯", 6, 2.55, datetime(2024, 3, 1, 9, 30), 13800138000],
        [536365, 71053, "灯笼", 6.0, 3.39, datetime(2024, 3, 1, 9, 30), 13800138000],
        [536366, "22633", "暖手宝", 2, "1.85", "2024-03-02 10:00", None],
    ]
    path = write_xlsx(tmp_path / "sales.xlsx", header, rows)

    summary = import_file(db, "orders", path)

    assert (summary.rows_accepted, summary.rows_rejected, summary.anonymous) == (3, 0, 1)
    order = db.read(
        lambda s: orders.get_order_by_key(session=s, source="import", external_id="536365")
    )
    assert order is not None
    assert [(ln.sku, ln.unit_price_fen) for ln in order.lines] == [("85123A", 255), ("71053", 339)]
    customer = _by_phone(db, "13800138000")
    assert customer is not None and order.customer_id == customer.id


def test_xlsx_rejects_show_spreadsheet_rows(db: Database, tmp_path: Path) -> None:
    header = ["订单号", "商品编码", "数量", "单价", "下单时间"]
    rows: list[list[object]] = [
        ["A", "S", 1, 1, "2024-01-01"],
        [None, None, None, None, None],
        ["B", "S", "lots", 1, "2024-01-01"],
    ]
    path = write_xlsx(tmp_path / "s.xlsx", header, rows)

    summary = import_file(db, "orders", path)

    assert summary.report_path is not None
    report = Path(summary.report_path).read_text("utf-8-sig").splitlines()
    assert report[1].startswith("4,数量,lots,rejected,")


def test_zero_byte_file_is_refused_and_nothing_is_written(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")

    with pytest.raises(EmptyFile, match="empty"):
        import_file(db, "orders", path)
    assert _runs(db) == 0


def test_header_only_file_is_refused_and_nothing_is_written(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "header.csv", UCI_HEADER, [])

    with pytest.raises(EmptyFile, match="no data rows"):
        import_file(db, "orders", path)
    assert _runs(db) == 0


def test_blank_lines_only_file_has_no_header(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text("\n\n,,\n", "utf-8")

    with pytest.raises(EmptyFile, match="no header"):
        import_file(db, "orders", path)


def test_missing_columns_are_named_before_anything_is_written(db: Database, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "odd.csv", ["单据", "商品编码", "数量", "备注"], [["1", "A", "1", "x"]]
    )

    with pytest.raises(MissingColumns) as caught:
        import_file(db, "orders", path)

    message = caught.value.message
    assert "order id (订单号)" in message and "order time (下单时间)" in message
    assert "unit price (单价) or line amount (金额)" in message
    assert "'单据', '商品编码', '数量', '备注'" in message
    assert "--map" in message
    assert _runs(db) == 0


def test_old_binary_excel_files_are_refused_with_advice(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100)

    with pytest.raises(UnreadableFile, match=r"save as \.xlsx or CSV"):
        import_file(db, "orders", path)


def test_headers_match_whatever_their_case_spacing_width_and_units() -> None:
    headers = ["ORDER_NO", " Stock Code ", "ＱＴＹ", "单价（元）", "Invoice-Date", "Mobile Phone"]

    cols = resolve_columns(kind="orders", headers=headers)

    assert cols.described() == {
        "order_id": "ORDER_NO",
        "sku": " Stock Code ",
        "quantity": "ＱＴＹ",
        "unit_price": "单价（元）",
        "ordered_at": "Invoice-Date",
        "phone": "Mobile Phone",
    }


def test_a_mapping_to_a_column_not_in_the_file_is_refused() -> None:
    with pytest.raises(BadMapping, match=r"'单据' .* is not in the file"):
        resolve_columns(kind="orders", headers=["a"], mapping={"order_id": "单据"})
    with pytest.raises(BadMapping, match="not a field of orders"):
        resolve_columns(kind="orders", headers=["a"], mapping={"colour": "a"})
