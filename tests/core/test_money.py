from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.core.money import (
    format_fen,
    line_amount_fen,
    milli_to_quantity,
    parse_quantity,
    prorate_fen,
    yuan_to_fen,
)


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("12.50", 1250),
        ("12.5", 1250),
        ("0.01", 1),
        ("¥1,234.56", 123456),
        ("￥ 8 元", 800),
        ("-3.20", -320),
        ("(3.20)", -320),
        ("1e2", 10000),
        (12.3, 1230),
        (Decimal("0.07"), 7),
        (5, 500),
    ],
)
def test_yuan_text_becomes_exact_fen(text: object, fen: int) -> None:
    assert yuan_to_fen(text) == fen  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["abc", "", "12.345", "NaN", "inf", "1.2.3"])
def test_amounts_that_are_not_whole_fen_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="amount"):
        yuan_to_fen(text)


def test_float_yuan_is_read_by_its_shortest_text_not_its_binary_value() -> None:
    # 0.1 + 0.2 as a float is 0.30000000000000004; the text a person typed is what counts.
    assert yuan_to_fen(0.29) == 29
    assert yuan_to_fen(1.15) == 115


def test_quantities_are_thousandths() -> None:
    assert parse_quantity("0.455") == 455
    assert parse_quantity("2") == 2000
    assert milli_to_quantity(455) == Decimal("0.455")
    assert milli_to_quantity(2000) == Decimal(2)
    with pytest.raises(ValueError, match="3 decimal"):
        parse_quantity("0.0005")


def test_line_amount_rounds_half_up_once_per_line() -> None:
    # 0.455 kg at 12.99 yuan/kg = 5.91045 yuan → 591 fen
    assert line_amount_fen(455, 1299) == 591
    # 0.5 × 1 fen = 0.5 fen → rounds up to 1
    assert line_amount_fen(500, 1) == 1
    assert line_amount_fen(2000, 1250, discount_fen=300) == 2200


def test_format_fen_shows_yuan() -> None:
    assert format_fen(123456) == "¥1,234.56"
    assert format_fen(-5) == "-¥0.05"


@given(
    total=st.integers(min_value=0, max_value=10**9),
    weights=st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=30),
)
def test_prorated_parts_always_sum_to_the_total(total: int, weights: list[int]) -> None:
    parts = prorate_fen(total, weights)
    assert sum(parts) == total
    assert all(p >= 0 for p in parts)
    whole = sum(weights)
    if whole:
        for part, weight in zip(parts, weights, strict=True):
            # never more than one fen away from the exact share
            assert abs(part * whole - total * weight) < whole


@given(
    qty=st.integers(min_value=1, max_value=10**7),
    price=st.integers(min_value=0, max_value=10**7),
)
def test_line_amount_is_within_half_a_fen_of_the_exact_product(qty: int, price: int) -> None:
    exact = Decimal(qty * price) / 1000
    assert abs(Decimal(line_amount_fen(qty, price)) - exact) <= Decimal("0.5")


@given(fen=st.integers(min_value=-(10**12), max_value=10**12))
def test_fen_survive_a_round_trip_through_yuan_text(fen: int) -> None:
    text = format_fen(fen).replace("¥", "")
    assert yuan_to_fen(text) == fen


@given(
    numerator=st.integers(min_value=-(10**15), max_value=10**15),
    denominator=st.integers(min_value=1, max_value=10**6),
)
def test_integer_rounding_matches_decimal_half_up(numerator: int, denominator: int) -> None:
    from decimal import ROUND_HALF_UP

    from patron.core.money import round_half_up_div

    exact = (Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert round_half_up_div(numerator, denominator) == int(exact)
