"""``patron import``: exit codes, the summary table, the report path."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from patron.core.db import get_database
from patron.core.migrate import upgrade
from patron.imports.cli import app
from tests.imports.helpers import UCI_HEADER, write_csv

runner = CliRunner()


@pytest.fixture(autouse=True)
def _database() -> None:
    upgrade(get_database())


def test_completed_import_with_rejects_exits_zero_and_names_the_report(tmp_path: Path) -> None:
    rows = [
        ["1", "A", "a", "2", "2024-01-01", "1.50", "17850", "UK"],
        ["2", "A", "a", "two", "2024-01-01", "1.50", "", "UK"],
    ]
    path = write_csv(tmp_path / "sales.csv", UCI_HEADER, rows)

    result = runner.invoke(app, ["orders", str(path), "--batch-rows", "1", "--lang", "en"])

    assert result.exit_code == 0, result.output
    for label in ("Read", "Accepted", "Rejected", "Duplicates", "Refunds", "Anonymous", "Lines/s"):
        assert label in result.output
    assert "Balanced" in result.output
    # Rich wraps a long path at the terminal's width: compare without the line breaks
    assert "sales.orders-run1.rejects.csv" in "".join(result.output.split())
    assert (tmp_path / "sales.orders-run1.rejects.csv").exists()

    again = runner.invoke(app, ["orders", str(path), "--lang", "en"])

    assert again.exit_code == 0
    assert "Already imported" in again.output


def test_the_summary_and_the_report_are_in_chinese_by_default(tmp_path: Path) -> None:
    rows = [
        ["1", "A", "a", "2", "2024-01-01", "1.50", "17850", "UK"],
        ["2", "A", "a", "two", "2024-01-01", "1.50", "", "UK"],
    ]
    path = write_csv(tmp_path / "sales.csv", UCI_HEADER, rows)

    result = runner.invoke(app, ["orders", str(path)])

    assert result.exit_code == 0, result.output
    for label in ("读取", "接受", "拒收", "对账", "已对平"):
        assert label in result.output, label
    report = (tmp_path / "sales.orders-run1.rejects.csv").read_text("utf-8-sig").splitlines()
    assert report[0].startswith("行号")
    assert report[1] == "3,Quantity,two,拒收,two 不是数字"


def test_missing_columns_exit_non_zero_with_the_headers_found(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "odd.csv", ["单据", "物品"], [["1", "A"]])

    result = runner.invoke(app, ["orders", str(path)])

    assert result.exit_code == 1
    assert "'单据', '物品'" in result.output and "文件缺少这些列" in result.output
    assert "Traceback" not in result.output


def test_map_options_and_mapping_file_name_columns(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "odd.csv",
        ["单据", "物品", "件", "价", "时刻"],
        [["1", "A", "1", "2", "2024-01-01"]],
    )
    mapping = tmp_path / "map.toml"
    mapping.write_text('[orders]\norder_id = "单据"\nsku = "物品"\n', "utf-8")

    result = runner.invoke(
        app,
        [
            "orders",
            str(path),
            "--mapping-file",
            str(mapping),
            "--map",
            "quantity=件",
            "--map",
            "unit_price=价",
            "--map",
            "ordered_at=时刻",
            "--lang",
            "en",
        ],
    )

    assert result.exit_code == 0, result.output
    assert "Accepted" in result.output


def test_a_malformed_map_option_is_a_usage_error(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "s.csv", UCI_HEADER, [["1", "A", "a", "1", "2024-01-01", "1", "", ""]]
    )

    result = runner.invoke(app, ["orders", str(path), "--map", "order_id"])

    assert result.exit_code == 2
    assert "--map 字段=列名" in result.output
    english = runner.invoke(app, ["orders", str(path), "--map", "order_id", "--lang", "en"])
    assert english.exit_code == 2 and "write --map FIELD=COLUMN" in english.output


def test_empty_and_missing_files_exit_non_zero(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")

    empty_result = runner.invoke(app, ["customers", str(empty)])
    missing = runner.invoke(app, ["customers", str(tmp_path / "nope.csv"), "--lang", "en"])

    # Rich wraps its output at the terminal's width, mid-phrase if the path before it is long
    assert empty_result.exit_code == 1 and "文件为空" in "".join(empty_result.output.split())
    assert missing.exit_code == 1 and "no such file" in " ".join(missing.output.split())
