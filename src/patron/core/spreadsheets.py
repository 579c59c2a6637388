"""Values written into files people open in Excel or WPS: exports and import reports.

A cell whose text begins with ``=``, ``+``, ``-`` or ``@`` is a formula to a spreadsheet,
and one beginning with a tab or a carriage return can become one: a customer who signs up
as ``=HYPERLINK("http://…","点此")`` must not hand staff a live link, nor ``=cmd|…`` a
command. As the OWASP page on CSV injection recommends, such text is written with a single
quote in front, which spreadsheets show as text. Plain numbers (``-5``, ``+1.5``) are left
as they are: they are no formula.

Control characters other than tab, line feed and carriage return cannot be stored in an
Excel cell at all (openpyxl refuses the whole file); they are dropped.

Sheet titles have rules of their own (at most 31 characters, none of ``[ ] : * ? / \\``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\\x00-\x1f\x7f]")
TITLE_MAX = 31

T = TypeVar("T")


def safe_cell(value: T) -> T | str:
    """``value`` as a spreadsheet should get it: text that would start a formula gets a
    leading single quote, and control characters no cell can hold are dropped; anything else
    (numbers, dates, other text) is returned as is."""
    if not isinstance(value, str):
        return value
    text = _CONTROL.sub("", value)
    if text.startswith(FORMULA_PREFIXES) and not _NUMBER.match(text):
        return "'" + text
    return text


def safe_row(values: Iterable[object]) -> list[object]:
    """Each value of a row through :func:`safe_cell`."""
    return [safe_cell(v) for v in values]


def safe_sheet_title(title: str, default: str = "Sheet") -> str:
    """A worksheet title Excel accepts: forbidden characters become ``_``, no quote at
    either end, at most 31 characters, ``default`` when nothing is left."""
    cleaned = _TITLE_FORBIDDEN.sub("_", title).strip().strip("'")[:TITLE_MAX].strip()
    return cleaned or default
