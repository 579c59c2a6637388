"""Importing order lines: grouping, validation, rejects, idempotency, cancellations."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from patron.catalog import service as catalog
from patron.catalog.schemas import StoreCreate
from patron.core.db import Database
from patron.customers import service as customers
from patron.orders import returns
from patron.orders import service as orders
from patron.orders.schemas import OrderRead
from tests.imports.helpers import (
    UCI_HEADER,
    import_file,
    read_report,
    rejects,
    report_of,
    snapshot,
    write_csv,
)

UCI_ROWS = [
    ["536365", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "6", "12/1/2010 8:26", "2.55", "17850", "United Kingdom"],
    ["536365", "71053", "WHITE METAL LANTERN", "6", "12/1/2010 8:26", "3.39", "17850", "United Kingdom"],
    ["536366", "22633", "HAND WARMER UNION JACK", "6", "12/1/2010 8:28", "1.85", "17850", "United Kingdom"],
    ["536367", "84879", "ASSORTED COLOUR BIRD ORNAMENT", "32", "12/1/2010 8:34", "1.69", "13047", "United Kingdom"],
    ["536368", "22960", "JAM MAKING SET WITH JARS", "6", "12/1/2010 8:34", "4.25", "", "United Kingdom"],
]  # fmt: skip


def _order(db: Database, external_id: str, source: str = "import") -> OrderRead | None:
    return db.read(
        lambda s: orders.get_order_by_key(session=s, source=source, external_id=external_id)
    )


def _count(db: Database) -> int:
    return db.read(lambda s: orders.count_orders(session=s))


def test_uci_style_file_lands_orders_with_lines_and_customers(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "online_retail.csv", UCI_HEADER, UCI_ROWS)

    summary = import_file(db, "orders", path)

    assert summary.outcome == "completed"
    assert (summary.rows_read, summary.rows_accepted, summary.rows_rejected) == (5, 5, 0)
    assert summary.anonymous == 1
    assert summary.created == 4
    assert summary.ignored_columns == []
    assert summary.columns["country"] == "Country"  # kept with each order
    assert summary.report_path is None
    assert summary.reconciliation is not None and summary.reconciliation.balanced
    order = _order(db, "536365")
    assert order is not None
    assert [(ln.sku, ln.quantity, ln.unit_price_fen) for ln in order.lines] == [
        ("85123A", Decimal(6), 255),
        ("71053", Decimal(6), 339),
    ]
    assert order.total_fen == 6 * 255 + 6 * 339
    # Naive times are wall-clock time in Asia/Shanghai: 08:26 there is 00:26 UTC.
    assert order.ordered_at == datetime(2010, 12, 1, 0, 26, tzinfo=UTC)
    same_customer = _order(db, "536366")
    assert same_customer is not None and same_customer.customer_id == order.customer_id
    anonymous = _order(db, "536368")
    assert anonymous is not None and anonymous.customer_id is None
    known = db.read(
        lambda s: customers.lookup_customer(
            session=s, kind="external_account", value="17850", namespace="import"
        )
    )
    assert known is not None and known.id == order.customer_id


def test_reimporting_the_same_file_adds_nothing(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "sales.csv", UCI_HEADER, UCI_ROWS)
    first = import_file(db, "orders", path)
    before = snapshot(db)

    again = import_file(db, "orders", path)

    assert again.outcome == "already_imported"
    assert again.run_id == first.run_id
    assert again.rows_accepted == first.rows_accepted == 5
    assert snapshot(db) == before


def test_forced_reimport_counts_duplicates_and_adds_nothing(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "sales.csv", UCI_HEADER, UCI_ROWS)
    first = import_file(db, "orders", path)
    before = snapshot(db)

    forced = import_file(db, "orders", path, force=True)

    assert forced.outcome == "completed"
    assert forced.run_id != first.run_id
    assert (forced.rows_accepted, forced.duplicates, forced.created) == (0, 5, 0)
    assert snapshot(db) == before


def test_overlapping_export_adds_only_the_new_orders(db: Database, tmp_path: Path) -> None:
    import_file(db, "orders", write_csv(tmp_path / "a.csv", UCI_HEADER, UCI_ROWS[:3]))

    summary = import_file(db, "orders", write_csv(tmp_path / "b.csv", UCI_HEADER, UCI_ROWS))

    assert (summary.duplicates, summary.rows_accepted) == (3, 2)
    assert _count(db) == 4


def test_half_bad_file_lands_good_half_and_reports_bad_half(db: Database, tmp_path: Path) -> None:
    header = ["订单号", "商品编码", "品名", "数量", "单价", "下单时间", "手机号"]
    good = [
        ["A1", "SKU1", "苹果", "1", "12.50", "2024-01-05 10:00", "13800138000"],
        ["A2", "SKU2", "香蕉", "2", "3.00", "2024-01-05 11:00", "13800138001"],
        ["A3", "SKU3", "牛奶", "1", "¥6.80", "2024-01-05 12:00", ""],
    ]
    bad = [
        ["B1", "SKU1", "苹果", "一个", "12.50", "2024-01-05 10:00", "13800138000"],
        ["B2", "SKU2", "香蕉", "2", "三元", "2024-01-05 11:00", "13800138001"],
        ["B3", "SKU3", "牛奶", "1", "6.80", "昨天", ""],
        ["B5", "SKU5", "鸡蛋", "1", "9.90", "2024-01-05 12:00", "12345"],
    ]
    fine_price = [["B4", "SKU4", "面包", "1", "6.805", "2024-01-05 12:00", ""]]
    path = write_csv(tmp_path / "sales.csv", header, good + bad + fine_price)

    summary = import_file(db, "orders", path)

    assert (summary.rows_read, summary.rows_accepted, summary.rows_rejected) == (8, 4, 4)
    assert summary.report_path == str(tmp_path / "sales.orders-run1.rejects.csv")
    assert _count(db) == 4
    assert all(_order(db, f"B{n}") is None for n in (1, 2, 3, 5))
    report = {r["row"]: r for r in read_report(tmp_path / "sales.orders-run1.rejects.csv")}
    # The header is row 1, so the first bad row (the 4th data row) is row 5.
    assert list(report) == ["5", "6", "7", "8", "9"]
    assert (report["5"]["column"], report["5"]["value"]) == ("数量", "一个")
    assert "not a number" in report["5"]["reason"]
    assert (report["6"]["column"], report["6"]["value"]) == ("单价", "三元")
    assert (report["7"]["column"], report["7"]["value"]) == ("下单时间", "昨天")
    assert (report["8"]["column"], report["8"]["value"]) == ("手机号", "12345")
    # A price finer than a fen is rounded at the line's total, with a warning: 6.805 → 6.81.
    assert (report["9"]["outcome"], report["9"]["column"]) == ("warning", "单价")
    fine = _order(db, "B4")
    assert fine is not None and fine.total_fen == 681


def test_a_flaw_in_one_line_rejects_that_line_alone(db: Database, tmp_path: Path) -> None:
    rows = [
        ["536365", "85123A", "HOLDER", "6", "12/1/2010 8:26", "2.55", "17850", "UK"],
        ["536365", "71053", "LANTERN", "six", "12/1/2010 8:26", "3.39", "17850", "UK"],
        ["536365", "84406B", "CREAM CUPID", "8", "12/1/2010 8:26", "2.75", "17850", "UK"],
        ["536366", "22633", "HAND WARMER", "6", "12/1/2010 8:28", "1.85", "17850", "UK"],
    ]
    path = write_csv(tmp_path / "sales.csv", UCI_HEADER, rows)

    summary = import_file(db, "orders", path)

    assert (summary.rows_accepted, summary.rows_rejected) == (3, 1)
    kept = _order(db, "536365")
    assert kept is not None and [ln.sku for ln in kept.lines] == ["85123A", "84406B"]
    assert _order(db, "536366") is not None
    report = report_of(summary)
    assert [(r["row"], r["column"], r["value"]) for r in report] == [("3", "Quantity", "six")]


def test_schema_errors_point_at_the_row_and_column_of_the_line(
    db: Database, tmp_path: Path
) -> None:
    rows = [
        ["536365", "85123A", "HOLDER", "6", "12/1/2010 8:26", "2.55", "17850", "UK"],
        ["536365", "71053", "LANTERN", "6", "12/1/2010 8:26", "-3.39", "17850", "UK"],
    ]
    path = write_csv(tmp_path / "sales.csv", UCI_HEADER, rows)

    summary = import_file(db, "orders", path)

    (reject,) = report_of(summary)
    assert (reject["row"], reject["column"], reject["value"]) == ("3", "UnitPrice", "-3.39")
    assert "cannot be negative" in reject["reason"]


@pytest.mark.parametrize(
    ("text", "expected_utc"),
    [
        ("2024-01-05 13:45:00", datetime(2024, 1, 5, 5, 45, tzinfo=UTC)),
        ("2024-01-05T13:45:00+08:00", datetime(2024, 1, 5, 5, 45, tzinfo=UTC)),
        ("2024/1/5 13:45", datetime(2024, 1, 5, 5, 45, tzinfo=UTC)),
        ("2024年1月5日 13时45分", datetime(2024, 1, 5, 5, 45, tzinfo=UTC)),
        ("20240105", datetime(2024, 1, 4, 16, 0, tzinfo=UTC)),
        ("1/5/2024 1:45 PM", datetime(2024, 1, 5, 5, 45, tzinfo=UTC)),
    ],
)
def test_dates_in_the_usual_export_formats_are_read(
    db: Database, tmp_path: Path, text: str, expected_utc: datetime
) -> None:
    path = write_csv(
        tmp_path / "sales.csv",
        ["订单号", "SKU", "数量", "单价", "日期"],
        [["D1", "SKU1", "1", "1.00", text]],
    )

    summary = import_file(db, "orders", path)

    assert summary.rows_accepted == 1
    order = _order(db, "D1")
    assert order is not None and order.ordered_at == expected_utc


def test_day_first_reads_the_day_before_the_month(db: Database, tmp_path: Path) -> None:
    header = ["order id", "sku", "qty", "price", "date"]
    path = write_csv(tmp_path / "eu.csv", header, [["E1", "S", "1", "1", "05/01/2024 10:00"]])

    import_file(db, "orders", path, day_first=True)

    order = _order(db, "E1")
    assert order is not None
    assert order.ordered_at == datetime(2024, 1, 5, 2, 0, tzinfo=UTC)


def test_month_thirteen_says_to_try_day_first(db: Database, tmp_path: Path) -> None:
    header = ["order id", "sku", "qty", "price", "date"]
    path = write_csv(tmp_path / "eu.csv", header, [["E1", "S", "1", "1", "25/01/2024"]])

    summary = import_file(db, "orders", path)

    assert summary.rows_rejected == 1
    (reject,) = report_of(summary)
    assert reject["column"] == "date" and "--day-first" in reject["reason"]


def test_amounts_with_currency_signs_commas_and_units_are_exact(
    db: Database, tmp_path: Path
) -> None:
    header = ["订单号", "商品编码", "数量", "单价(元)", "优惠", "下单时间"]
    rows = [
        ["M1", "TV", "1", "¥1,299.90", "0.90", "2024-03-01 09:00"],
        ["M1", "CABLE", "2", "19.9元", "", "2024-03-01 09:00"],
        ["M1", "RICE", "0.455", "12.80", "", "2024-03-01 09:00"],
    ]
    path = write_csv(tmp_path / "m.csv", header, rows)

    import_file(db, "orders", path)

    order = _order(db, "M1")
    assert order is not None
    assert [(ln.unit_price_fen, ln.discount_fen, ln.amount_fen) for ln in order.lines] == [
        (129990, 90, 129900),
        (1990, 0, 3980),
        (1280, 0, 582),  # 0.455 kg × 12.80 = 5.824 → 5.82
    ]


def test_a_file_with_only_line_amounts_gets_unit_prices(db: Database, tmp_path: Path) -> None:
    header = ["单号", "货号", "数量", "实付金额", "时间"]
    path = write_csv(tmp_path / "a.csv", header, [["X1", "S1", "3", "10.00", "2024-01-01"]])

    import_file(db, "orders", path)

    order = _order(db, "X1")
    assert order is not None
    (line,) = order.lines
    assert (line.unit_price_fen, line.amount_fen) == (333, 1000)
    assert order.total_fen == 1000


def test_rows_of_an_order_apart_in_the_file_make_one_order(db: Database, tmp_path: Path) -> None:
    rows = [
        ["536365", "A", "a", "1", "12/1/2010 8:26", "1.00", "17850", "UK"],
        ["536366", "B", "b", "1", "12/1/2010 8:27", "1.00", "17850", "UK"],
        ["536365", "C", "c", "1", "12/1/2010 8:26", "1.00", "17850", "UK"],
    ]
    path = write_csv(tmp_path / "s.csv", UCI_HEADER, rows)

    summary = import_file(db, "orders", path, batch_rows=1)

    assert summary.rows_accepted == 3
    order = _order(db, "536365")
    assert order is not None and [ln.sku for ln in order.lines] == ["A", "C"]


def test_an_order_spread_over_the_whole_file_is_one_order(db: Database, tmp_path: Path) -> None:
    rows = [["FAR", "A", "a", "1", "12/1/2010 8:26", "1.00", "", "UK"]]
    rows += [[f"N{i}", "B", "b", "1", "12/1/2010 8:27", "1.00", "", "UK"] for i in range(1000)]
    rows += [["FAR", "C", "c", "1", "12/1/2010 8:26", "1.00", "", "UK"]]
    path = write_csv(tmp_path / "s.csv", UCI_HEADER, rows)

    summary = import_file(db, "orders", path, batch_rows=100)

    assert (summary.rows_accepted, summary.rows_rejected) == (1002, 0)
    far = _order(db, "FAR")
    assert far is not None and [ln.sku for ln in far.lines] == ["A", "C"]


def test_rows_without_customer_identity_are_anonymous_sales(db: Database, tmp_path: Path) -> None:
    header = ["订单号", "商品编码", "数量", "单价", "下单时间", "手机号", "会员卡号"]
    rows = [
        ["N1", "S", "1", "1", "2024-01-01", "", ""],
        ["N1", "T", "1", "1", "2024-01-01", "", ""],
        ["N2", "S", "1", "1", "2024-01-01", "", "VIP001"],
    ]
    path = write_csv(tmp_path / "n.csv", header, rows)

    summary = import_file(db, "orders", path)

    assert (summary.anonymous, summary.rows_accepted) == (2, 3)
    anonymous, member = _order(db, "N1"), _order(db, "N2")
    assert anonymous is not None and anonymous.customer_id is None
    assert member is not None and member.customer_id is not None


def test_unknown_store_rejects_the_order(db: Database, tmp_path: Path) -> None:
    db.write(
        lambda s: catalog.create_store(
            session=s, store_in=StoreCreate(code="SH01", name="上海一店")
        )
    )
    header = ["订单号", "商品编码", "数量", "单价", "下单时间", "门店"]
    rows = [
        ["S1", "A", "1", "1", "2024-01-01", "SH01"],
        ["S2", "A", "1", "1", "2024-01-01", "BJ99"],
        ["S2", "B", "1", "1", "2024-01-01", "BJ99"],
    ]
    path = write_csv(tmp_path / "s.csv", header, rows)

    summary = import_file(db, "orders", path)

    assert (summary.rows_accepted, summary.rows_rejected) == (1, 2)
    stored = _order(db, "S1")
    assert stored is not None and stored.store_code == "SH01"
    report = report_of(summary)
    assert [(r["row"], r["column"], r["value"]) for r in report] == [
        ("3", "门店", "BJ99"),
        ("4", "门店", "BJ99"),
    ]
    assert "--create-stores" in report[0]["reason"]
    assert [(p.store, p.rows) for p in summary.unknown_stores] == [("BJ99", 2)]


def test_payment_and_channel_words_are_understood(db: Database, tmp_path: Path) -> None:
    header = ["订单号", "商品编码", "数量", "单价", "下单时间", "支付方式", "渠道"]
    path = write_csv(
        tmp_path / "p.csv", header, [["P1", "A", "1", "1", "2024-01-01", "微信支付", "小程序"]]
    )

    import_file(db, "orders", path)

    order = _order(db, "P1")
    assert order is not None
    assert (order.payment_method, order.channel) == ("wechat_pay", "mini_program")


def test_map_option_names_columns_the_alias_table_does_not_know(
    db: Database, tmp_path: Path
) -> None:
    header = ["单据", "物品", "件", "价", "什么时候"]
    path = write_csv(tmp_path / "odd.csv", header, [["Q1", "A", "2", "1.50", "2024-01-01"]])
    mapping = {
        "order_id": "单据",
        "sku": "物品",
        "数量": "件",
        "unit_price": "价",
        "date": "什么时候",
    }

    summary = import_file(db, "orders", path, mapping=mapping)

    assert summary.rows_accepted == 1
    order = _order(db, "Q1")
    assert order is not None and order.total_fen == 300


def test_mapping_file_in_json_or_toml_is_read(db: Database, tmp_path: Path) -> None:
    from patron.imports.columns import load_mapping_file

    (tmp_path / "m.json").write_text(json.dumps({"orders": {"order_id": "单据"}}), "utf-8")
    (tmp_path / "m.toml").write_text('[columns]\norder_id = "单据"\nsku = "物品"\n', "utf-8")

    assert load_mapping_file(tmp_path / "m.json", kind="orders") == {"order_id": "单据"}
    assert load_mapping_file(tmp_path / "m.toml", kind="orders") == {
        "order_id": "单据",
        "sku": "物品",
    }


def test_a_negative_line_in_a_sale_is_a_return_of_its_own(db: Database, tmp_path: Path) -> None:
    header = ["订单号", "商品编码", "数量", "单价", "下单时间"]
    rows = [["R1", "A", "2", "1", "2024-01-01"], ["R1", "B", "-1", "1", "2024-01-01"]]
    path = write_csv(tmp_path / "r.csv", header, rows)

    summary = import_file(db, "orders", path)

    assert (summary.rows_accepted, summary.rows_rejected) == (2, 0)
    sale = _order(db, "R1")
    assert sale is not None and [ln.sku for ln in sale.lines] == ["A"]
    assert summary.returns_without_sale == 1  # nobody's sale of B to take it back from
    assert summary.reconciliation is not None
    assert summary.reconciliation.total.patron.net_fen == 200 - 100


# ------------------------------------------------------------------------ cancellations


def test_cancellation_invoice_becomes_refund_of_the_customers_earlier_order(
    db: Database, tmp_path: Path
) -> None:
    rows = [
        *UCI_ROWS[:3],
        ["C536379", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "-2", "12/1/2010 9:41", "2.55", "17850", "UK"],
    ]  # fmt: skip
    path = write_csv(tmp_path / "s.csv", UCI_HEADER, rows)

    summary = import_file(db, "orders", path)

    assert (summary.refunds, summary.rows_accepted, summary.rows_rejected) == (1, 4, 0)
    order = _order(db, "536365")
    assert order is not None
    assert order.lines[0].refunded_quantity == Decimal(2)
    assert order.refunded_fen == 2 * 255
    assert _order(db, "C536379") is None


def test_cancellation_in_a_later_file_and_its_reimport_refund_once(
    db: Database, tmp_path: Path
) -> None:
    import_file(db, "orders", write_csv(tmp_path / "sales.csv", UCI_HEADER, UCI_ROWS))
    cancel = [["C536379", "85123A", "HOLDER", "-6", "12/2/2010 9:41", "2.55", "17850", "UK"]]
    path = write_csv(tmp_path / "cancel.csv", UCI_HEADER, cancel)

    first = import_file(db, "orders", path)
    again = import_file(db, "orders", path, force=True)

    assert (first.refunds, again.refunds, again.duplicates) == (1, 0, 1)
    order = _order(db, "536365")
    assert order is not None and order.refunded_fen == 6 * 255


def test_original_order_column_names_the_order_refunded(db: Database, tmp_path: Path) -> None:
    header = ["订单号", "商品编码", "数量", "单价", "下单时间", "原订单号", "手机号"]
    rows = [
        ["S1", "APPLE", "3", "5.00", "2024-01-01 10:00", "", "13800138000"],
        ["S2", "APPLE", "3", "5.00", "2024-01-02 10:00", "", "13800138000"],
        ["T1", "APPLE", "-1", "5.00", "2024-01-03 10:00", "S1", "13800138000"],
    ]
    path = write_csv(tmp_path / "r.csv", header, rows)

    summary = import_file(db, "orders", path)

    assert summary.refunds == 1
    first, second = _order(db, "S1"), _order(db, "S2")
    assert first is not None and first.refunded_fen == 500
    assert second is not None and second.refunded_fen == 0


def test_a_later_export_saying_refunded_refunds_the_order_imported_before(
    db: Database, tmp_path: Path
) -> None:
    header = ["订单号", "商品编码", "数量", "单价", "下单时间", "订单状态"]
    sale = [["W1", "A", "2", "8.00", "2024-01-01 10:00", "已完成"]]
    import_file(db, "orders", write_csv(tmp_path / "jan.csv", header, sale))
    refunded = [["W1", "A", "2", "8.00", "2024-01-01 10:00", "已退款"]]

    summary = import_file(db, "orders", write_csv(tmp_path / "feb.csv", header, refunded))

    assert (summary.duplicates, summary.refunds) == (1, 1)
    order = _order(db, "W1")
    assert order is not None and order.refunded_fen == 1600
    assert summary.reconciliation is not None and summary.reconciliation.balanced


def test_a_cancellation_with_no_sale_to_match_is_a_return_without_a_known_sale(
    db: Database, tmp_path: Path
) -> None:
    rows = [
        ["C1", "85123A", "HOLDER", "-2", "12/1/2010 9:41", "2.55", "17850", "UK"],
        ["C2", "85123A", "HOLDER", "-2", "12/1/2010 9:41", "2.55", "", "UK"],
    ]
    path = write_csv(tmp_path / "c.csv", UCI_HEADER, rows)

    summary = import_file(db, "orders", path)

    assert (summary.refunds, summary.rows_rejected, summary.returns_without_sale) == (2, 0, 2)
    kept = db.read(lambda s: returns.list_returns(session=s, source="import"))
    assert sorted((r.external_id, r.amount_fen, r.customer_id is None) for r in kept) == [
        ("C1", 510, False),
        ("C2", 510, True),
    ]


def test_custom_cancel_pattern_marks_returns(db: Database, tmp_path: Path) -> None:
    header = ["订单号", "商品编码", "数量", "单价", "下单时间", "手机号"]
    rows = [
        ["1001", "A", "2", "8.00", "2024-01-01 10:00", "13800138000"],
        ["RET-1001", "A", "1", "8.00", "2024-01-02 10:00", "13800138000"],
    ]
    path = write_csv(tmp_path / "r.csv", header, rows)

    summary = import_file(db, "orders", path, cancel_pattern=r"^RET-")

    assert summary.refunds == 1
    order = _order(db, "1001")
    assert order is not None and order.refunded_fen == 800


def test_the_latest_orders_address_fills_a_members_blank_address_only(
    db: Database, tmp_path: Path
) -> None:
    header = ["订单号", "商品编码", "数量", "单价", "下单时间", "手机号", "收货地址"]
    rows = [
        ["A1", "S", "1", "1", "2024-01-01", "13800138000", "上海市黄浦区南京东路 100 号"],
        ["A2", "S", "1", "1", "2024-02-01", "13800138000", "北京市朝阳区建国路 1 号"],
    ]

    import_file(db, "orders", write_csv(tmp_path / "a.csv", header, rows[::-1]))

    member = db.read(
        lambda s: customers.lookup_customer(session=s, kind="phone", value="13800138000")
    )
    # In one file the latest order's address fills the blank, whatever the rows' order; a
    # later import's address (a gift, an office) leaves it be.
    assert member is not None and member.address == "北京市朝阳区建国路 1 号"
    later = [["A3", "S", "1", "1", "2024-03-01", "13800138000", "杭州市西湖区 8 号"]]
    import_file(db, "orders", write_csv(tmp_path / "b.csv", header, later))
    again = db.read(
        lambda s: customers.lookup_customer(session=s, kind="phone", value="13800138000")
    )
    assert again is not None and again.address == "北京市朝阳区建国路 1 号"


def test_an_address_too_long_for_a_profile_does_not_cost_the_sale(
    db: Database, tmp_path: Path
) -> None:
    header = ["订单号", "商品编码", "数量", "单价", "下单时间", "手机号", "收货地址"]
    rows = [["L1", "S", "1", "1", "2024-01-01", "13800138000", "幸福路 8 号" + "，请放门卫" * 60]]

    summary = import_file(db, "orders", write_csv(tmp_path / "l.csv", header, rows))

    assert (summary.rows_accepted, summary.rows_rejected) == (1, 0)
    sold = _order(db, "L1")
    assert sold is not None and sold.customer_id is not None
    member = db.read(lambda s: customers.get_customer(session=s, customer_id=sold.customer_id))
    assert member is not None and member.address is None


def test_an_imported_order_has_the_request_hash_of_the_same_order_posted(
    db: Database, tmp_path: Path
) -> None:
    """The importer builds orders without re-validating what it checked cell by cell; the
    order it writes is still the order a till would post, to the byte of its hash."""
    from patron.orders.schemas import OrderIn

    header = ["订单号", "商品编码", "品名", "数量", "单价", "优惠", "下单时间", "手机号", "渠道"]
    rows = [
        ["H1", "A", "苹果", "2", "12.50", "1.00", "2024-01-05 10:00", "13800138000", "线上"],
        ["H1", "B", "", "0.455", "12.80", "", "2024-01-05 10:00", "13800138000", "线上"],
    ]
    import_file(db, "orders", write_csv(tmp_path / "h.csv", header, rows))

    posted = OrderIn.model_validate(
        {
            "source": "import",
            "external_id": "H1",
            "store_code": "MAIN",
            "channel": "online",
            "ordered_at": datetime(2024, 1, 5, 2, 0, tzinfo=UTC),
            "customer": {"phone": "13800138000"},
            "lines": [
                {"sku": "A", "name": "苹果", "quantity": 2, "unit_price_fen": 1250,
                 "discount_fen": 100, "amount_fen": 2400},
                {"sku": "B", "quantity": "0.455", "unit_price_fen": 1280, "amount_fen": 582},
            ],
        }
    )  # fmt: skip
    again = db.write(lambda s: orders.record_order(session=s, order_in=posted))
    assert again.created is False  # the same order: a duplicate, not a conflict


def test_cells_repeated_across_rows_are_judged_on_every_row(db: Database, tmp_path: Path) -> None:
    """Prices, quantities and customers an export repeats are read once each; every row
    still gets its own outcome: each flawed cell rejected, each finer price warned, each
    order of one customer on that customer, each order of a bad identity rejected."""
    rows = [
        ["700001", "A", "HOLDER", "six", "12/1/2010 8:26", "2.55", "17850", "UK"],
        ["700001", "B", "LANTERN", "2", "12/1/2010 8:26", "0.125", "17850", "UK"],
        ["700002", "A", "HOLDER", "six", "12/1/2010 9:26", "2.55", "17850", "UK"],
        ["700002", "B", "LANTERN", "2", "12/1/2010 9:26", "0.125", "17850", "UK"],
        ["700003", "C", "CUP", "2", "12/1/2010 9:30", "-1.00", "13047", "UK"],
        ["700003", "D", "CUP", "2", "12/1/2010 9:30", "1.00", "13047", "UK"],
        ["700004", "C", "CUP", "2", "12/1/2010 9:40", "-1.00", "13047", "UK"],
        ["700004", "D", "CUP", "2", "12/1/2010 9:40", "2.55", "13047", "UK"],
    ]
    path = write_csv(tmp_path / "repeats.csv", UCI_HEADER, rows)

    summary = import_file(db, "orders", path)

    assert (summary.rows_accepted, summary.rows_rejected) == (4, 4)
    assert summary.reconciliation is not None and summary.reconciliation.balanced
    report = report_of(summary)
    rejected = [(r["row"], r["column"], r["value"]) for r in report if r["outcome"] == "rejected"]
    assert rejected == [
        ("2", "Quantity", "six"),
        ("4", "Quantity", "six"),
        ("6", "UnitPrice", "-1.00"),
        ("8", "UnitPrice", "-1.00"),
    ]
    warned = [(r["row"], r["value"]) for r in report if r["outcome"] != "rejected"]
    assert warned == [("3", "0.125"), ("5", "0.125")]
    first, second = _order(db, "700001"), _order(db, "700002")
    assert first is not None and second is not None
    assert [ln.amount_fen for ln in first.lines] == [25]  # 2 × 0.125 = 0.25
    assert first.customer_id is not None and second.customer_id == first.customer_id
    third, fourth = _order(db, "700003"), _order(db, "700004")
    assert third is not None and fourth is not None
    assert fourth.customer_id == third.customer_id != first.customer_id


def test_an_identity_repeated_across_orders_is_rejected_on_each(
    db: Database, tmp_path: Path
) -> None:
    header = ["订单号", "商品编码", "数量", "单价", "下单时间", "手机号"]
    rows = [
        ["K1", "A", "1", "5.00", "2024-01-05 10:00", "12345"],
        ["K2", "A", "1", "5.00", "2024-01-05 11:00", "12345"],
        ["K3", "A", "1", "5.00", "2024-01-05 12:00", "13800138000"],
        ["K4", "A", "1", "5.00", "2024-01-05 13:00", "13800138000"],
    ]
    summary = import_file(db, "orders", write_csv(tmp_path / "ids.csv", header, rows))

    assert (summary.rows_accepted, summary.rows_rejected) == (2, 2)
    assert [(r["row"], r["value"]) for r in rejects(summary)] == [("2", "12345"), ("3", "12345")]
    k3, k4 = _order(db, "K3"), _order(db, "K4")
    assert k3 is not None and k4 is not None and k3.customer_id == k4.customer_id
