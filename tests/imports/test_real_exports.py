"""Files as shops really export them: an online retailer's workbook, a Chinese till's GBK CSV.

Each test writes its file the way the shop's system does (tests/imports/builders.py,
tests/imports/exports.py) and checks what Patron holds against what the file says.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from patron.catalog import service as catalog
from patron.catalog.schemas import StoreCreate
from patron.core.db import Database
from patron.core.settings import get_settings
from patron.customers import service as customers
from patron.imports.files import CurrencyNotConfirmed
from patron.orders import returns, sales
from patron.orders import service as orders
from patron.orders.models import Order
from patron.orders.schemas import OrderRead
from tests.imports.exports import UCI_HEADER, file_net, uci_like_rows
from tests.imports.helpers import (
    import_file,
    rejects,
    report_of,
    snapshot,
    write_csv,
    write_till_export,
    write_workbook,
)

TILL_HEADER = [
    "订单号", "下单时间", "门店名称", "会员手机", "商品编码", "商品名称", "数量", "单价(元)",
    "金额(元)", "订单状态", "售后状态", "退款金额", "收银员", "支付方式",
]  # fmt: skip


def _order(db: Database, key: str) -> OrderRead | None:
    return db.read(lambda s: orders.get_order_by_key(session=s, source="import", external_id=key))


def _net_held(db: Database) -> int:
    """What Patron holds, as net sales over every day."""
    cells = db.read(
        lambda s: sales.net_sales_cells(
            session=s, start_on=datetime(2000, 1, 1).date(), end_on=datetime(2030, 1, 1).date()
        )
    )
    return sum(c.net_fen for c in cells)


@pytest.fixture
def pounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATRON_CURRENCY", "GBP")
    get_settings.cache_clear()


# ------------------------------------------------------------- the online retailer's file


@pytest.mark.slow
def test_a_40000_line_online_retail_workbook_nets_to_the_files_own_net(
    db: Database, tmp_path: Path, pounds: None
) -> None:
    rows = uci_like_rows(40_000)
    assert len(rows) >= 40_000
    as_excel = [[r[0], r[1], r[2], r[3], r[4], float(r[5]), int(r[6]) if r[6] else None, r[7]]
                for r in rows]  # fmt: skip
    path = write_workbook(
        tmp_path / "Online Retail.xlsx",
        {
            "说明": [["本表由网店后台导出"], ["金额单位：英镑"]],
            "Online Retail": [UCI_HEADER, *as_excel],
        },
    )

    summary = import_file(db, "orders", path)

    assert summary.sheet == "Online Retail"
    assert summary.rows_read == len(rows)
    assert summary.rows_rejected == 0, rejects(summary)[:5]
    expected = file_net(rows)
    assert summary.reconciliation is not None and summary.reconciliation.balanced
    assert summary.reconciliation.total.file.net_fen == expected
    assert _net_held(db) == expected
    assert summary.returns_without_sale > 0 and summary.refunds > summary.returns_without_sale
    assert summary.anonymous > 0


def test_shuffled_rows_import_exactly_as_sorted_rows(
    db: Database, reference_db: Database, tmp_path: Path, pounds: None
) -> None:
    rows = uci_like_rows(1500, seed=7)
    in_order = sorted(rows, key=lambda r: (str(r[0]).lstrip("C"), r[0].startswith("C")))
    write_csv(
        tmp_path / "sorted.csv",
        UCI_HEADER,
        [[*r[:4], f"{r[4]:%m/%d/%Y %H:%M}", *r[5:]] for r in in_order],
    )
    shuffled = write_csv(
        tmp_path / "shuffled.csv",
        UCI_HEADER,
        [[*r[:4], f"{r[4]:%m/%d/%Y %H:%M}", *r[5:]] for r in rows],
    )

    sorted_summary = import_file(reference_db, "orders", tmp_path / "sorted.csv")
    shuffled_summary = import_file(db, "orders", shuffled, batch_rows=97)

    assert shuffled_summary.rows_rejected == sorted_summary.rows_rejected == 0
    assert snapshot(db) == snapshot(reference_db)
    assert _net_held(db) == _net_held(reference_db) == file_net(rows)


def test_a_return_takes_back_its_own_amount_not_the_sales(db: Database, tmp_path: Path) -> None:
    rows = [
        ["536365", "85123A", "HOLDER", "6", "12/1/2010 8:26", "2.55", "17850", "UK"],
        ["C536379", "85123A", "HOLDER", "-2", "12/1/2010 9:41", "2.10", "17850", "UK"],
        ["C536380", "85123A", "HOLDER", "-1", "12/1/2010 9:45", "20.00", "17850", "UK"],
    ]
    path = write_csv(tmp_path / "s.csv", UCI_HEADER, rows)

    summary = import_file(db, "orders", path)

    sale = _order(db, "536365")
    assert sale is not None
    assert (sale.lines[0].refunded_quantity, sale.refunded_fen) == (Decimal(2), 420)
    # 4.00 is more than is left of a 2.55 sale's money after the first return: kept without it
    (kept,) = db.read(lambda s: returns.list_returns(session=s, source="import"))
    assert (kept.external_id, kept.amount_fen, kept.customer_id) == (
        "C536380",
        2000,
        sale.customer_id,
    )
    assert summary.reconciliation is not None and summary.reconciliation.balanced
    assert _net_held(db) == 6 * 255 - 420 - 2000


def test_a_return_is_never_put_on_another_customers_sale_nor_a_later_one(
    db: Database, tmp_path: Path
) -> None:
    rows = [
        ["536365", "A", "a", "2", "12/1/2010 8:26", "1.00", "17850", "UK"],  # someone else's
        ["536400", "A", "a", "2", "12/5/2010 8:26", "1.00", "13047", "UK"],  # after the return
        ["C536379", "A", "a", "-1", "12/2/2010 9:41", "1.00", "13047", "UK"],
    ]

    summary = import_file(db, "orders", write_csv(tmp_path / "s.csv", UCI_HEADER, rows))

    assert summary.returns_without_sale == 1
    for key in ("536365", "536400"):
        order = _order(db, key)
        assert order is not None and order.refunded_fen == 0


def test_a_price_of_a_tenth_of_a_penny_costs_neither_its_line_nor_its_order(
    db: Database, tmp_path: Path
) -> None:
    rows = [
        ["540001", f"S{n}", "x", "12", "1/5/2011 10:00", "0.85", "14000", "UK"] for n in range(7)
    ] + [
        [
            "540001",
            "PADS",
            "PADS TO MATCH ALL CUSHIONS",
            "100",
            "1/5/2011 10:00",
            "0.001",
            "14000",
            "UK",
        ]
    ]

    summary = import_file(db, "orders", write_csv(tmp_path / "s.csv", UCI_HEADER, rows))

    order = _order(db, "540001")
    assert order is not None and len(order.lines) == 8
    assert order.lines[-1].amount_fen == 10  # 100 × 0.001 = 0.10
    assert order.total_fen == 7 * 12 * 85 + 10
    (warning,) = report_of(summary)
    assert (warning["row"], warning["outcome"], warning["value"]) == ("9", "warning", "0.001")
    assert summary.rows_rejected == 0


def test_identical_lines_of_one_order_are_separate_lines(db: Database, tmp_path: Path) -> None:
    rows = [["7", "A", "a", "1", "1/5/2011 10:00", "2.00", "", "UK"]] * 3

    summary = import_file(db, "orders", write_csv(tmp_path / "s.csv", UCI_HEADER, rows))

    order = _order(db, "7")
    assert order is not None and [ln.line_no for ln in order.lines] == [1, 2, 3]
    assert (summary.rows_accepted, order.total_fen) == (3, 600)


def test_sign_up_is_the_earliest_evidence_whatever_the_row_order(
    db: Database, tmp_path: Path
) -> None:
    rows = [
        ["3", "A", "a", "1", "3/1/2011 10:00", "1.00", "17850", "UK"],
        ["1", "A", "a", "1", "1/1/2011 10:00", "1.00", "17850", "UK"],
        ["2", "A", "a", "1", "2/1/2011 10:00", "1.00", "17850", "UK"],
    ]

    import_file(db, "orders", write_csv(tmp_path / "s.csv", UCI_HEADER, rows))
    earlier = [["0", "A", "a", "1", "12/1/2010 10:00", "1.00", "17850", "UK"]]
    import_file(db, "orders", write_csv(tmp_path / "older.csv", UCI_HEADER, earlier))

    first = _order(db, "0")
    assert first is not None and first.customer_id is not None
    member = db.read(lambda s: customers.get_customer(session=s, customer_id=first.customer_id))
    assert member is not None
    assert member.signed_up_at == datetime(2010, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


# ---------------------------------------------------------------- the Chinese till's file


def _till_rows() -> list[list[str]]:
    return [
        # a sale in three date formats, with thousands separators
        ["T1001", "2024-03-01 10:05:00", "上海南京路店", "13800138000", "TV55", "电视机", "1",
         "4,299.00", "4,299.00", "已完成", "", "", "小李", "微信支付"],
        ["T1001", "2024-03-01 10:05:00", "上海南京路店", "13800138000", "HDMI", "高清线", "2",
         "19.90", "39.80", "已完成", "", "", "小李", "微信支付"],
        ["T1002", "2024/3/2 11:00", "杭州西湖店", "13900139000", "MILK", "纯牛奶", "2", "6.50",
         "13.00", "已退款", "", "", "小王", "支付宝"],
        ["T1003", "2024年3月3日 12时30分", "上海南京路店", "", "RICE", "大米", "1", "59.00",
         "59.00", "部分退款", "退款成功", "20.00", "小李", "现金"],
        ["T1003", "2024年3月3日 12时30分", "上海南京路店", "", "OIL", "食用油", "1", "39.90",
         "39.90", "部分退款", "无", "", "小李", "现金"],
        # the same SKU twice on one ticket: two lines
        ["T1004", "2024-03-04 09:00:00", "杭州西湖店", "13800138000", "EGG", "鸡蛋", "1", "12.00",
         "12.00", "交易成功", "", "", "小王", "微信支付"],
        ["T1004", "2024-03-04 09:00:00", "杭州西湖店", "13800138000", "EGG", "鸡蛋", "1", "12.00",
         "12.00", "交易成功", "", "", "小王", "微信支付"],
        # line flaws: the quantity missing, an amount in words; the order keeps its good line
        ["T1005", "2024-03-05 15:00:00", "上海南京路店", "13700137000", "APPLE", "苹果", "",
         "8.00", "8.00", "已完成", "", "", "小李", "现金"],
        ["T1005", "2024-03-05 15:00:00", "上海南京路店", "13700137000", "PEAR", "梨", "1", "十二元",
         "", "已完成", "", "", "小李", "现金"],
        ["T1005", "2024-03-05 15:00:00", "上海南京路店", "13700137000", "BREAD", "面包", "1",
         "9.50", "9.50", "已完成", "", "", "小李", "现金"],
        # never a sale
        ["T1006", "2024-03-06 16:00:00", "杭州西湖店", "13900139000", "TEA", "茶叶", "1", "88.00",
         "88.00", "已取消", "", "", "小王", "微信支付"],
        ["T1007", "2024-03-06 17:00:00", "杭州西湖店", "", "TEA", "茶叶", "1", "88.00", "88.00",
         "交易关闭", "", "", "小王", "微信支付"],
    ]  # fmt: skip


def test_a_chinese_tills_gbk_export_imports_with_its_stores_statuses_and_flaws(
    db: Database, tmp_path: Path
) -> None:
    rows = _till_rows()
    totals = ["合计", "", "", "", "", "", "9", "", "4,669.10"]
    path = write_till_export(tmp_path / "销售明细.csv", TILL_HEADER, rows, totals=totals)

    summary = import_file(db, "orders", path, create_stores=True, lang="zh")

    assert summary.encoding == "gb18030" and summary.header_row == 2
    assert sorted(summary.created_stores) == ["上海南京路店", "杭州西湖店"]
    assert (summary.rows_read, summary.rows_accepted, summary.rows_rejected) == (12, 8, 2)
    assert summary.no_sale == 2 and summary.refunds == 2
    tv = _order(db, "T1001")
    assert tv is not None and tv.store_code == "上海南京路店" and tv.total_fen == 433880
    assert (tv.cashier, tv.payment_method) == ("小李", "wechat_pay")
    milk = _order(db, "T1002")  # refunded: its sale, and a refund of all of it
    assert milk is not None and milk.store_code == "杭州西湖店"
    assert (milk.total_fen, milk.refunded_fen) == (1300, 1300)
    rice = _order(db, "T1003")  # partly refunded: the line its after-sale status names
    assert rice is not None and (rice.total_fen, rice.refunded_fen) == (9890, 2000)
    assert [ln.refunded_fen for ln in rice.lines] == [2000, 0]
    eggs = _order(db, "T1004")
    assert eggs is not None and [ln.sku for ln in eggs.lines] == ["EGG", "EGG"]
    bread = _order(db, "T1005")
    assert bread is not None and [ln.sku for ln in bread.lines] == ["BREAD"]
    assert _order(db, "T1006") is None and _order(db, "T1007") is None
    report = report_of(summary)
    assert [(r["row"], r["column"], r["value"], r["outcome"]) for r in report] == [
        ("10", "数量", "", "拒收"),
        ("11", "单价(元)", "十二元", "拒收"),
    ]
    assert report[0]["reason"] == "数量为空" and report[1]["reason"] == "十二元 不是数字"
    rec = summary.reconciliation
    assert rec is not None and rec.balanced
    by_store = {line.key: line for line in rec.by_store}
    assert by_store["上海南京路店"].patron.net_fen == 433880 + 9890 - 2000 + 950
    assert by_store["杭州西湖店"].patron.net_fen == 1300 - 1300 + 2400
    (said,) = rec.totals_rows
    assert said["says_fen"] == 466910


def test_an_unknown_store_rejects_its_rows_with_one_message_per_store(
    db: Database, tmp_path: Path
) -> None:
    db.write(
        lambda s: catalog.create_store(
            session=s, store_in=StoreCreate(code="SH01", name="上海南京路店")
        )
    )
    path = write_till_export(tmp_path / "t.csv", TILL_HEADER, _till_rows())

    summary = import_file(db, "orders", path)

    # 上海南京路店 is found by its name; 杭州西湖店 is unknown.
    tv = _order(db, "T1001")
    assert tv is not None and tv.store_code == "SH01"
    assert [(p.store, p.rows) for p in summary.unknown_stores] == [("杭州西湖店", 3)]
    assert _order(db, "T1002") is None and _order(db, "T1004") is None
    assert summary.reconciliation is not None and summary.reconciliation.balanced


def test_a_store_column_mapped_by_hand_is_matched_by_name(db: Database, tmp_path: Path) -> None:
    for code, name in (("SH01", "上海南京路店"), ("HZ01", "杭州西湖店")):
        db.write(
            lambda s, c=code, n=name: catalog.create_store(
                session=s, store_in=StoreCreate(code=c, name=n)
            )
        )
    header = ["小票号", "时间", "店", "商品", "数量", "价格"]
    rows = [["A1", "2024-03-01", "杭州西湖店", "X", "1", "1.00"]]
    mapping = {"order_id": "小票号", "ordered_at": "时间", "store_code": "店", "sku": "商品",
               "quantity": "数量", "unit_price": "价格"}  # fmt: skip

    import_file(db, "orders", write_csv(tmp_path / "m.csv", header, rows), mapping=mapping)

    order = _order(db, "A1")
    assert order is not None and order.store_code == "HZ01"


def test_a_status_patron_does_not_know_rejects_its_order_until_it_is_named(
    db: Database, tmp_path: Path
) -> None:
    header = ["订单号", "商品编码", "数量", "单价", "下单时间", "订单状态"]
    rows = [["W1", "A", "1", "8.00", "2024-01-01 10:00", "已核销"]]
    path = write_csv(tmp_path / "w.csv", header, rows)

    refused = import_file(db, "orders", path)
    named = import_file(db, "orders", path, force=True, status_map={"已核销": "completed"})

    (reject,) = report_of(refused)
    assert reject["column"] == "订单状态" and "--status" in reject["reason"]
    assert named.rows_accepted == 1 and _order(db, "W1") is not None


def test_amounts_in_another_currency_need_the_users_word(db: Database, tmp_path: Path) -> None:
    header = ["order id", "sku", "qty", "price", "date"]
    path = write_csv(tmp_path / "p.csv", header, [["P1", "A", "2", "£3.50", "2024-01-01"]])

    with pytest.raises(CurrencyNotConfirmed) as refused:
        import_file(db, "orders", path)
    summary = import_file(db, "orders", path, currency="GBP")

    assert refused.value.facts["file_currency"] == "GBP"
    order = _order(db, "P1")
    assert summary.currency == "GBP" and order is not None and order.total_fen == 700
    assert order.currency == "GBP"


def test_the_sheet_a_user_names_is_the_one_read(db: Database, tmp_path: Path) -> None:
    header = ["订单号", "商品编码", "数量", "单价", "下单时间"]
    path = write_workbook(
        tmp_path / "two.xlsx",
        {
            "三月": [header, ["M1", "A", 1, 1.5, datetime(2024, 3, 1, 10)]],
            "四月": [header, ["A1", "A", 2, 1.5, datetime(2024, 4, 1, 10)]],
        },
    )

    first = import_file(db, "orders", path)
    named = import_file(db, "orders", path, sheet="四月", force=True)

    assert (first.sheet, named.sheet) == ("三月", "四月")
    assert _order(db, "M1") is not None and _order(db, "A1") is not None


# ---------------------------------------------------------------------- the reconciliation


def test_the_reconciliation_fails_loudly_when_a_row_is_lost_without_a_reason(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from patron.imports import cli
    from patron.orders.schemas import OrderIn

    record = orders.record_orders

    def drop_a_line(**kwargs: object) -> object:
        # The fault: the first order with two lines loses its second, and nobody says so.
        batch: list[OrderIn] = list(kwargs.pop("orders_in"))  # type: ignore[arg-type]
        for n, order_in in enumerate(batch):
            if len(order_in.lines) > 1:
                batch[n] = order_in.model_copy(update={"lines": order_in.lines[:1]})
                break
        return record(orders_in=batch, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(orders, "record_orders", drop_a_line)
    path = write_till_export(tmp_path / "t.csv", TILL_HEADER, _till_rows())

    summary = import_file(db, "orders", path, create_stores=True)

    assert summary.outcome == "unbalanced"
    rec = summary.reconciliation
    assert rec is not None and not rec.balanced
    # The newest order with two lines lost one (T1004's second 12.00 egg): found to the fen.
    assert (rec.total.difference_fen, rec.total.difference_rows) == (1200, 1)
    by_day = {line.key: line.difference_fen for line in rec.by_day}
    assert by_day["2024-03-04"] == 1200 and sum(by_day.values()) == 1200

    monkeypatch.setenv("PATRON_DATABASE_URL", db.url)
    get_settings.cache_clear()
    fresh = [["X" + row[0], *row[1:]] for row in _till_rows()[:3]]
    again = write_till_export(tmp_path / "again.csv", TILL_HEADER, fresh)
    result = CliRunner().invoke(cli.app, ["orders", str(again), "--create-stores"])
    assert result.exit_code == cli.EXIT_UNBALANCED
    assert "未对平" in result.output


def test_the_orders_written_carry_their_run(db: Database, tmp_path: Path) -> None:
    rows = [["1", "A", "a", "2", "2024-01-01", "1.50", "17850", "UK"]]
    summary = import_file(db, "orders", write_csv(tmp_path / "s.csv", UCI_HEADER, rows))

    held = db.read(
        lambda s: s.scalar(
            select(func.count()).select_from(Order).where(Order.import_run_id == summary.run_id)
        )
    )
    assert held == 1
