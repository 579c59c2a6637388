"""Money as integer minor units (fen), quantities as integer thousandths.

One rounding mode, stated: half up, away from zero (四舍五入), applied per line; totals are sums of
already-rounded lines. Decimals are only ever used as rates or as text coming in.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

FEN_PER_YUAN = 100
MILLI = 1000

_STRIP = re.compile(r"[\s,，_¥￥]|CNY|RMB|元", re.IGNORECASE)


def _decimal(text: str | int | float | Decimal, what: str) -> Decimal:
    if isinstance(text, bool):
        raise ValueError(f"{what} must be a number")
    if isinstance(text, Decimal):
        value = text
    elif isinstance(text, int):
        value = Decimal(text)
    elif isinstance(text, float):
        # repr() gives the shortest text that round-trips, so 12.3 stays 12.3.
        value = Decimal(repr(text))
    else:
        cleaned = _STRIP.sub("", text)
        if cleaned.startswith("(") and cleaned.endswith(")"):
            cleaned = "-" + cleaned[1:-1]
        try:
            value = Decimal(cleaned)
        except InvalidOperation:
            raise ValueError(f"{what} {text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{what} {text!r} is not a finite number")
    return value


def yuan_to_fen(text: str | int | float | Decimal) -> int:
    """``"12.50"`` → 1250 exactly. Refuses amounts finer than a fen rather than rounding them."""
    value = _decimal(text, "amount") * FEN_PER_YUAN
    if value != value.to_integral_value():
        raise ValueError(f"amount {text!r} has more than 2 decimal places")
    return int(value)


def fen_to_yuan(fen: int) -> Decimal:
    return (Decimal(fen) / FEN_PER_YUAN).quantize(Decimal("0.01"))


def currency_symbol(currency: str, locale: str = "zh_CN") -> str:
    """The sign a shop writes before its amounts: ¥ for CNY, £, US$ (HK$, NT$ …), or the code."""
    from babel.numbers import get_currency_symbol

    if currency == "CNY":
        return "¥"  # Babel's zh_CN writes ¥ too; en would write CN¥, which no shop does
    try:
        return str(get_currency_symbol(currency, locale=locale))
    except Exception:  # an unknown code: the code itself
        return f"{currency} "


def format_fen(fen: int, currency: str = "CNY") -> str:
    """Minor units with the currency's sign: 123450 → ¥1,234.50 (negative: -¥12.00)."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{currency_symbol(currency)}{abs(fen) // 100:,}.{abs(fen) % 100:02d}"


def parse_quantity(text: str | int | float | Decimal) -> int:
    """A quantity (pieces or kilograms) as integer thousandths: ``"0.455"`` → 455."""
    value = _decimal(text, "quantity") * MILLI
    if value != value.to_integral_value():
        raise ValueError(f"quantity {text!r} has more than 3 decimal places")
    return int(value)


def milli_to_quantity(milli: int) -> Decimal:
    return Decimal(milli) / MILLI if milli % MILLI else Decimal(milli // MILLI)


def line_amount_fen(quantity_milli: int, unit_price_fen: int, discount_fen: int = 0) -> int:
    """quantity × unit price, rounded half up (away from zero) to the fen, less the discount."""
    return round_half_up_div(quantity_milli * unit_price_fen, MILLI) - discount_fen


def round_half_up_div(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half away from zero, in integers (no float, no Decimal)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    return sign * ((2 * abs(numerator) + denominator) // (2 * denominator))


def prorate_fen(total_fen: int, weights: list[int]) -> list[int]:
    """Split ``total_fen`` across ``weights`` so the parts sum exactly to the total.

    Largest-remainder method: each part is floored, and the fen left over go to the parts
    with the largest remainders (ties to the earlier part).
    """
    if not weights:
        return []
    whole = sum(weights)
    if whole == 0:
        parts = [0] * len(weights)
        parts[0] = total_fen
        return parts
    raw = [total_fen * w for w in weights]
    parts = [r // whole for r in raw]
    left = total_fen - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-(raw[i] % whole), i))
    for i in order[:left]:
        parts[i] += 1
    return parts
