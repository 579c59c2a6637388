"""Importing members and the product catalogue."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from patron.catalog import service as catalog
from patron.catalog.schemas import StoreCreate
from patron.core.db import Database
from patron.customers import service as customers
from patron.customers.schemas import CustomerFilter, CustomerRead
from tests.imports.helpers import import_file, report_of, write_csv

MEMBER_HEADER = [
    "会员卡号",
    "手机号",
    "姓名",
    "性别",
    "生日",
    "邮箱",
    "openid",
    "unionid",
    "门店",
    "注册渠道",
    "注册时间",
    "标签",
]


def _lookup(db: Database, kind: str, value: str) -> CustomerRead | None:
    return db.read(lambda s: customers.lookup_customer(session=s, kind=kind, value=value))


def test_customers_import_with_identities_profile_and_tags(db: Database, tmp_path: Path) -> None:
    db.write(
        lambda s: catalog.create_store(
            session=s, store_in=StoreCreate(code="SH01", name="上海一店")
        )
    )
    rows = [
        ["VIP0001", "138 0013 8000", "张伟", "男", "1990/5/17", "ZW@Example.com", "o-1", "u-1", "SH01", "小程序", "2023-06-01 10:00", "高价值,宝妈"],
        ["VIP0002", "+86 139-0013-9000", "王芳", "F", "1988年3月2日", "", "", "", "", "门店", "", "新客"],
    ]  # fmt: skip
    path = write_csv(tmp_path / "members.csv", MEMBER_HEADER, rows, encoding="utf-8-sig")

    summary = import_file(db, "customers", path)

    assert (summary.rows_accepted, summary.created, summary.rows_rejected) == (2, 2, 0)
    zhang = _lookup(db, "member_card", "VIP0001")
    assert zhang is not None
    assert (zhang.name, zhang.gender, zhang.birthday) == ("张伟", "male", date(1990, 5, 17))
    assert zhang.home_store_code == "SH01" and zhang.signup_channel == "小程序"
    assert zhang.signed_up_at == datetime(2023, 6, 1, 2, 0, tzinfo=UTC)
    assert sorted(zhang.tags) == ["宝妈", "高价值"]
    assert {i.kind for i in zhang.identities} == {
        "member_card",
        "phone",
        "email",
        "wechat_openid",
        "wechat_unionid",
    }
    assert _lookup(db, "phone", "13800138000") == zhang
    assert _lookup(db, "email", "zw@example.com") == zhang
    wang = _lookup(db, "phone", "13900139000")
    assert wang is not None and wang.gender == "female" and wang.birthday == date(1988, 3, 2)
    tagged = db.read(
        lambda s: customers.list_customers(session=s, filters=CustomerFilter(tag="新客"))
    )
    assert [c.id for c in tagged.items] == [wang.id]


def test_reimported_customers_are_found_not_duplicated(db: Database, tmp_path: Path) -> None:
    header = ["手机号", "姓名"]
    import_file(db, "customers", write_csv(tmp_path / "a.csv", header, [["13800138000", "张伟"]]))
    rows = [["13800138000", "张伟"], ["13900139000", "王芳"], ["139 0013 9000", "王芳"]]

    summary = import_file(db, "customers", write_csv(tmp_path / "b.csv", header, rows))

    assert (summary.created, summary.duplicates, summary.rows_accepted) == (1, 2, 1)
    page = db.read(lambda s: customers.list_customers(session=s, filters=CustomerFilter()))
    assert len(page.items) == 2


def test_bad_customer_rows_are_reported_by_column(db: Database, tmp_path: Path) -> None:
    header = ["手机号", "姓名", "性别", "生日", "门店", "邮箱"]
    rows = [
        ["13800138000", "好", "男", "1990-01-01", "", ""],
        ["12345", "坏电话", "", "", "", ""],
        ["13900139000", "坏性别", "不男不女", "", "", ""],
        ["13700137000", "坏生日", "", "1990-13-45", "", ""],
        ["13600136000", "未来", "", "2999-01-01", "", ""],
        ["13500135000", "没门店", "", "", "NOPE", ""],
        ["", "没身份", "", "", "", ""],
        ["", "坏邮箱", "", "", "", "not-an-email"],
    ]
    path = write_csv(tmp_path / "m.csv", header, rows)

    summary = import_file(db, "customers", path)

    assert (summary.rows_accepted, summary.rows_rejected) == (1, 7)
    report = report_of(summary)
    assert [(r["row"], r["column"], r["value"]) for r in report] == [
        ("3", "手机号", "12345"),
        ("4", "性别", "不男不女"),
        ("5", "生日", "1990-13-45"),
        ("6", "生日", "2999-01-01"),
        ("7", "门店", "NOPE"),
        ("8", "", ""),
        ("9", "邮箱", "not-an-email"),
    ]
    assert "between 1900-01-01 and today" in report[3]["reason"]
    assert "no phone, member card" in report[5]["reason"]


def test_products_import_category_paths_and_yuan_prices(db: Database, tmp_path: Path) -> None:
    header = ["商品编码", "商品名称", "分类", "品牌", "零售价(元)", "保质期"]
    rows = [
        ["P001", "红富士苹果", "生鲜 / 水果 / 苹果", "烟台", "¥12.80", "30天"],
        ["P002", "纯牛奶 250ml", "乳品>常温奶", "光明", "3.5", "6个月"],
        ["P003", "大米 5kg", "粮油", "", "59", "1年"],
    ]
    path = write_csv(tmp_path / "products.csv", header, rows)

    summary = import_file(db, "products", path)

    assert (summary.created, summary.rows_accepted) == (3, 3)
    apple = db.read(lambda s: catalog.get_product_by_sku(session=s, sku="P001"))
    assert apple is not None
    assert (apple.category_path, apple.brand, apple.list_price_fen, apple.shelf_life_days) == (
        "生鲜/水果/苹果",
        "烟台",
        1280,
        30,
    )
    milk = db.read(lambda s: catalog.get_product_by_sku(session=s, sku="P002"))
    assert milk is not None and (milk.category_path, milk.list_price_fen) == ("乳品/常温奶", 350)
    assert milk.shelf_life_days == 180
    fruit = db.read(lambda s: catalog.list_products(session=s, category_prefix="生鲜/水果"))
    assert [p.sku for p in fruit] == ["P001"]


def test_category_level_columns_join_into_a_path(db: Database, tmp_path: Path) -> None:
    header = ["SKU", "品名", "一级分类", "二级分类", "三级分类", "售价"]
    path = write_csv(tmp_path / "p.csv", header, [["P1", "苹果", "生鲜", "水果", "苹果", "9.9"]])

    import_file(db, "products", path)

    product = db.read(lambda s: catalog.get_product_by_sku(session=s, sku="P1"))
    assert product is not None and product.category_path == "生鲜/水果/苹果"


def test_products_reimport_updates_changes_and_counts_the_rest(
    db: Database, tmp_path: Path
) -> None:
    header = ["SKU", "name", "price"]
    import_file(
        db, "products", write_csv(tmp_path / "a.csv", header, [["A", "a", "1"], ["B", "b", "2"]])
    )
    rows = [["A", "a", "1"], ["B", "b", "2.50"], ["C", "c", "3"], ["D", "d", "1.005"]]

    summary = import_file(db, "products", write_csv(tmp_path / "b.csv", header, rows))

    assert (summary.created, summary.updated, summary.duplicates, summary.rows_rejected) == (
        2,
        1,
        1,
        0,
    )
    changed = db.read(lambda s: catalog.get_product_by_sku(session=s, sku="B"))
    assert changed is not None and changed.list_price_fen == 250
    # A price finer than a fen is rounded half up, with a warning in the report.
    rounded = db.read(lambda s: catalog.get_product_by_sku(session=s, sku="D"))
    assert rounded is not None and rounded.list_price_fen == 101
    (warning,) = report_of(summary)
    assert (warning["row"], warning["column"], warning["outcome"]) == ("5", "price", "warning")


def test_customers_import_reads_addresses_in_either_language(db: Database, tmp_path: Path) -> None:
    zh = write_csv(
        tmp_path / "zh.csv",
        ["手机号", "收货地址"],
        [["13800138000", "上海市黄浦区南京东路 100 号"]],
    )
    en = write_csv(
        tmp_path / "en.csv", ["Email", "Street Address"], [["li@example.com", "8 Xingfu Road"]]
    )

    assert import_file(db, "customers", zh).columns == {"phone": "手机号", "address": "收货地址"}
    import_file(db, "customers", en)

    zhang = _lookup(db, "phone", "13800138000")
    li = _lookup(db, "email", "li@example.com")
    assert zhang is not None and zhang.address == "上海市黄浦区南京东路 100 号"
    assert li is not None and li.address == "8 Xingfu Road"


def test_an_address_too_long_is_reported_at_its_column(db: Database, tmp_path: Path) -> None:
    rows = [["13800138000", "路" * 256], ["13900139000", "幸福路 8 号"]]
    path = write_csv(tmp_path / "m.csv", ["手机号", "地址"], rows)

    summary = import_file(db, "customers", path)

    assert (summary.rows_accepted, summary.rows_rejected) == (1, 1)
    report = report_of(summary)
    assert [(r["row"], r["column"]) for r in report] == [("2", "地址")]
    assert "255" in report[0]["reason"]
    assert _lookup(db, "phone", "13800138000") is None
