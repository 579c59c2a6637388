"""Cell values as shops write them: amounts, quantities, ids, dates.

Plain values (``12.50``, ``3``) take a fast path; anything else (``¥1,299.90``, ``12.80元``,
``(3.00)``, ``0.455``) goes through :mod:`patron.core.money`. A value that cannot be read
raises :class:`CellError` with a code of :mod:`patron.imports.messages`.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from patron.core.clock import as_utc, parse_datetime
from patron.core.money import MILLI, round_half_up_div

_PLAIN_YUAN = re.compile(r"-?\d{1,13}(?:\.\d{1,2})?")
_FLOAT_ID = re.compile(r"(\d+)\.0+")
_STRIP = re.compile(r"[\s,，_¥￥$£€]|CNY|RMB|GBP|USD|EUR|HKD|元|圆", re.IGNORECASE)
_SHELF_LIFE = re.compile(r"(\d+)\s*(天|日|d|days?|个月|月|months?|年|years?|y)?", re.IGNORECASE)
MAX_FEN = 10**13
MAX_MILLI = 10**9  # a million pieces (or kilograms): OrderLineIn's limit


class CellError(ValueError):
    """A cell that cannot be read: ``code`` names why (see imports.messages)."""

    def __init__(self, code: str, **facts: Any) -> None:
        super().__init__(code)
        self.code = code
        self.facts = facts


def ident(text: str) -> str:
    """An id as text; ``17850.0`` (a number that went through a spreadsheet) is ``17850``."""
    text = text.strip()
    if "." in text:
        m = _FLOAT_ID.fullmatch(text)
        if m:
            return m.group(1)
    return text


def decimal(text: str) -> Decimal:
    """A number as a shop writes it: currency signs, thousands separators, units, (negative)."""
    cleaned = _STRIP.sub("", text)
    if cleaned.startswith("(") and cleaned.endswith(")"):
        cleaned = "-" + cleaned[1:-1]
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise CellError("not_a_number") from None
    if not value.is_finite() or not cleaned:
        raise CellError("not_a_number")
    return value


class Money:
    """An amount in yuan read exactly: ``units`` × 10^-``scale`` yuan (``scale`` ≥ 2)."""

    __slots__ = ("scale", "units")

    def __init__(self, units: int, scale: int) -> None:
        self.units = units
        self.scale = scale

    @property
    def finer_than_fen(self) -> bool:
        return self.scale > 2 and self.units % 10 ** (self.scale - 2) != 0

    def fen(self) -> int:
        """In fen, rounded half up (away from zero) when finer."""
        if self.scale == 2:
            return self.units
        return round_half_up_div(self.units, 10 ** (self.scale - 2))

    def times(self, quantity_milli: int) -> int:
        """quantity × this amount, in fen, rounded half up once, at the line's total."""
        if self.scale == 2:
            return round_half_up_div(quantity_milli * self.units, MILLI)
        return round_half_up_div(quantity_milli * self.units, MILLI * 10 ** (self.scale - 2))


def money(text: str) -> Money:
    """``"12.5"`` → 12.50 yuan exactly; ``"0.001"`` keeps its third decimal."""
    if _PLAIN_YUAN.fullmatch(text):
        whole, _, frac = text.partition(".")
        negative = whole.startswith("-")
        units = abs(int(whole)) * 100 + (int(frac) * (10 if len(frac) == 1 else 1) if frac else 0)
        return Money(-units if negative else units, 2)
    value = decimal(text)
    exponent = value.as_tuple().exponent
    scale = max(2, -exponent) if isinstance(exponent, int) else 2
    if scale > 9:
        scale = 9
        value = value.quantize(Decimal(1).scaleb(-9))
    units = int(value.scaleb(scale))
    if abs(units) > MAX_FEN * 10 ** (scale - 2):
        raise CellError("amount_too_large")
    return Money(units, scale)


def fen(text: str) -> int:
    """An amount in fen, rounded half up when the cell is finer than a fen."""
    return money(text).fen()


def quantity_milli(text: str) -> int:
    """A quantity in thousandths: ``"3"`` → 3000, ``"0.455"`` → 455, ``"-2"`` → -2000."""
    digits = text[1:] if text[:1] == "-" else text
    if digits.isdigit() and digits.isascii():
        value = int(text) * MILLI
    else:
        number = decimal(text) * MILLI
        if number != number.to_integral_value():
            raise CellError("quantity_decimals")
        value = int(number)
    if abs(value) > MAX_MILLI:
        raise CellError("quantity_too_large")
    return value


class Dates:
    """Dates and times of one file, read once each (exports repeat them row after row)."""

    def __init__(self, *, day_first: bool, zone: Any) -> None:
        self.day_first = day_first
        self.zone = zone
        self._seen: dict[str, datetime] = {}

    def instant(self, text: str) -> datetime:
        """An aware UTC instant; a time without a zone is wall-clock time in the shop's zone."""
        text = text.strip()
        found = self._seen.get(text)
        if found is not None:
            return found
        if not text:
            raise CellError("date_empty")
        try:
            value = as_utc(parse_datetime(text, day_first=self.day_first), self.zone)
        except ValueError as exc:
            if "--day-first" in str(exc):
                raise CellError("date_day_first") from None
            raise CellError("date_unreadable") from None
        if not 1900 <= value.year <= 2199:
            raise CellError("date_out_of_range")
        if len(self._seen) > 200_000:
            self._seen.clear()
        self._seen[text] = value
        return value


def shelf_life_days(text: str) -> int:
    m = _SHELF_LIFE.fullmatch(text.strip())
    if m is None:
        raise CellError("shelf_life_invalid")
    n, unit = int(m.group(1)), (m.group(2) or "").lower()
    if unit in ("个月", "月", "month", "months"):
        return n * 30
    if unit in ("年", "year", "years", "y"):
        return n * 365
    return n


def format_fen(value: int) -> str:
    """Fen as the yuan figure a report shows: 1234 → 12.34, -5 → -0.05."""
    sign = "-" if value < 0 else ""
    whole, cents = divmod(abs(value), 100)
    return f"{sign}{whole}.{cents:02d}"
